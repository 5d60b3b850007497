"""The ``rescaling`` training task: published losses, config checks, a 3-step run."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from invimg.errors import ConfigError
from invimg.rescaling import IRN, IRNColor
from invimg.rescaling.losses import bicubic_downscale, charbonnier, latent_nll, sum_squares
from invimg.rescaling.task import RescalingTask, rescaling_task
from invimg.training import load_config, run_training

RECIPES = Path(__file__).resolve().parents[1] / "src" / "invimg" / "training" / "recipes"


def _config(tmp_path: Path, model: dict[str, Any], **data: Any) -> dict[str, Any]:
    return {
        "task": "rescaling",
        "model": model,
        "data": {
            "train": [str(tmp_path / "train")],
            "val": [str(tmp_path / "val")],
            "crop": 16,
            "batch_size": 2,
            "num_workers": 0,
            "size_multiple": 4,
            **data,
        },
        "steps": 3,
        "log_every": 1,
        "val_every": 3,
        "ckpt_every": 3,
        "out_dir": str(tmp_path / "run"),
    }


def _images(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, count in (("train", 2), ("val", 1)):
        (tmp_path / split).mkdir()
        for i in range(count):
            pixels = rng.integers(0, 256, (24, 28, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(tmp_path / split / f"{i}.png")


def test_three_step_training_run(tmp_path: Path) -> None:
    _images(tmp_path)
    out = run_training(_config(tmp_path, {"kind": "irn", "scale": 2, "blocks": 1, "growth": 4}))
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["step"] for r in rows][-1] == "3"
    last = rows[-1]
    for key in ("fit", "latent", "rec", "val_psnr_y_z0", "val_psnr_y_zgauss", "val_psnr_y_lr"):
        assert np.isfinite(float(last[key])), key
    assert (out / "last.pt").is_file()


def test_warm_start_from_a_shipped_card(tmp_path: Path) -> None:
    from invimg.training.export import export_run

    _images(tmp_path)
    model = {"kind": "irn", "scale": 2, "blocks": 1, "growth": 4}
    out = run_training(_config(tmp_path, model))
    card_path = export_run(out, "irn-tiny", tmp_path / "zoo", {}).path
    task = rescaling_task(load_config(_config(tmp_path, {**model, "init_from": str(card_path)})))
    warm = task.build_model().state_dict()
    trained = torch.load(out / "last.pt", weights_only=False)["model"]
    assert all(torch.allclose(warm[k], trained[k].half().float()) for k in trained)
    wrong = {**model, "growth": 8, "init_from": str(card_path)}
    with pytest.raises(ConfigError, match="init_from"):
        rescaling_task(load_config(_config(tmp_path, wrong))).build_model()


def test_color_kind_trains_with_z_zero(tmp_path: Path) -> None:
    cfg = load_config(
        _config(tmp_path, {"kind": "irn-color", "blocks": 1, "growth": 4}, size_multiple=1)
        | {"data": {"train": ["x"], "crop": 8}}
    )
    task = rescaling_task(cfg)
    assert task.fit_weight == 3.0 and task.z_scale == 0.0
    model = task.build_model()
    assert isinstance(model, IRNColor)
    loss, terms = task.training_step(model, torch.rand(2, 3, 8, 8), 0)
    loss.backward()
    assert set(terms) == {"fit", "latent", "rec"} and terms["fit"] < 1e-6  # starts at the luma
    assert "psnr_grey" in task.validation_step(model.eval(), torch.rand(1, 3, 8, 8))


def test_loss_terms_follow_the_published_reductions() -> None:
    cfg = load_config(
        {
            "task": "rescaling",
            "model": {"scale": 2, "blocks": 1, "growth": 4},
            "data": {"train": ["x"], "crop": 8, "size_multiple": 2},
        }
    )
    task = rescaling_task(cfg)
    assert task.fit_weight == 4.0 and task.z_scale == 1.0  # scale² and z ~ N(0, I)
    model = task.build_model()
    assert isinstance(model, IRN)
    x = torch.rand(3, 3, 8, 8)
    torch.manual_seed(5)
    _, terms = task.training_step(model, x, 0)
    with torch.no_grad():
        lr, z = model.encode(x)
    assert terms["fit"] == pytest.approx(4 * float(sum_squares(lr, bicubic_downscale(x, 2))), 1e-5)
    assert terms["latent"] == pytest.approx(float(latent_nll(z)), 1e-5)
    a, b = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    assert float(charbonnier(a, b)) == pytest.approx(4 * (1 + 1e-6) ** 0.5)
    assert float(sum_squares(a, b)) == 4.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": {"kind": "srgan"}}, "model.kind"),
        ({"model": {"scale": 2, "depth": 3}}, "unknown model keys"),
        ({"model": {"scale": 3}}, "power-of-two"),
        ({"loss": {"rec_criterion": "huber"}}, "criterion"),
        ({"data": {"train": ["x"], "crop": 18, "size_multiple": 4}}, "multiple of the scale"),
        (
            {"model": {"kind": "irn-color", "haar": True}, "data": {"train": ["x"], "crop": 16}},
            "size_multiple: 2",
        ),
    ],
)
def test_bad_task_config_is_one_clear_error(change: dict[str, Any], message: str) -> None:
    raw = {
        "task": "rescaling",
        "model": {"scale": 4},
        "data": {"train": ["x"], "crop": 16, "size_multiple": 4},
    } | change
    with pytest.raises(ConfigError, match=message):
        rescaling_task(load_config(raw))


def test_shipped_recipes_build() -> None:
    recipes = sorted(RECIPES.glob("irn*.yaml"))
    assert {"irn-x2", "irn-x4", "irn-x2-cpu", "irn-x4-cpu", "irn-color-cpu"} <= {
        p.stem for p in recipes
    }
    for path in recipes:
        task = rescaling_task(load_config(path))
        if isinstance(task, RescalingTask) and not path.stem.endswith("-cpu"):
            assert task.fit_weight in (3.0, float(task.scale**2)), path.name  # as published
        elif isinstance(task, RescalingTask):
            assert task.fit_weight > 0, path.name
        else:
            assert task.init_from and task.quality == 90, path.name
