"""The command line under bad input: one ``error:`` line, the documented exit code,
no traceback, no output left behind and no existing file touched.

Exit codes (``invimg.interfaces.cli``): 2 usage, 3 input image, 4 output path,
5 model/weights, 6 config, 130 interrupted. Tiny untrained models drive the
commands; nothing here needs a shipped model.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cli_checks import expect_error, expect_ok, leftovers, run
from invimg.hiding.hinet import HiNet
from invimg.interfaces import cli, entry
from invimg.io import read_png_metadata
from invimg.rescaling.irn import IRN
from invimg.zoo import save_pretrained
from invimg.zoo.cards import sha256_of

# -- fixtures ----------------------------------------------------------------------


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_by_hand(path: Path, width: int, height: int, depth: int, raw: bytes) -> None:
    """A PNG with any header (Pillow will not write a 16-bit RGB or a lying header)."""
    header = struct.pack(">IIBBBBB", width, height, depth, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw))
        + _chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny models, good images and every kind of bad input, made once."""
    d = tmp_path_factory.mktemp("assets")
    hinet = HiNet(HiNet.Config(num_blocks=1, growth=4))
    save_pretrained(hinet, d, "hinet", {"task": "hiding"})
    save_pretrained(IRN(IRN.Config(scale=2, blocks=1, growth=4)), d, "irn", {"task": "rescaling"})
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(d / "a.png")
    Image.fromarray(rgb[::-1]).save(d / "b.png")
    Image.fromarray(rgb[:1, :1]).save(d / "1x1.png")
    Image.fromarray(rgb[:5, :3]).save(d / "3x5.png")
    Image.fromarray(rgb[..., 0]).save(d / "grey.jpg")
    rgba = np.dstack([rgb, np.full((16, 16), 255, np.uint8)])
    rgba[:4, :4, 3] = 0
    Image.fromarray(rgba, "RGBA").save(d / "rgba.png")
    rgb16 = rng.integers(0, 65536, (8, 8, 3), dtype=np.uint16)
    raw16 = b"".join(b"\0" + row.astype(">u2").tobytes() for row in rgb16)
    _png_by_hand(d / "rgb16.png", 8, 8, 16, raw16)
    _png_by_hand(d / "huge.png", 100_000, 100_000, 8, b"\0" * 64)  # a lying header
    data = (d / "a.png").read_bytes()
    (d / "truncated.png").write_bytes(data[: len(data) // 2])
    (d / "empty.png").write_bytes(b"")
    (d / "text.png").write_text("not an image\n")
    # broken models
    card = json.loads((d / "hinet.json").read_text())

    def card_as(name: str, **fields: object) -> None:
        (d / f"{name}.json").write_text(json.dumps({**card, "name": name, **fields}))

    corrupt = bytearray((d / "hinet.safetensors").read_bytes())
    corrupt[:8] = b"\xff" * 8
    (d / "corrupt.safetensors").write_bytes(bytes(corrupt))
    card_as(
        "corrupt",
        weights="corrupt.safetensors",
        sha256=sha256_of(d / "corrupt.safetensors"),
    )
    card_as("gone", weights="gone.safetensors")
    card_as("wide", config={**card["config"], "growth": 8})  # weights are for growth 4
    card_as("typo", config={**card["config"], "num_blocks": "two"})
    card_as("escape", weights="../hinet.safetensors")
    (d / "list.json").write_text("[1, 2]")
    return d


@pytest.fixture
def work(assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh folder holding copies of the assets; the current directory."""
    for item in assets.iterdir():
        shutil.copy(item, tmp_path / item.name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


# -- input images ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "fragment"),
    [
        ("truncated.png", "truncated"),
        ("empty.png", "empty (0 bytes)"),
        ("text.png", "not a recognised image"),
        ("huge.png", "refusing input image"),
        ("missing.png", "does not exist"),
    ],
)
def test_unusable_input_image_exits_3(work: Path, image: str, fragment: str) -> None:
    expect_error(run("hide", image, "a.png", "-o", "s.png", "--model", "hinet.json"), 3, fragment)
    expect_error(run("downscale", image, "-o", "s.png", "--model", "irn.json"), 3, fragment)
    assert not (work / "s.png").exists() and not leftovers(work)


@pytest.mark.parametrize(
    ("image", "warning"),
    [
        ("rgba.png", "16 of 256 pixels are transparent or translucent; composited over white"),
        ("grey.jpg", "grayscale image replicated to 3 RGB channels"),
        (
            "rgb16.png",
            "16-bit image; used at full precision, but the result is written with 8 bits",
        ),
    ],
)
def test_converted_inputs_work_with_one_warning(work: Path, image: str, warning: str) -> None:
    stderr = expect_ok(run("downscale", image, "-o", "lr.png", "--model", "irn.json"))
    lines = [line for line in stderr.splitlines() if line]
    assert len(lines) == 1 and lines[0].startswith(f"warning: {image}: {warning}"), lines
    assert (work / "lr.png").is_file()


def test_odd_sizes_round_trip(work: Path) -> None:
    expect_ok(run("downscale", "3x5.png", "-o", "lr.png", "--model", "irn.json"))
    assert Image.open(work / "lr.png").size == (2, 3)
    expect_ok(run("upscale", "lr.png", "-o", "hr.png"))
    assert Image.open(work / "hr.png").size == (3, 5)
    expect_ok(run("hide", "3x5.png", "3x5.png", "-o", "s.png", "--model", "hinet.json"))
    assert Image.open(work / "s.png").size == (3, 5)


def test_a_1x1_image_is_too_small_to_downscale_or_to_hide_in(work: Path) -> None:
    """Both used to "work": a ×2 LR image of 1×1, a cover that keeps nothing of the secret."""
    expect_error(run("downscale", "1x1.png", "-o", "lr.png", "--model", "irn.json"), 3, "×2")
    hide = ("hide", "1x1.png", "a.png", "-o", "s.png", "--model", "hinet.json")
    expect_error(run(*hide), 3, "too small to hide anything", "at least 2 px")
    assert not (work / "lr.png").exists() and not (work / "s.png").exists()


# -- outputs -----------------------------------------------------------------------


def test_output_rules(work: Path) -> None:
    hide = ("hide", "a.png", "b.png", "--model", "hinet.json")
    expect_error(run(*hide, "-o", "nowhere/s.png"), 4, "directory", "does not exist")
    assert not (work / "nowhere").exists()
    (work / "s.png").write_bytes(b"precious")
    expect_error(run(*hide, "-o", "s.png"), 4, "already exists", "--force")
    assert (work / "s.png").read_bytes() == b"precious"
    expect_error(run(*hide, "-o", "a.png"), 4, "refusing to overwrite input image")
    expect_error(run(*hide, "-o", "s.jpg"), 2, "JPEG", "lossy")
    expect_error(run(*hide, "-o", "s.gif"), 4, "unsupported output type .gif")
    assert not (work / "s.jpg").exists() and not (work / "s.gif").exists()
    assert (work / "s.png").read_bytes() == b"precious" and not leftovers(work)
    expect_ok(run(*hide, "-o", "s.png", "--force"))
    assert read_png_metadata(work / "s.png")["invimg:task"] == "hiding"


def test_interrupt_leaves_no_partial_file(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("invimg.io.writing._publish", interrupted)
    expect_error(run("hide", "a.png", "b.png", "-o", "s.png", "--model", "hinet.json"), 130)
    assert not (work / "s.png").exists() and not leftovers(work)


def test_interrupt_while_importing_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_register_commands", interrupted)
    try:
        cli.main()
    except KeyboardInterrupt:  # would be a traceback for the user
        pytest.fail("Ctrl-C escaped invimg's main()")
    except SystemExit as exc:
        assert exc.code == 130
    else:
        pytest.fail("main() returned after Ctrl-C")
    assert capsys.readouterr().err == "error: interrupted\n"


def test_interrupt_while_the_command_line_is_imported_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The console script's own module catches Ctrl-C before Typer and torch load."""

    class InterruptImport:
        def find_spec(self, name: str, *args: object) -> None:
            if name == "invimg.interfaces.cli":
                raise KeyboardInterrupt

    monkeypatch.delitem(sys.modules, "invimg.interfaces.cli")
    monkeypatch.setattr(sys, "meta_path", [InterruptImport(), *sys.meta_path])
    with pytest.raises(SystemExit) as exited:
        entry.main()
    assert exited.value.code == 130
    assert capsys.readouterr().err == "error: interrupted\n"


# -- models ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        ("corrupt.json", "cannot read weights"),
        ("corrupt.safetensors", "cannot read weights"),
        ("gone.json", "is missing"),
        ("wide.json", "do not fit"),
        ("typo.json", "num_blocks must be an integer, got 'two'"),
        ("escape.json", "must be a file name beside the card"),
        ("list.json", "is not a JSON object"),
        ("irn.json", "(IRN) is not a hiding model"),
        ("nosuch.json", "no model 'nosuch.json'"),
    ],
)
def test_bad_model_exits_5(work: Path, model: str, fragment: str) -> None:
    result = run("hide", "a.png", "b.png", "-o", "s.png", "--model", model)
    expect_error(result, 5, fragment)
    assert not (work / "s.png").exists()


def test_model_for_another_task_exits_5(work: Path) -> None:
    expect_error(run("downscale", "a.png", "-o", "lr.png", "--model", "hinet.json"), 5, "HiNet")
    expect_error(run("eval", "rescaling", ".", "--model", "hinet.json"), 5, "HiNet")


# -- usage -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("hide", "a.png", "-o", "s.png"), "Missing argument"),
        (("hide", "a.png", "b.png", "-o", "s.png", "--forc"), "No such option: --forc"),
        (("nosuchcommand",), "No such command"),
        (("train", "hiding"), "Missing option '--config'"),
        (("reveal", "a.png", "-o", "r.png", "--model", "hinet.json", "--z", "foo"), "--z"),
        (("upscale", "a.png", "-o", "r.png", "--model", "irn.json", "--z", "foo"), "--z"),
        (("downscale", "a.png", "-o", "r.png", "-x", "0"), "--scale"),
        (("hide", "a.png", "a.png", "b.png", "-o", "s.png", "--model", "hinet.json"), "exactly 1"),
        (("eval", "hiding", ".", "--model", "hinet.json", "--size", "12x"), "size must be"),
        (("export", ".", "--name", "../x"), "--name must be a plain file name"),
    ],
)
def test_usage_errors_are_one_line_exit_2(work: Path, args: tuple[str, ...], fragment: str) -> None:
    expect_error(run(*args), 2, fragment)
    assert not (work / "s.png").exists() and not (work / "r.png").exists()


