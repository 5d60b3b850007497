"""Hide-time refinement (``hide(..., refine=N)``, ``invimg hide --refine N``)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import invimg
from cli_checks import expect_error, expect_ok, run
from invimg.errors import UsageError
from invimg.hiding.evaluation import evaluate_hiding

ASSETS = Path(__file__).resolve().parents[1] / "src" / "invimg" / "assets"


def _crop(name: str, side: int = 64) -> np.ndarray:
    """A centre crop of a bundled demo photo: small enough for a quick test."""
    pixels = np.asarray(Image.open(ASSETS / name).convert("RGB"))
    top, left = (pixels.shape[0] - side) // 2, (pixels.shape[1] - side) // 2
    return np.ascontiguousarray(pixels[top : top + side, left : left + side])


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / mse)


def test_refinement_reads_the_secret_better_through_the_same_reveal() -> None:
    """The shipped model's own reveal, unchanged, reads the refined 8-bit stego better,
    and the stego stays about as close to the cover."""
    cover, secret = _crop("cover.png"), _crop("secret.png")
    plain = invimg.hide(cover, secret, model="hinet-small")
    refined = invimg.hide(cover, secret, model="hinet-small", refine=10)
    assert refined.dtype == np.uint8 and refined.shape == plain.shape
    (from_plain,) = invimg.reveal(plain, model="hinet-small")
    (from_refined,) = invimg.reveal(refined, model="hinet-small")
    assert _psnr(from_refined, secret) > _psnr(from_plain, secret) + 1.0
    assert _psnr(refined, cover) > _psnr(plain, cover) - 1.0


def test_zero_steps_is_the_plain_stego() -> None:
    cover, secret = _crop("cover.png", 32), _crop("secret.png", 32)
    assert np.array_equal(
        invimg.hide(cover, secret, model="hinet-small", refine=0),
        invimg.hide(cover, secret, model="hinet-small"),
    )


def test_a_robust_stego_is_refined_for_the_real_jpeg() -> None:
    """RIIS: refined for JPEG 75, the stego gains decibels (the objective weighs them
    alike) and the secret read from a real JPEG 75 file keeps its own."""
    cover, secret = _crop("cover.png", 64), _crop("secret.png", 64)
    scores = []
    for steps in (0, 8):
        stego = invimg.hide(cover, secret, model="riis-small", refine=steps, refine_for=["jpeg:75"])
        buffer = io.BytesIO()
        Image.fromarray(stego).save(buffer, format="JPEG", quality=75)
        received = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
        (revealed,) = invimg.reveal(received, model="riis-small", channel="jpeg:75")
        scores.append((_psnr(stego, cover), _psnr(revealed, secret)))
    (stego_before, secret_before), (stego_after, secret_after) = scores
    assert stego_after + secret_after > stego_before + secret_before + 1.0
    assert secret_after > secret_before - 0.5


def test_what_cannot_be_refined_is_one_usage_error() -> None:
    cover = _crop("cover.png", 32)
    with pytest.raises(UsageError, match="0 or more"):
        invimg.hide(cover, cover, model="hinet-small", refine=-1)
    with pytest.raises(UsageError, match="not a robust model"):
        invimg.hide(cover, cover, model="hinet-small", refine=2, refine_for=["jpeg:90"])
    with pytest.raises(UsageError, match="jpeg:900"):
        invimg.hide(cover, cover, model="riis-small", refine=2, refine_for=["jpeg:900"])


def test_cli_refine(tmp_path: Path) -> None:
    for name in ("cover.png", "secret.png"):
        Image.fromarray(_crop(name, 32)).save(tmp_path / name)
    cover, secret = str(tmp_path / "cover.png"), str(tmp_path / "secret.png")
    out = tmp_path / "stego.png"
    expect_ok(run("hide", cover, secret, "-o", str(out), "--refine", "3"))
    assert out.exists()
    robust = tmp_path / "robust.jpg"
    expect_ok(run("hide", cover, secret, "-o", str(robust), "--robust", "--refine", "2"))
    assert robust.exists()
    bad = tmp_path / "bad.png"
    result = run("hide", cover, secret, "-o", str(bad), "--refine", "2", "--refine-for", "jpeg:90")
    expect_error(result, 2, "not a robust model")
    assert not bad.exists()


def test_evaluation_puts_the_refined_row_beside_the_model(tmp_path: Path) -> None:
    for name in ("cover.png", "secret.png"):
        Image.fromarray(_crop(name, 64)).save(tmp_path / name)
    result = evaluate_hiding("hinet-small", tmp_path, size=64, refine=5)
    assert set(result["summary"]) == {"model", "refined", "lsb4"}
    model, refined = result["summary"]["model"], result["summary"]["refined"]
    key = "secret1[z=zeros]"
    assert refined[key]["psnr_rgb"] > model[key]["psnr_rgb"]
    assert "refined" in result["protocol"] and "refined" in result["markdown"]
