"""Inputs that once escaped the one-``error:``-line rule (issue 20), one test each.

Each checks the exit code, exactly one ``error:`` line, no traceback and that nothing
is left behind. Tiny untrained models drive the commands where a model is needed.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cli_checks import expect_error, expect_ok, leftovers, run
from invimg.datahiding import api as datahiding_api
from invimg.datahiding import frame
from invimg.datahiding.api import capacity
from invimg.datahiding.payload import pack
from invimg.hiding.hinet import HiNet
from invimg.inpainting.api import inpaint
from invimg.inpainting.pdgan import PDGAN
from invimg.interfaces import cli, cli_inpainting, cli_serve
from invimg.inversion.specs import representation
from invimg.zoo import save_pretrained

COVER = Path(cli.__file__).parents[1] / "assets" / "cover.png"


def _tiny_pdgan() -> PDGAN:
    """Size multiple 8: an image padded to 8×8 reaches a 1×1 coarsest level."""
    torch.manual_seed(0)
    prior = {"width": 4, "max_width": 8, "levels": 3}
    net = PDGAN(PDGAN.Config(widths=[8, 8, 8], z_dim=4, hidden=8, prior=prior))
    assert net.size_multiple == 8
    return net


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("regression-assets")
    save_pretrained(HiNet(HiNet.Config(num_blocks=1, growth=4)), d, "hinet", {"task": "hiding"})
    save_pretrained(_tiny_pdgan(), d, "pdgan", {"task": "inpainting"})
    rng = np.random.default_rng(0)
    for w, h in ((1, 1), (7, 9), (7, 7), (16, 18), (40, 32)):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(d / f"{w}x{h}.png")
        hole = np.zeros((h, w), np.uint8)
        hole[h // 4 : h // 2 + 1, w // 4 : w // 2 + 1] = 255
        Image.fromarray(hole).save(d / f"mask{w}x{h}.png")
    Image.open(COVER).convert("RGB").resize((96, 64)).save(d / "cover.png")
    return d


@pytest.fixture
def work(assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for item in assets.iterdir():
        (tmp_path / item.name).write_bytes(item.read_bytes())
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def _nothing_new(work: Path, *names: str) -> None:
    assert not [n for n in names if (work / n).exists()], names
    assert not leftovers(work), leftovers(work)


# -- 1. feature inversion of an image smaller than a HOG cell / a DSIFT descriptor --------


@pytest.mark.parametrize(
    ("image", "features", "fragment"),
    [
        ("1x1.png", "hog", "1×1 image is too small for HOG: each side needs at least 16"),
        ("7x9.png", "hog", "7×9 image is too small for HOG"),
        ("7x9.png", "hog:4", "7×9 image is too small for HOG: each side needs at least 8"),
        ("7x9.png", "hog,dsift", "too small for HOG"),
        ("16x18.png", "dsift", "16×18 image is too small for DSIFT: each side needs at least 42"),
    ],
)
def test_invert_refuses_images_smaller_than_the_representation(
    work: Path, image: str, features: str, fragment: str
) -> None:
    args = ("-o", "pre.png", "--features", features, "--iterations", "2", "--quiet")
    expect_error(run("invert", image, *args), 3, fragment)
    expect_error(run("features", image, "-o", "f.safetensors", "-f", features.split(",")[0]), 3)
    _nothing_new(work, "pre.png", "f.safetensors")


# -- 2. inpainting of images that pad to a single size multiple ---------------------------


@pytest.mark.parametrize("image", ["7x9.png", "7x7.png"])
def test_inpaint_works_on_images_smaller_than_two_size_multiples(work: Path, image: str) -> None:
    size = image.removesuffix(".png")
    args = ("inpaint", image, f"mask{size}.png", "-n", "2", "-o", "out", "--model", "pdgan.json")
    expect_ok(run(*args))
    original = np.asarray(Image.open(work / image))
    hole = np.asarray(Image.open(work / f"mask{size}.png")) > 0
    for name in ("sample_00.png", "sample_01.png"):
        sample = np.asarray(Image.open(work / "out" / name))
        assert sample.shape == original.shape
        assert (sample[~hole] == original[~hole]).all()  # known pixels kept exactly


def test_inpaint_api_on_a_one_by_two_image() -> None:
    image = np.full((1, 2, 3), 128, np.uint8)
    hole = np.array([[True, False]])
    [sample] = inpaint(image, hole, n=1, model=_tiny_pdgan())
    assert sample.shape == (1, 2, 3) and (sample[0, 1] == 128).all()


# -- 3. inpainting into a folder that cannot be written -----------------------------------


def _inpaint_into(folder: str) -> object:
    return run(
        "inpaint", "40x32.png", "mask40x32.png", "-n", "1", "-o", folder, "--model", "pdgan.json"
    )


def test_inpaint_into_an_unwritable_folder_exits_4(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked before any work (as root every folder looks writable: the check is faked)."""
    (work / "locked").mkdir()
    real_access = os.access
    monkeypatch.setattr(
        cli_inpainting.os,
        "access",
        lambda path, mode: (
            real_access(path, mode) and not (Path(path).name == "locked" and mode & os.W_OK)
        ),
    )
    expect_error(_inpaint_into("locked"), 4, "locked", "no permission")
    assert not list((work / "locked").iterdir()) and not leftovers(work)


