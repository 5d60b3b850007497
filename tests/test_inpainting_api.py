"""``invimg.inpainting.api``: what a user of ``inpaint`` relies on, with a tiny untrained model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from invimg.errors import InputImageError, UsageError, WrongModelError
from invimg.inpainting.api import contact_sheet, inpaint
from invimg.inpainting.evaluation import pairwise_diversity, ring_masks
from invimg.inpainting.features import FeatureNet
from invimg.inpainting.pdgan import PDGAN
from invimg.inpainting.prior import PartialConvUNet


@pytest.fixture(scope="module")
def net() -> PDGAN:
    torch.manual_seed(0)
    model = PDGAN(
        PDGAN.Config(
            widths=[8, 8, 8], z_dim=4, hidden=8, prior={"width": 4, "max_width": 8, "levels": 3}
        )
    )
    torch.nn.init.normal_(model.to_image.weight, std=0.2)  # as if trained: samples vary
    return model.eval()


@pytest.fixture(scope="module")
def photo() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)  # sides not multiples of 8
    hole = np.zeros((40, 52), dtype=bool)
    hole[10:30, 12:40] = True
    return image, hole


def test_known_pixels_are_kept_exactly(net: PDGAN, photo: tuple[np.ndarray, np.ndarray]) -> None:
    image, hole = photo
    samples = inpaint(image, hole, n=3, model=net)
    assert len(samples) == 3
    for s in samples:
        assert s.shape == image.shape and s.dtype == np.uint8
        assert np.array_equal(s[~hole], image[~hole])


def test_same_seed_same_samples_other_seed_other_samples(
    net: PDGAN, photo: tuple[np.ndarray, np.ndarray]
) -> None:
    image, hole = photo
    a = inpaint(image, hole, n=2, seed=3, model=net)
    b = inpaint(image, hole, n=3, seed=3, model=net)
    c = inpaint(image, hole, n=2, seed=4, model=net)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])  # n does not matter
    assert not np.array_equal(a[0], a[1])
    assert not np.array_equal(a[0], c[0])


def test_strength_zero_gives_the_prior_and_strength_scales_departure(
    net: PDGAN, photo: tuple[np.ndarray, np.ndarray]
) -> None:
    image, hole = photo
    flat = inpaint(image, hole, n=3, model=net, strength=0.0)
    assert all(np.array_equal(s, flat[0]) for s in flat)
    half, full = (inpaint(image, hole, n=1, model=net, strength=s)[0] for s in (0.5, 1.0))
    gap_half = np.abs(half.astype(int) - flat[0].astype(int)).mean()
    gap_full = np.abs(full.astype(int) - flat[0].astype(int)).mean()
    assert 0 < gap_half < gap_full
    with pytest.raises(UsageError, match="strength"):
        inpaint(image, hole, model=net, strength=-1.0)


def test_white_mask_image_is_the_hole(net: PDGAN, photo: tuple[np.ndarray, np.ndarray]) -> None:
    image, hole = photo
    mask_image = np.where(hole, 255, 0).astype(np.uint8)
    from_image = inpaint(image, mask_image, n=1, model=net)[0]
    assert np.array_equal(from_image, inpaint(image, hole, n=1, model=net)[0])


def test_large_images_are_inpainted_on_a_resized_copy(
    net: PDGAN, photo: tuple[np.ndarray, np.ndarray]
) -> None:
    image, hole = photo
    out = inpaint(image, hole, n=1, model=net, max_side=24)[0]
    assert out.shape == image.shape and np.array_equal(out[~hole], image[~hole])


def test_bad_requests_are_refused(net: PDGAN, photo: tuple[np.ndarray, np.ndarray]) -> None:
    image, hole = photo
    with pytest.raises(UsageError):
        inpaint(image, hole, n=0, model=net)
    with pytest.raises(InputImageError, match="no hole"):
        inpaint(image, np.zeros_like(hole), model=net)
    with pytest.raises(InputImageError, match="whole image"):
        inpaint(image, np.ones_like(hole), model=net)
    with pytest.raises(InputImageError, match="same size"):
        inpaint(image, hole[:, :-1], model=net)
    with pytest.raises(WrongModelError):
        inpaint(image, hole, model=PartialConvUNet(PartialConvUNet.Config()))  # type: ignore[arg-type]


def test_contact_sheet_shows_the_input_and_every_sample(
    net: PDGAN, photo: tuple[np.ndarray, np.ndarray]
) -> None:
    image, hole = photo
    samples = inpaint(image, hole, n=5, model=net)
    sheet = contact_sheet(image, hole, samples, columns=3, gap=2)
    assert sheet.shape == (2 * 40 + 3 * 2, 3 * 52 + 4 * 2, 3)
    tile = sheet[2 + 40 + 2 :, 2 + 52 + 2 :][:40, :52]  # second row, second column: sample #3
    assert np.array_equal(tile[20:, :], samples[3][20:, :])  # below the corner label


def test_diversity_is_zero_for_identical_samples_and_rings_cover_the_hole(
    net: PDGAN, photo: tuple[np.ndarray, np.ndarray]
) -> None:
    image, hole = photo
    rings = ring_masks(hole)
    parts = [m for name, m in rings.items() if name != "hole"]
    assert np.array_equal(np.logical_or.reduce(parts), hole)
    assert sum(int(m.sum()) for m in parts) == int(hole.sum())
    features = FeatureNet(FeatureNet.Config(widths=(4, 4, 4)))
    same = pairwise_diversity(features, [image, image, image], hole)
    assert same["hole"]["lpips_like"] == 0 and same["hole"]["pixel_l1"] == 0
    varied = pairwise_diversity(features, inpaint(image, hole, n=3, model=net), hole)
    assert varied["hole"]["pixel_l1"] > 1  # type: ignore[operator]


def test_shipped_model_varies_more_deep_in_the_hole_than_at_its_border() -> None:
    """The hard map's promise on the shipped model: faithful near the border, free inside."""
    from PIL import Image

    from invimg.interfaces.cli_demo import ASSETS

    photo = np.asarray(Image.open(ASSETS / "cover.png").convert("RGB"))[:128, :128]
    hole = np.zeros(photo.shape[:2], dtype=bool)
    hole[24:104, 24:104] = True
    samples = inpaint(photo, hole, n=4, seed=0)  # shipped model, its card's strength
    assert all(np.array_equal(s[~hole], photo[~hole]) for s in samples)
    rings = ring_masks(hole)
    spread = np.mean(
        [
            np.abs(a.astype(float) - b.astype(float)).mean(-1)
            for i, a in enumerate(samples)
            for b in samples[i + 1 :]
        ],
        axis=0,
    )
    border, deep = spread[rings["0-4px"]].mean(), spread[rings["16-32px"]].mean()
    assert spread[hole].mean() > 0.3  # the samples differ, by more than rounding
    assert deep > 1.3 * border