# -- metadata ----------------------------------------------------------------------


def test_reveal_warns_about_a_stego_without_metadata(work: Path) -> None:
    result = run("reveal", "a.png", "-o", "r.png")  # no metadata: falls back to the default
    stderr = result.stderr
    assert stderr.startswith("warning: a.png carries no `invimg hide` metadata"), stderr
    if result.exit_code:
        expect_error(result, 5, "hinet-small")  # the default model is not shipped (yet)


def test_card_paths_are_recorded_absolute(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expect_ok(run("downscale", "a.png", "-o", "lr.png", "--model", "irn.json"))
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a relative card path would no longer resolve here
    expect_ok(run("upscale", "../lr.png", "-o", "hr.png"))
    (work / "irn.json").unlink()
    expect_error(run("upscale", "../lr.png", "-o", "hr2.png"), 5, "no longer exists")


# -- train, eval, export, demo -----------------------------------------------------


def test_train_config_errors_exit_6(work: Path) -> None:
    expect_error(run("train", "hiding", "--config", "nosuch"), 6, "no recipe 'nosuch'")
    bad = ("train", "hiding", "--config", "hinet-small-cpu", "--set")
    expect_error(run(*bad, "garbage"), 6, "expected key=value")
    expect_error(run(*bad, "model.num_blocks=two"), 6, "'model.num_blocks': expected an integer")
    expect_error(run(*bad, "model.architecture=irn"), 6, "model.architecture must be one of")
    rescaling = ("train", "rescaling", "--config", "irn-x2-small-cpu", "--set")
    expect_error(run(*rescaling, "model.blocks=two"), 6, "'model.blocks': expected an integer")
    assert not (work / "runs").exists()


def test_eval_errors(work: Path) -> None:
    (work / "empty").mkdir()
    for task, model, fragment in (
        ("hiding", "hinet.json", "need at least 2 images, found 0"),
        ("rescaling", "irn.json", "no images"),
    ):
        expect_error(run("eval", task, "nosuch", "--model", model), 3, "does not exist")
        expect_error(run("eval", task, "a.png", "--model", model), 3, "is not a folder")
        expect_error(run("eval", task, "empty", "--model", model), 3, fragment)
    expect_error(run("eval", "hiding", ".", "--model", "hinet.json", "--z", "x"), 2, "--z")
    # the report's path is checked before minutes of evaluation, not after
    expect_error(run("eval", "rescaling", ".", "--json", "nowhere/r.json"), 4, "does not exist")
    (work / "r.json").write_text("keep")
    expect_error(run("eval", "rescaling", ".", "--json", "r.json"), 4, "already exists")
    assert (work / "r.json").read_text() == "keep"


def test_export_errors(work: Path) -> None:
    run_dir = work / "run"
    run_dir.mkdir()
    expect_error(run("export", "nosuch", "--name", "m"), 6, "does not exist")
    expect_error(run("export", "run", "--name", "m"), 6, "no last.pt")
    expect_error(run("export", "run", "--name", "m", "--out", "nowhere"), 4, "does not exist")
    (work / "card.json").write_text("{broken")
    expect_error(run("export", "run", "--name", "m", "--card", "card.json"), 6, "not valid JSON")
    expect_error(run("export", "run", "--name", "m", "--card", "nosuch.json"), 6, "cannot read")
    (run_dir / "last.pt").write_bytes(b"garbage")
    shutil.copy(cli_recipe("hinet-small-cpu"), run_dir / "config.yaml")
    message = expect_error(run("export", "run", "--name", "m"), 5, "unreadable or corrupted")
    assert "weights_only" not in message  # not torch's advice to load unsafely
    (work / "m.json").write_text("keep")
    expect_error(run("export", "run", "--name", "m"), 4, "already exists")
    assert (work / "m.json").read_text() == "keep" and not (work / "m.safetensors").exists()


def cli_recipe(name: str) -> Path:
    from invimg.interfaces.cli_train import RECIPES

    return RECIPES / f"{name}.yaml"


def test_demo_twice_and_bad_demo_outputs(work: Path) -> None:
    demo = ("demo", "--model", "hinet.json", "--out")
    expect_error(run("demo", "--model", "irn.json", "--out", "d0"), 5, "not a hiding model")
    expect_error(run(*demo, "nowhere/d"), 4, "does not exist")
    expect_error(run(*demo, "a.png"), 4, "not a folder")
    assert not (work / "d0").exists() and not (work / "nowhere").exists()
    expect_ok(run(*demo, "d"))
    stego = (work / "d" / "stego.png").read_bytes()
    (work / "d" / "stego.png").write_bytes(b"mine")
    expect_error(run(*demo, "d"), 4, "--force")
    assert (work / "d" / "stego.png").read_bytes() == b"mine"
    expect_ok(run(*demo, "d", "--force"))
    assert (work / "d" / "stego.png").read_bytes() == stego


# -- the real script ---------------------------------------------------------------


def _script() -> list[str]:
    found = shutil.which("invimg")
    return [found] if found else [sys.executable, "-m", "invimg"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("hide", "truncated.png", "a.png", "-o", "s.png", "--model", "hinet.json"), 3),
        (("hide", "a.png", "-o", "s.png"), 2),
    ],
)
def test_script_prints_one_line_and_no_traceback(
    work: Path, args: tuple[str, ...], code: int
) -> None:
    done = subprocess.run(
        [*_script(), *args], capture_output=True, text=True, cwd=work, timeout=120, check=False
    )
    assert done.returncode == code, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert not (work / "s.png").exists()
