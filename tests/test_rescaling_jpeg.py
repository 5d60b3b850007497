"""Rescaling with compression: JPEG layers (real and differentiable), CRM, its training."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from invimg.distortions import JPEG, DiffJPEG, jpeg_real, quality_tables
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


def test_jpeg_evaluation_reports_the_rate_of_the_lr_file(tmp_path: Path) -> None:
    """Each JPEG row says how many bits the shared LR costs; a PNG row has no rate."""
    from PIL import Image

    from invimg.distortions.jpeg import jpeg_encode
    from invimg.rescaling.evaluation import evaluate_rescaling

    img = (smooth_image(32, 48)[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "photo.png")
    model = IRNJPEG(IRNJPEG.Config(scale=2, blocks=1, growth=4, crm_features=8, crm_blocks=1))
    rows = evaluate_rescaling(model, tmp_path)["rows"]
    lr = downscale(img, model=model)
    bits = 8 * len(jpeg_encode(torch.from_numpy(lr / 255.0).permute(2, 0, 1), 90))
    crm = rows["irn_jpeg90_crm_z0"]
    assert crm["lr_bpp"] == pytest.approx(bits / (16 * 24))
    assert crm["hr_bpp"] == pytest.approx(crm["lr_bpp"] / 4)
    assert 0 < rows["bicubic_jpeg90"]["lr_bpp"] < 24 and "lr_bpp" not in rows["irn_png_z0"]


def test_joint_training_moves_the_irn_through_the_shared_jpeg_layer(tmp_path: Path) -> None:
    """With IRN loss terms in the recipe the IRN learns too, its gradient coming through JPEG."""
    section = {"kind": "irn-jpeg", "scale": 2, "blocks": 1, "growth": 4}
    section |= {"crm_features": 8, "crm_blocks": 1}
    data = {"train": ["x"], "crop": 16, "size_multiple": 2}
    cfg = load_config(
        {
            "task": "rescaling",
            "model": section,
            "loss": {"jpeg": 1.0, "fit": 4.0, "rec": 1.0, "latent": 1.0},
            "data": data,
        }
    )
    task = rescaling_task(cfg)
    model = task.build_model()
    assert isinstance(model, IRNJPEG) and all(p.requires_grad for p in model.irn.parameters())
    torch.manual_seed(0)
    for p in model.crm.parameters():  # a CRM that is no longer the identity
        p.data.add_(0.05 * torch.randn_like(p))
    seen: list[torch.Tensor] = []
    assert isinstance(task.channel, JPEG) and task.channel.train_forward == "real"

    def spy(_: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        args[0].retain_grad()
        seen.append(args[0])

    task.channel.register_forward_pre_hook(spy)
    loss, terms = task.training_step(model, smooth_image(16, 16).repeat(2, 1, 1, 1), 0)
    assert set(terms) == {"fit", "latent", "jpeg", "rec"} and torch.isfinite(loss)
    loss.backward()
    # the LR that went into JPEG gets a gradient back through the codec's approximation
    assert seen[0].grad is not None and float(seen[0].grad.abs().sum()) > 0
    assert all(p.grad is not None for p in model.irn.parameters())
    bad = {"task": "rescaling", "model": section, "loss": {"rec": 1, "train_forward": "x"}}
    with pytest.raises(ConfigError, match="train_forward"):
        rescaling_task(load_config(bad | {"data": data}))


def test_a_second_stage_starts_from_a_trained_irn_and_crm(tmp_path: Path) -> None:
    config = IRNJPEG.Config(scale=2, blocks=1, growth=4, crm_features=8, crm_blocks=1)
    first = IRNJPEG(config)
    torch.manual_seed(1)
    for p in first.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    card = save_pretrained(first, tmp_path, "tiny-jpeg", {"task": "rescaling"})
    section = {"kind": "irn-jpeg", "scale": 2, "blocks": 1, "growth": 4, "crm_features": 8}
    section |= {"crm_blocks": 1, "init_from": str(card.path)}
    cfg = load_config(
        {
            "task": "rescaling",
            "model": section,
            "loss": {"rec": 1.0},
            "data": {"train": ["x"], "crop": 16, "size_multiple": 2},
        }
    )
    second = rescaling_task(cfg).build_model()
    for (name, a), b in zip(second.state_dict().items(), first.state_dict().values()):
        assert torch.allclose(a, b.float(), atol=1e-3), name  # fp16 card