def test_training_crops_are_seeded_squares_at_the_benchmark_scale(tmp_path: Path) -> None:
    from PIL import Image

    from invimg.inpainting.evaluation import training_crops

    photos, a, b = tmp_path / "photos", tmp_path / "a", tmp_path / "b"
    for d in (photos, a, b):
        d.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(photos / "p.png")
    training_crops(photos, a, per_image=2, side=16)
    training_crops(photos, b, per_image=2, side=16)
    crops = sorted(a.iterdir())
    assert [c.name for c in crops] == ["p-0.png", "p-1.png"]
    for c in crops:
        pixels = np.asarray(Image.open(c))
        assert pixels.shape == (16, 16, 3)
        assert np.array_equal(pixels, np.asarray(Image.open(b / c.name)))  # same seed, same crop


def test_the_classical_bar_needs_psnr_and_ssim_in_every_bin() -> None:
    from invimg.inpainting.evaluation import reaches_classical

    def report(pdgan_ssim: float) -> dict[str, Any]:
        rows = {
            "telea": {"psnr": 30.0, "ssim": 0.90},
            "biharmonic": {"psnr": 31.0, "ssim": 0.92},
            "pdgan": {"psnr": 31.5, "ssim": pdgan_ssim},
        }
        good = {"rows": {**rows, "pdgan": {"psnr": 32.0, "ssim": 0.95}}}
        return {"bins": {"10%-30%": good, "30%-50%": {"rows": rows}}}

    assert reaches_classical(report(0.93))
    assert not reaches_classical(report(0.915))  # beats Telea, not biharmonic