def test_inpaint_move_that_fails_exits_4_and_cleans_up(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The permission error the issue saw, raised where it was: moving samples into place."""
    (work / "locked").mkdir()

    def refused(src: object, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli_inpainting.os, "replace", refused)
    expect_error(_inpaint_into("locked"), 4, "cannot write samples into locked: Permission denied")
    assert not list((work / "locked").iterdir()) and not leftovers(work)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_inpaint_into_a_read_only_folder_exits_4(work: Path) -> None:
    (work / "locked").mkdir(mode=0o555)
    try:
        expect_error(_inpaint_into("locked"), 4, "no permission")
    finally:
        (work / "locked").chmod(0o755)


# -- 4. Ctrl-C that lands in Typer's own code ---------------------------------------------


def test_interrupt_while_typer_parses_is_still_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """Typer turns such a Ctrl-C into a *silent* exit 130; invimg must still say it."""

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli._OneLineErrors, "make_context", interrupted)
    result = run("capacity", "cover.png")
    expect_error(result, 130, "error: interrupted")
    assert result.stderr == "error: interrupted\n"


# -- 5. capacity is what `embed --file` accepts -------------------------------------------


def _frame_only(cover: object, payload: object, password: object, **options: object) -> object:
    """``embed`` up to its own fit check (the one that refused the file), without the model."""
    rgb = datahiding_api.as_image_tensor(cover, "cover")
    layout = datahiding_api._layout(rgb.shape[-2], rgb.shape[-1], None)
    packed = pack(datahiding_api._as_payload(payload))  # type: ignore[arg-type]
    frame.build(packed, None, layout.latent_count, np.random.default_rng(0))
    return np.asarray(cover)


def test_capacity_is_what_embed_file_accepts(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datahiding_api, "embed", _frame_only)
    limit = capacity(np.asarray(Image.open(work / "cover.png")))
    assert limit > 20
    rng = np.random.default_rng(5)
    shown = run("capacity", "cover.png")
    expect_ok(shown)
    assert f"{limit} bytes" in shown.stdout and "name, 1 byte per UTF-8 byte" in shown.stdout
    (work / "n.bin").write_bytes(rng.bytes(limit - len("n.bin")))  # exactly full
    (work / "big.bin").write_bytes(rng.bytes(limit - len("big.bin") + 1))
    message = expect_error(run("embed", "cover.png", "-f", "big.bin", "-o", "s.png"), 7)
    assert f"it takes {limit + 1} bytes" in message and "7 for the name 'big.bin'" in message
    assert f"holds {limit} bytes" in message
    _nothing_new(work, "s.png")
    result = run("embed", "cover.png", "-f", "n.bin", "-o", "s.png")
    expect_ok(result)
    assert f"({limit - 5} bytes hidden; this cover holds {limit})" in result.stdout


def test_one_byte_is_singular(work: Path) -> None:
    (work / "x").write_bytes(b"\x00")
    result = run("embed", "cover.png", "-f", "x", "-o", "s.png")
    expect_ok(result)
    assert "(1 byte hidden;" in result.stdout


# -- 6. `invimg serve` without the web extra ----------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_without_gradio_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # `import gradio` fails as if absent
    result = run("serve", "--port", str(_free_port()))
    expect_error(result, 2, "Gradio is not installed", "pip install 'invimg[web]'")


def test_serve_with_a_gradio_dependency_missing_says_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli_serve, "require_web_extra", lambda: None)
    monkeypatch.setitem(sys.modules, "gradio", None)
    for name in ("invimg.interfaces.web.server", "invimg.interfaces.web.page"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    result = run("serve", "--port", str(_free_port()))
    expect_error(result, 2, "(gradio is missing)", "pip install 'invimg[web]'")


# -- 7. --features torch:NET calls only what declares it builds a network -----------------


@pytest.mark.parametrize(
    "spec",
    ["torch:os.system:conv1", "torch:builtins.print:", "torch:tinyfactories.unannotated:0"],
)
def test_features_never_call_what_is_not_a_network_factory(
    work: Path, monkeypatch: pytest.MonkeyPatch, spec: str
) -> None:
    calls: list[object] = []

    def system(*args: object) -> int:
        calls.append(args)
        return 0

    monkeypatch.setattr(os, "system", system)
    (work / "tinyfactories.py").write_text(
        "import torch\n"
        "CALLED = []\n"
        "def unannotated():\n"
        "    CALLED.append(1)\n"
        "    return torch.nn.Conv2d(3, 4, 3)\n"
    )
    args = ("-o", "pre.png", "--features", spec, "--iterations", "2", "--quiet")
    expect_error(run("invert", "40x32.png", *args), 2, "refusing to call it")
    assert not calls
    assert sys.modules.get("tinyfactories") is None or not sys.modules["tinyfactories"].CALLED
    sys.modules.pop("tinyfactories", None)
    _nothing_new(work, "pre.png")


def test_annotated_factories_and_module_classes_are_accepted(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (work / "goodnets.py").write_text(
        "from __future__ import annotations\n"
        "import torch\n"
        "from torch import nn\n"
        "def small() -> nn.Module:\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())\n"
        "def needs(width: int) -> nn.Sequential:\n"
        "    return nn.Sequential(nn.Conv2d(3, width, 3))\n"
    )
    monkeypatch.syspath_prepend(str(work))
    assert representation("torch:goodnets.small:0").net is not None
    assert representation("torch:torch.nn.Identity:").net is not None
    with pytest.raises(Exception, match="needs arguments"):
        representation("torch:goodnets.needs:0")
    sys.modules.pop("goodnets", None)


# -- confusing messages -------------------------------------------------------------------


def _png_header_only(path: Path, width: int, height: int) -> None:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
    )


@pytest.mark.parametrize(("side", "count"), [(30_000, "900,000,000"), (9_000, "81,000,000")])
def test_huge_images_quote_one_limit_in_one_wording(work: Path, side: int, count: str) -> None:
    _png_header_only(work / "huge.png", side, side)
    message = expect_error(run("capacity", "huge.png"), 3)
    assert f"{count} pixels exceeds the limit of 67,108,864 (possible" in message
    assert "DOS" not in message


def test_output_that_is_a_directory_says_so(work: Path) -> None:
    (work / "out").mkdir()
    hide = ("hide", "40x32.png", "40x32.png", "--model", "hinet.json", "-o")
    expect_error(run(*hide, "out/"), 4, "cannot write out: it is a directory", "out/result.png")
    assert not list((work / "out").iterdir())


def test_a_pickled_checkpoint_is_one_line_without_torch_warnings(work: Path) -> None:
    import pickle

    (work / "plain.pt").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    result = run("hide", "40x32.png", "40x32.png", "-o", "s.png", "--model", "plain.pt")
    expect_error(result, 5, "cannot read checkpoint plain.pt")
    assert result.stderr.count("\n") == 1, result.stderr
    _nothing_new(work, "s.png")
