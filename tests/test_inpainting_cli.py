"""``invimg inpaint`` end to end with a tiny model: outputs, and bad inputs as one error line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from invimg.inpainting.pdgan import PDGAN
from invimg.interfaces.cli import _register_commands, app
from invimg.io import read_png_metadata
from invimg.zoo import save_pretrained

_register_commands()


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("inpaint-assets")
    torch.manual_seed(0)
    net = PDGAN(
        PDGAN.Config(
            widths=[8, 8, 8], z_dim=4, hidden=8, prior={"width": 4, "max_width": 8, "levels": 3}
        )
    )
    torch.nn.init.normal_(net.to_image.weight, std=0.2)
    save_pretrained(net, d, "tiny-pdgan", {"task": "inpainting"})
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)
    Image.fromarray(photo).save(d / "photo.png")
    mask = np.zeros((24, 40), np.uint8)
    mask[6:18, 10:30] = 255
    Image.fromarray(mask).save(d / "mask.png")
    Image.fromarray(mask[:, :-4]).save(d / "narrow.png")
    Image.fromarray(np.zeros_like(mask)).save(d / "black.png")
    soft = mask.copy()
    soft[6:18, 8:10] = 128  # an anti-aliased edge: grey pixels
    soft[5, 10:30] = 100
    Image.fromarray(soft).save(d / "soft.png")
    return d


@pytest.fixture
def work(assets: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for item in assets.iterdir():
        (tmp_path / item.name).write_bytes(item.read_bytes())
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def run(*args: str) -> object:
    return CliRunner().invoke(app, ["inpaint", *args])


def error_line(result: object, code: int) -> str:
    """Exit ``code`` with exactly one ``error:`` line, the last on stderr; no traceback."""
    assert result.exit_code == code, (result.stderr, result.exception)  # type: ignore[attr-defined]
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]  # type: ignore[attr-defined]
    assert lines and lines[-1].startswith("error:"), lines
    assert sum(ln.startswith("error:") for ln in lines) == 1
    assert all(ln.startswith(("error:", "warning:")) for ln in lines), lines
    return lines[-1]


def no_leftovers(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_writes_samples_and_sheet_keeping_known_pixels(work: Path) -> None:
    result = run("photo.png", "mask.png", "-n", "3", "-o", "out", "--model", "tiny-pdgan.json")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    files = sorted(p.name for p in (work / "out").iterdir())
    assert files == ["contact_sheet.png", "sample_00.png", "sample_01.png", "sample_02.png"]
    photo = np.asarray(Image.open(work / "photo.png"))
    hole = np.asarray(Image.open(work / "mask.png")) > 127
    samples = [np.asarray(Image.open(work / "out" / f"sample_0{i}.png")) for i in range(3)]
    assert all(np.array_equal(s[~hole], photo[~hole]) for s in samples)
    assert not np.array_equal(samples[0], samples[1])
    assert read_png_metadata(work / "out" / "sample_00.png")["invimg:task"] == "inpainting"
    assert no_leftovers(work)


def test_existing_outputs_need_force(work: Path) -> None:
    args = ("photo.png", "mask.png", "-n", "2", "-o", "out", "--model", "tiny-pdgan.json")
    assert run(*args).exit_code == 0  # type: ignore[attr-defined]
    before = (work / "out" / "sample_00.png").read_bytes()
    assert "exists" in error_line(run(*args, "--seed", "5"), 4)
    assert (work / "out" / "sample_00.png").read_bytes() == before
    assert run(*args, "--seed", "5", "--force").exit_code == 0  # type: ignore[attr-defined]
    assert (work / "out" / "sample_00.png").read_bytes() != before
    (work / "empty").mkdir()
    assert run(*args[:-3], "empty", "--model", "tiny-pdgan.json").exit_code == 0  # type: ignore[attr-defined]


def test_mask_of_another_size_exits_3(work: Path) -> None:
    line = error_line(run("photo.png", "narrow.png", "-o", "out", "--model", "tiny-pdgan.json"), 3)
    assert "same size" in line and not (work / "out").exists() and no_leftovers(work)


def test_grey_mask_is_thresholded_with_one_warning(work: Path) -> None:
    result = run("photo.png", "soft.png", "-n", "1", "-o", "out", "--model", "tiny-pdgan.json")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert "warning:" in result.stderr and "not black and white" in result.stderr  # type: ignore[attr-defined]
    sample = np.asarray(Image.open(work / "out" / "sample_00.png"))
    photo = np.asarray(Image.open(work / "photo.png"))
    assert np.array_equal(sample[5, 10:30], photo[5, 10:30])  # grey 100 < 50%: kept


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (("photo.png", "black.png"), 3, "no hole"),
        (("photo.png", "missing.png"), 3, "mask"),
        (("missing.png", "mask.png"), 3, "does not exist"),
        (("photo.png", "mask.png", "-n", "0"), 2, "-n"),
        (("photo.png", "mask.png", "--strength", "9"), 2, "--strength"),
        (("photo.png", "mask.png", "--model", "nope"), 5, "no model"),
        (("photo.png", "mask.png", "-o", "nofolder/out"), 4, "missing"),
        (("photo.png", "mask.png", "-o", "photo.png"), 4, "not a folder"),
    ],
)
def test_bad_inputs_one_error_line(
    work: Path, args: tuple[str, ...], code: int, fragment: str
) -> None:
    full = list(args)
    if "-o" not in full:
        full += ["-o", "out"]
    if "--model" not in full:
        full += ["--model", "tiny-pdgan.json"]
    assert fragment in error_line(run(*full), code)
    assert not (work / "out").exists() and no_leftovers(work)


def test_strength_zero_makes_every_sample_the_prior(work: Path) -> None:
    args = ("photo.png", "mask.png", "-n", "2", "-o", "out", "--strength", "0", "--no-sheet")
    result = run(*args, "--model", "tiny-pdgan.json")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    a, b = (np.asarray(Image.open(work / "out" / f"sample_0{i}.png")) for i in range(2))
    assert np.array_equal(a, b)


def test_invert_mask_swaps_the_convention(work: Path) -> None:
    result = run(
        "photo.png",
        "mask.png",
        "-n",
        "1",
        "-o",
        "out",
        "--invert-mask",
        "--no-sheet",
        "--model",
        "tiny-pdgan.json",
    )
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    sample = np.asarray(Image.open(work / "out" / "sample_00.png"))
    photo = np.asarray(Image.open(work / "photo.png"))
    assert np.array_equal(sample[6:18, 10:30], photo[6:18, 10:30])  # white is now kept
    assert [p.name for p in (work / "out").iterdir()] == ["sample_00.png"]
