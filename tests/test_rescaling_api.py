"""Task API: input types, any size, tiling that matches whole-image processing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from invimg.rescaling import IRN, IRNColor
from invimg.rescaling.api import (
    as_image_tensor,
    colorize,
    decolorize,
    downscale,
    downscale_tensor,
    upscale,
    upscale_tensor,
)
from invimg.rescaling.tiling import plan_tiles, receptive_radius, run_tiled
from test_rescaling_model import randomise, tiny_irn


def test_input_types_give_the_same_image() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    ref = as_image_tensor(rgb)
    assert ref.shape == (1, 3, 5, 7) and ref.dtype == torch.float32
    for other in (
        Image.fromarray(rgb),
        rgb.astype(np.float32) / 255,
        rgb.astype(np.uint16) * 257,
        torch.from_numpy(rgb).permute(2, 0, 1),
        torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255,
    ):
        assert torch.allclose(as_image_tensor(other), ref, atol=1e-6), type(other)
    grey = as_image_tensor(rgb[..., 0])
    assert grey.shape == (1, 3, 5, 7) and torch.equal(grey[:, 0], grey[:, 2])
    with pytest.raises(TypeError):
        as_image_tensor([[1, 2]])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_image_tensor(np.full((4, 4, 3), 2.0))
    with pytest.warns(UserWarning, match="luma"):
        assert as_image_tensor(rgb, grey=True).shape == (1, 1, 5, 7)


@pytest.mark.parametrize("size", [(13, 10), (9, 17)])
def test_any_size_with_scale_three(size: tuple[int, int]) -> None:
    model = tiny_irn(3)
    img = np.random.default_rng(1).random((*size, 3)).astype(np.float32)
    lr = downscale(img, model=model)
    assert lr.dtype == np.uint8 and lr.shape == (-(-size[0] // 3), -(-size[1] // 3), 3)
    hr = upscale(lr, model=model, size=size)
    assert hr.shape == (*size, 3) and hr.dtype == np.uint8
    assert upscale(lr, model=model).shape == (lr.shape[0] * 3, lr.shape[1] * 3, 3)


def test_padding_restores_an_untrained_model_exactly_enough() -> None:
    """Zero-init IRN = Haar; with z = 0 the round trip is the box-filter approximation."""
    model = IRN(IRN.Config(scale=2, blocks=1, growth=4))
    img = np.full((5, 7, 3), 0.5, dtype=np.float32)
    hr = upscale(downscale(img, model=model), model=model, size=(5, 7))
    assert np.abs(hr.astype(int) - 128).max() <= 1  # replicate padding leaks no black border


def test_scale_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="×2"):
        downscale(np.zeros((4, 4, 3), np.float32), scale=4, model=tiny_irn(2))
    with pytest.raises(ValueError, match="IRN-Color"):
        decolorize(np.zeros((4, 4, 3), np.float32), model=tiny_irn(2))


def test_plan_tiles_covers_every_pixel_once() -> None:
    seen = torch.zeros(11, 9, dtype=torch.int32)
    for t in plan_tiles(11, 9, tile=4, margin=2):
        seen[t.core] += 1
        assert t.ext[0].start <= t.core[0].start and t.ext[1].stop >= t.core[1].stop
    assert bool((seen == 1).all())


def test_tiles_with_the_receptive_margin_are_exact() -> None:
    """float64, strong random weights: any error would come from the tiling itself."""
    model = randomise(IRN(IRN.Config(scale=2, blocks=1, growth=4)), std=0.2).double()
    r = receptive_radius(model)
    assert r == 10 and receptive_radius(IRN(IRN.Config(scale=4))) == 120
    x = torch.rand(1, 3, 2 * 34, 2 * 30, dtype=torch.float64)
    with torch.no_grad():
        full = model(x)
        tiled = run_tiled(model, x, in_scale=2, out_scale=1, out_channels=12, tile=12, margin=r)
        assert (tiled - full).abs().max() < 1e-9
        back = run_tiled(
            lambda t: model(t, rev=True),
            full,
            in_scale=1,
            out_scale=2,
            out_channels=3,
            tile=12,
            margin=r,
        )
        assert (back - x).abs().max() < 1e-9


def test_tiled_close_to_untiled_through_the_api() -> None:
    model = tiny_irn(2)
    hr = torch.rand(1, 3, 40, 36)
    lr_full = downscale_tensor(model, hr, tile=1000, margin=0)
    lr_tiled = downscale_tensor(model, hr, tile=6, margin=8)
    assert (lr_full - lr_tiled).abs().max() <= 1 / 255 + 1e-6
    for z in ("zeros", "gaussian"):
        full = upscale_tensor(model, lr_full, z=z, seed=3, tile=1000, margin=0)  # type: ignore[arg-type]
        tiled = upscale_tensor(model, lr_full, z=z, seed=3, tile=6, margin=8)  # type: ignore[arg-type]
        assert (full - tiled).abs().max() < 1e-4


def test_colorize_round_trip_shapes() -> None:
    model = IRNColor(IRNColor.Config(blocks=1, growth=4))
    img = np.random.default_rng(2).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    grey = decolorize(img, model=model)
    assert grey.shape == (6, 5) and grey.dtype == np.uint8
    rgb = colorize(grey, model=model)
    assert rgb.shape == (6, 5, 3) and rgb.dtype == np.uint8
    assert np.array_equal(colorize(np.repeat(grey[..., None], 3, 2), model=model), rgb)


def test_lazy_top_level_exports() -> None:
    import invimg
    from invimg.rescaling import api

    assert invimg.downscale is api.downscale and invimg.upscale is api.upscale
    assert invimg.decolorize is api.decolorize and invimg.colorize is api.colorize
