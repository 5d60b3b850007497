"""Rescaling with compression: JPEG layers (real and differentiable), CRM, its training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from invimg.distortions import DiffJPEG, jpeg_real, quality_tables
from invimg.errors import ConfigError
from invimg.rescaling import IRN, IRNJPEG, quantize_st
from invimg.rescaling.api import downscale, upscale
from invimg.rescaling.irn import receptive_radius
from invimg.rescaling.task import rescaling_task
from invimg.training import load_config
from invimg.zoo import save_pretrained


def smooth_image(h: int = 32, w: int = 40) -> torch.Tensor:
    """A photo-like test image: gradients plus mild texture."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    gen = torch.Generator().manual_seed(0)
    texture = 0.05 * torch.rand(3, h, w, generator=gen)
    return (torch.stack((yy, xx, 1 - yy * xx)) * 0.9 + texture)[None].clamp(0, 1)


def test_quality_tables_follow_libjpeg() -> None:
    luma50, chroma50 = quality_tables(50)
    assert luma50[0, 0] == 16 and chroma50[0, 0] == 17 and luma50[7, 7] == 99
    assert bool((quality_tables(100)[0] == 1).all())
    with pytest.raises(ValueError):
        quality_tables(0)


def test_diff_jpeg_approximates_the_real_codec_and_has_gradients() -> None:
    x = smooth_image()
    real = jpeg_real(x, 75)
    for rounding in ("cubic", "ste"):
        approx = DiffJPEG(75, rounding)(x)  # type: ignore[arg-type]
        assert approx.shape == x.shape
        assert float((approx.clamp(0, 1) - real).abs().mean()) * 255 < 1.5
    xg = x.clone().requires_grad_()
    DiffJPEG(75)(xg).sum().backward()
    assert xg.grad is not None and float(xg.grad.abs().sum()) > 0


def test_real_jpeg_has_identity_gradient() -> None:
    x = smooth_image(16, 16).requires_grad_()
    out = jpeg_real(x, 90)
    assert 0 < float((out - x).detach().abs().max()) < 0.2
    out.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))  # type: ignore[arg-type]


def test_irn_jpeg_starts_as_plain_irn_and_upscales_jpeg_input() -> None:
    model = IRNJPEG(IRNJPEG.Config(scale=2, blocks=1, growth=4, crm_features=8, crm_blocks=1))
    x = smooth_image(16, 20)
    with torch.no_grad():
        lr = quantize_st(model.encode(x)[0])
        assert torch.allclose(model.decode(lr), model.irn.decode(lr), atol=1e-6)
    assert receptive_radius(model) == receptive_radius(model.irn) + 7
    img = (x[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    small = downscale(img, model=model)
    assert upscale(small, model=model, size=(16, 20)).shape == (16, 20, 3)


def test_crm_training_keeps_the_irn_frozen(tmp_path: Path) -> None:
    irn = IRN(IRN.Config(scale=2, blocks=1, growth=4))
    card = save_pretrained(irn, tmp_path, "tiny-x2", {"task": "rescaling"})
    model_section = {
        "kind": "irn-jpeg",
        "scale": 2,
        "blocks": 1,
        "growth": 4,
        "crm_features": 8,
        "crm_blocks": 1,
        "init_from": str(card.path),
    }
    cfg = load_config(
        {
            "task": "rescaling",
            "model": model_section,
            "loss": {"jpeg": 1.0},
            "data": {"train": ["x"], "crop": 16, "size_multiple": 2},
        }
    )
    task = rescaling_task(cfg)
    model = task.build_model()
    assert isinstance(model, IRNJPEG)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for step in range(2):
        opt.zero_grad()
        loss, _ = task.training_step(model, smooth_image(16, 16).repeat(2, 1, 1, 1), step)
        loss.backward()
        opt.step()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("irn."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("crm."))
    assert {"psnr_y_crm", "psnr_y_no_crm"} <= set(task.validation_step(model, smooth_image(16, 16)))
    section = model_section | {"blocks": 2}
    bad = load_config(
        {
            "task": "rescaling",
            "model": section,
            "data": {"train": ["x"], "crop": 16, "size_multiple": 2},
        }
    )
    with pytest.raises(ConfigError, match="architecture"):
        rescaling_task(bad).build_model()
