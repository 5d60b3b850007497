"""Task API: any size, tiling close to whole-image processing, default models."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from invimg.errors import InputImageError, ModelError
from invimg.rescaling import IRN, IRNColor
from invimg.rescaling.api import (
    DEFAULT_MODEL,
    colorize,
    decolorize,
    default_color_model,
    default_rescaling_model,
    default_z,
    downscale,
    downscale_tensor,
    upscale,
    upscale_tensor,
)
from invimg.zoo import cards as zoo_cards
from test_rescaling_model import tiny_irn


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


def test_bad_inputs_name_the_argument() -> None:
    model = tiny_irn(2)
    with pytest.raises(InputImageError, match=r"^image: .*\[0, 1\]"):
        downscale(np.full((4, 4, 3), 2.0), model=model)
    with pytest.raises(InputImageError, match=r"^lr: .*got list"):
        upscale([[1, 2]], model=model)


@pytest.mark.parametrize("haar", [False, True])
def test_colorize_round_trip_shapes(haar: bool) -> None:
    """Odd sizes too: the Haar variant pads to even sides and crops again."""
    model = IRNColor(IRNColor.Config(blocks=1, growth=4, haar=haar))
    img = np.random.default_rng(2).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    grey = decolorize(img, model=model)
    assert grey.shape == (6, 5) and grey.dtype == np.uint8
    rgb = colorize(grey, model=model)
    assert rgb.shape == (6, 5, 3) and rgb.dtype == np.uint8
    assert np.array_equal(colorize(np.repeat(grey[..., None], 3, 2), model=model), rgb)
    with pytest.warns(UserWarning, match=r"^grey: .*luma"):
        colorize(img, model=model)


def _ship(folder: Path, *names: str) -> None:
    for name in names:
        (folder / f"{name}.json").write_text("{}")


def test_default_model_per_scale_prefers_the_full_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zoo_cards, "WEIGHTS_DIR", tmp_path)
    _ship(tmp_path, "irn-x2-small", "irn-x4", "irn-x4-small")
    assert default_rescaling_model() == default_rescaling_model(2) == "irn-x2-small"
    assert default_rescaling_model(4) == "irn-x4"
    _ship(tmp_path, "irn-x2")
    assert default_rescaling_model() == default_rescaling_model(2) == DEFAULT_MODEL == "irn-x2"
    with pytest.raises(ModelError, match="irn-x3 and irn-x3-small"):
        default_rescaling_model(3)


def test_default_colour_model_prefers_the_full_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zoo_cards, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelError, match="irn-color and irn-color-small"):
        decolorize(np.zeros((4, 4, 3), np.float32))
    _ship(tmp_path, "irn-color-small")
    assert default_color_model() == "irn-color-small"
    _ship(tmp_path, "irn-color")
    assert default_color_model() == "irn-color"


def test_upscale_uses_the_latent_the_card_chose() -> None:
    """A card's ``inference.z`` is the default; an explicit ``z`` still wins."""
    model = tiny_irn(2)
    torch.manual_seed(3)
    for p in model.parameters():  # trained-like: z matters to the output
        p.data.add_(0.05 * torch.randn_like(p))
    lr = downscale(np.random.default_rng(0).random((16, 16, 3)).astype(np.float32), model=model)
    zero, gauss = (upscale(lr, model=model, z=z) for z in ("zeros", "gaussian"))
    assert not np.array_equal(zero, gauss)
    assert default_z(model) == "zeros" and np.array_equal(upscale(lr, model=model), zero)
    model.card = SimpleNamespace(data={"inference": {"z": "gaussian"}})  # type: ignore[assignment]
    assert default_z(model) == "gaussian" and np.array_equal(upscale(lr, model=model), gauss)
    assert np.array_equal(upscale(lr, model=model, z="zeros"), zero)


def test_missing_default_model_is_a_model_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zoo_cards, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(ModelError, match="×2 rescaling model"):
        downscale(np.zeros((4, 4, 3), np.float32))


def test_cli_defaults_follow_the_api() -> None:
    from invimg.interfaces import cli_train

    option = inspect.signature(cli_train.eval_rescaling).parameters["model"].default
    assert option.default == DEFAULT_MODEL


def test_lazy_top_level_exports() -> None:
    import invimg
    from invimg.rescaling import api

    assert invimg.downscale is api.downscale and invimg.upscale is api.upscale
    assert invimg.decolorize is api.decolorize and invimg.colorize is api.colorize


def test_an_lr_image_saved_from_the_api_restores_its_size_and_model(tmp_path: Path) -> None:
    """``save_lr`` records what ``invimg downscale`` records; ``upscale`` of the file uses it."""
    from invimg.io import read_metadata
    from invimg.rescaling.api import save_lr

    image = np.random.default_rng(3).integers(0, 256, (21, 30, 3), dtype=np.uint8)
    lr = downscale(image, model="irn-x2-small")
    path = save_lr(tmp_path / "small.png", lr, image.shape[:2], "irn-x2-small")
    assert read_metadata(path) == {
        "invimg:task": "rescaling",
        "invimg:model": "irn-x2-small",
        "invimg:scale": "2",
        "invimg:size": "30x21",
    }
    restored = upscale(path)
    assert restored.shape == image.shape
    assert np.array_equal(restored, upscale(lr, model="irn-x2-small", size=(21, 30)))
