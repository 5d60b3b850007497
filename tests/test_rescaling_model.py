"""IRN and IRN-Color: the published function, exact inverses, any scale."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from invimg.errors import ModelError
from invimg.rescaling import IRN, IRNColor, load_published_irn, luma, quantize_st
from invimg.rescaling.published import convert_published_state
from invimg.zoo import build_model


def tiny_irn(scale: int = 2, **kw: object) -> IRN:
    downsampling = "haar" if scale in (2, 4, 8) else "learnable"
    config = IRN.Config(scale=scale, blocks=1, growth=4, downsampling=downsampling, **kw)  # type: ignore[arg-type]
    return randomise(IRN(config))


def randomise(model: torch.nn.Module, std: float = 0.05) -> torch.nn.Module:
    """Give every weight (also the zero-initialised last convs) a non-trivial value."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 4:
                p.copy_(torch.randn(p.shape, generator=gen) * std)
    return model.eval()


@pytest.mark.parametrize("scale", [2, 4])
def test_reproduces_published_reference(shared_dir: Path, scale: int) -> None:
    ref_dir = shared_dir / "reference"
    model = load_published_irn(ref_dir / f"IRN_x{scale}_official_random.pth")
    ref = torch.load(ref_dir / f"irn_x{scale}_reference.pt", map_location="cpu", weights_only=True)
    assert model.config.scale == scale and model.config.blocks == 8
    with torch.no_grad():
        lr, z = model.encode(ref["hr"])
        hr_rec = model.decode(ref["lr_q"], ref["z"])
        hr_rec_zero = model.decode(ref["lr_q"])
    got = {
        "lr": lr,
        "z_out": z,
        "lr_q": quantize_st(lr),
        "hr_rec": hr_rec,
        "hr_rec_zero": hr_rec_zero,
    }
    for key, value in got.items():
        assert (value - ref[key]).abs().max().item() < 1e-4, key


def test_published_loader_refuses_other_haar_filters() -> None:
    state = {"operations.0.haar_weights": torch.ones(12, 1, 2, 2)}
    with pytest.raises(ModelError, match="Haar"):
        convert_published_state(state)
    with pytest.raises(ModelError, match="unexpected key"):
        convert_published_state({"operations.1.X.conv1.weight": torch.ones(1)})


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_round_trip_with_true_z_is_exact(scale: int) -> None:
    model = tiny_irn(scale)
    x = torch.rand(2, 3, 6 * scale, 5 * scale)
    with torch.no_grad():
        lr, z = model.encode(x)
        assert lr.shape == (2, 3, 6, 5) and z.shape == (2, 3 * (scale**2 - 1), 6, 5)
        assert model.z_channels == z.shape[1]
        assert (model.decode(lr, z) - x).abs().max() < 1e-4


def test_untrained_lr_is_the_box_mean() -> None:
    """Zero-initialised couplings leave the mean-scaled Haar / DCT thumbnail."""
    for scale, down in ((2, "haar"), (4, "haar"), (3, "learnable")):
        model = IRN(IRN.Config(scale=scale, blocks=1, growth=4, downsampling=down))  # type: ignore[arg-type]
        x = torch.rand(1, 3, 3 * scale, 2 * scale)
        with torch.no_grad():
            lr, _ = model.encode(x)
        box = torch.nn.functional.avg_pool2d(x, scale)
        assert torch.allclose(lr, box, atol=1e-5)


def test_config_checks() -> None:
    with pytest.raises(ValueError, match="power-of-two"):
        IRN(IRN.Config(scale=3))
    with pytest.raises(ValueError, match="divisible"):
        tiny_irn(2)(torch.rand(1, 3, 5, 4))


def test_registered_architectures_build_from_cards() -> None:
    model = build_model("irn", {"scale": 2, "blocks": 1, "growth": 4})
    assert isinstance(model, IRN) and model.scale == 2
    assert isinstance(build_model("irn-color", {"blocks": 1, "growth": 4}), IRNColor)


def test_irn_color_round_trip_and_grey_start() -> None:
    model = IRNColor(IRNColor.Config(blocks=2, growth=4))
    x = torch.rand(2, 3, 7, 9)
    with torch.no_grad():
        grey, z = model.encode(x)
        assert torch.allclose(grey, luma(x), atol=1e-5)  # colour matrix starts at RGB→YUV
        randomise(model)
        grey, z = model.encode(x)
        assert grey.shape == (2, 1, 7, 9) and z.shape == (2, 2, 7, 9)
        assert (model.decode(grey, z) - x).abs().max() < 1e-4


def test_haar_irn_color_round_trip_and_grey_start() -> None:
    model = IRNColor(IRNColor.Config(blocks=2, growth=4, haar=True))
    x = torch.rand(2, 3, 8, 10)
    with torch.no_grad():
        grey, z = model.encode(x)
        assert torch.allclose(grey, luma(x), atol=1e-5)  # colour ⊗ Haar map starts exact
        randomise(model)
        grey, z = model.encode(x)
        assert grey.shape == (2, 1, 8, 10) and z.shape == (2, 2, 8, 10)
        assert (model.decode(grey, z) - x).abs().max() < 1e-4
    with pytest.raises(ValueError, match="divisible by 2"):
        model.check_size(7, 10)


def test_haar_irn_color_can_write_a_flat_colour_into_the_grey() -> None:
    """Why the variant exists: the published couplings are translation-equivariant, so
    a flat colour can only move a flat grey; in the Haar domain it can leave a pattern."""
    flat = torch.ones(1, 3, 64, 64) * torch.tensor([0.8, 0.2, 0.3]).view(1, 3, 1, 1)
    with torch.no_grad():
        published = randomise(IRNColor(IRNColor.Config(blocks=2, growth=4)))
        haar = randomise(IRNColor(IRNColor.Config(blocks=2, growth=4, haar=True)))
        inner = (slice(None), slice(None), slice(26, 38), slice(26, 38))  # beyond the padding
        assert published.encode(flat)[0][inner].std() < 1e-6
        assert haar.encode(flat)[0][inner].std() > 1e-4


def test_quantizer_is_8bit_with_identity_gradient() -> None:
    x = torch.tensor([-0.3, 0.1234, 0.5, 1.7], requires_grad=True)
    q = quantize_st(x)
    assert torch.equal(q.detach() * 255, torch.round(q.detach() * 255))
    assert q.detach().min() >= 0 and q.detach().max() <= 1
    (q * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([1.0, 2.0, 3.0, 4.0]))  # type: ignore[arg-type]


def test_memory_saving_training_gives_the_same_gradients() -> None:
    plain = tiny_irn(2)
    saving = IRN(dataclasses.replace(plain.config, memory_saving=True))
    saving.load_state_dict(plain.state_dict())
    x = torch.rand(2, 3, 8, 8)
    grads = []
    for model in (plain.train(), saving.train()):
        model.zero_grad()
        out = model(x)
        (out[:, :3].pow(2).sum() + out[:, 3:].abs().sum()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))  # type: ignore[union-attr]
    assert torch.allclose(grads[0], grads[1], atol=1e-5, rtol=1e-4)
