"""``invimg downscale / upscale / decolorize / colorize`` end to end, with tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from invimg.interfaces import cli
from invimg.io import read_png_metadata
from invimg.rescaling import IRN, IRNJPEG, IRNColor
from invimg.zoo import save_pretrained

cli._register_commands()


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a photo (odd size), a tiny ×2 IRN card and a tiny IRN-Color card."""
    monkeypatch.chdir(tmp_path)
    save_pretrained(
        IRN(IRN.Config(scale=2, blocks=1, growth=4)), tmp_path, "tiny-x2", {"task": "rescaling"}
    )
    save_pretrained(
        IRNColor(IRNColor.Config(blocks=1, growth=4)),
        tmp_path,
        "tiny-color",
        {"task": "decolorization"},
    )
    rgb = np.random.default_rng(0).integers(0, 256, (21, 30, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "photo.png")
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, list(args))
    return result.exit_code, result.output


def test_downscale_then_upscale_uses_the_recorded_metadata(work: Path) -> None:
    code, out = run("downscale", "photo.png", "-o", "small.png", "--model", "tiny-x2.json")
    assert code == 0, out
    meta = read_png_metadata(work / "small.png")
    # a card is recorded by absolute path, so `upscale` works from any folder
    assert meta["invimg:model"] == str((work / "tiny-x2.json").resolve())
    assert meta["invimg:scale"] == "2"
    assert meta["invimg:size"] == "30x21"
    assert Image.open(work / "small.png").size == (15, 11)
    code, out = run("upscale", "small.png", "-o", "big.png")  # no options: all from metadata
    assert code == 0, out
    assert "warning" not in out
    assert Image.open(work / "big.png").size == (30, 21)


def test_upscale_of_a_foreign_image_warns(work: Path) -> None:
    code, out = run("upscale", "photo.png", "-o", "big.png", "--model", "tiny-x2.json")
    assert code == 0, out
    assert "warning:" in out and "not super-resolution" in out
    assert Image.open(work / "big.png").size == (60, 42)


def test_existing_output_is_refused_before_any_work(work: Path) -> None:
    (work / "small.png").write_bytes(b"keep me")
    code, out = run("downscale", "photo.png", "-o", "small.png", "--model", "missing.json")
    assert code == 4 and "--force" in out  # output checked before the model is even looked up
    assert (work / "small.png").read_bytes() == b"keep me"
    code, out = run(
        "downscale", "photo.png", "-o", "small.png", "--model", "tiny-x2.json", "--force"
    )
    assert code == 0, out


def test_bad_input_and_bad_model_exit_codes(work: Path) -> None:
    (work / "broken.png").write_bytes(b"not an image")
    code, out = run("downscale", "broken.png", "-o", "a.png", "--model", "tiny-x2.json")
    assert code == 3, out
    code, out = run("downscale", "photo.png", "-o", "a.png", "--model", "tiny-color.json")
    assert code == 5 and "IRNColor" in out
    code, out = run("downscale", "photo.png", "-o", "a.png", "--model", "tiny-x2.json", "-x", "4")
    assert code == 5 and "×2" in out


def test_decolorize_then_colorize(work: Path) -> None:
    code, out = run("decolorize", "photo.png", "-o", "grey.png", "--model", "tiny-color.json")
    assert code == 0, out
    grey = np.asarray(Image.open(work / "grey.png").convert("RGB"))
    assert grey.shape == (21, 30, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    code, out = run("colorize", "grey.png", "-o", "colour.png")
    assert code == 0 and "warning" not in out, out
    assert Image.open(work / "colour.png").size == (30, 21)


def test_jpeg_model_writes_and_reads_a_jpeg_lr(work: Path) -> None:
    model = IRNJPEG(IRNJPEG.Config(scale=2, blocks=1, growth=4, crm_features=8, crm_blocks=1))
    save_pretrained(model, work, "tiny-jpeg", {"task": "rescaling"})
    code, out = run("downscale", "photo.png", "-o", "small.jpg", "--model", "tiny-jpeg.json")
    assert code == 0 and "warning" not in out, out
    code, out = run("upscale", "small.jpg", "-o", "big.png")
    assert code == 0 and "warning" not in out, out
    assert Image.open(work / "big.png").size == (30, 21)
    code, out = run("downscale", "photo.png", "-o", "plain.jpg", "--model", "tiny-x2.json")
    assert code == 0 and "lossily" in out
