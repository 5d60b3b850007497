"""The ``inpainting`` training task: the three stages chained, and the GAN's split gradients."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from invimg.errors import ConfigError
from invimg.inpainting.discriminator import DiscriminatorConfig, MultiScaleDiscriminator
from invimg.inpainting.features import FeatureNet
from invimg.inpainting.pdgan import PDGAN
from invimg.inpainting.pdgan_task import PDGANLoss, PDGANTrainer
from invimg.inpainting.prior import PartialConvUNet
from invimg.training import load_config, run_training
from invimg.training.export import export_run
from invimg.training.registry import get_task_factory
from invimg.zoo import load

TINY_PRIOR = {"width": 4, "max_width": 8, "levels": 3}


def recipe(folder: Path, out: Path, model: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "task": "inpainting",
        "model": model,
        "data": {
            "train": [str(folder / "train")],
            "val": [str(folder / "val")],
            "crop": 32,
            "val_crop": 32,
            "batch_size": 2,
            "num_workers": 0,
            "cache": True,
        },
        "steps": 2,
        "log_every": 1,
        "val_every": 2,
        "ckpt_every": 2,
        "out_dir": str(out),
        **extra,
    }


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for part in ("train", "val"):
        (d / part).mkdir()
        pixels = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(d / part / "photo.png")
    return d


def test_features_prior_and_pdgan_train_in_a_chain(photos: Path, tmp_path: Path) -> None:
    features = run_training(
        recipe(photos, tmp_path / "f", {"kind": "features", "widths": [4, 4, 4]})
    )
    prior = run_training(
        recipe(
            photos,
            tmp_path / "p",
            {"kind": "prior", "features": str(features), **TINY_PRIOR},
            loss={"perceptual": 0.05},
        )
    )
    model = {
        "kind": "pdgan",
        "prior": str(prior),
        "features": str(features),
        "widths": [8, 8, 8],
        "z_dim": 4,
        "hidden": 8,
        "d_width": 4,
        "d_layers": 2,
        "d_scales": 2,
    }
    out = run_training(recipe(photos, tmp_path / "g", model))
    rows = (out / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert {"adv", "fm", "l1", "perc", "div", "d", "val_psnr_sample"} <= set(header)
    last = dict(zip(header, rows[-1].split(",")))
    assert float(last["val_psnr_prior"]) > 5 and float(last["val_diversity"]) >= 0
    state = torch.load(out / "last.pt", weights_only=True)["model"]
    assert any(k.startswith("discriminator.") for k in state)
    assert not any(k.startswith("features") for k in state)
    card = export_run(out, "pdgan", tmp_path, {})  # the task's export hook: G only
    shipped = load(card.path)
    assert isinstance(shipped, PDGAN) and card.data["task"] == "inpainting"
    assert shipped.state_dict().keys() == PDGAN(shipped.config).state_dict().keys()


def test_each_network_gets_exactly_its_own_loss_gradient() -> None:
    torch.manual_seed(0)
    net = PDGAN(PDGAN.Config(widths=[8, 8, 8], z_dim=4, hidden=8, prior=TINY_PRIOR))
    torch.nn.init.normal_(net.to_image.weight, std=0.1)
    d = MultiScaleDiscriminator(DiscriminatorConfig(width=4, layers=2, scales=2))
    features = FeatureNet(FeatureNet.Config(widths=(4, 4, 4))).requires_grad_(False)
    trainer = PDGANTrainer(net, d, features, PDGANLoss(diversity_eps=1e-2)).eval()
    image, known = torch.rand(2, 3, 32, 32), torch.ones(2, 1, 32, 32)
    known[..., 8:24, 8:24] = 0

    def grads(pick: str) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        trainer.zero_grad(set_to_none=True)
        torch.manual_seed(1)
        total, terms = trainer(image, known)
        loss = {"all": total, "d": terms["d"], "g": total - terms["d"]}[pick]
        loss.backward()
        g = [
            p.grad.clone() if p.grad is not None else torch.zeros_like(p)
            for p in net.parameters()
            if p.requires_grad
        ]
        dd = [p.grad.clone() if p.grad is not None else torch.zeros_like(p) for p in d.parameters()]
        return g, dd

    g_all, d_all = grads("all")
    g_only, d_zero = grads("g")
    g_zero, d_only = grads("d")
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(g_all, g_only))
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(d_all, d_only))
    assert all(float(t.abs().sum()) == 0 for t in d_zero + g_zero)
    assert any(float(t.abs().sum()) > 0 for t in g_all) and any(
        float(t.abs().sum()) > 0 for t in d_all
    )
    assert all(not p.requires_grad for p in net.prior.parameters())


@pytest.mark.parametrize(
    ("model", "fragment"),
    [
        ({"kind": "unet"}, "model.kind"),
        ({"kind": "prior", "levels": 3, "width": 4, "colour": 1}, "colour"),
        ({"kind": "prior", "levels": 6}, "multiple of 64"),
        ({"kind": "pdgan", "features": "x"}, "model.prior"),
        ({"kind": "pdgan", "prior": "no-such-model", "features": "x"}, "no model"),
    ],
)
def test_bad_recipes_are_one_config_error(
    photos: Path, tmp_path: Path, model: dict[str, Any], fragment: str
) -> None:
    config = load_config(
        recipe(
            photos, tmp_path, model, loss={"perceptual": 0.0} if model["kind"] == "prior" else {}
        )
    )
    with pytest.raises(ConfigError, match=fragment):
        get_task_factory("inpainting")(config)


def test_prior_task_builds_the_configured_network(photos: Path, tmp_path: Path) -> None:
    config = load_config(
        recipe(photos, tmp_path, {"kind": "prior", **TINY_PRIOR}, loss={"perceptual": 0.0})
    )
    net = get_task_factory("inpainting")(config).build_model()
    assert isinstance(net, PartialConvUNet) and net.size_multiple == 8
