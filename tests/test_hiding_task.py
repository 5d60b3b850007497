"""The ``hiding`` training task: losses as published, batch split, a 3-step smoke run."""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invimg.errors import ConfigError
from invimg.hiding.base import HideResult, RevealResult
from invimg.hiding.deepmih import DeepMIH
from invimg.hiding.hinet import HiNet
from invimg.hiding.losses import HidingLossConfig, hiding_loss
from invimg.hiding.task import HidingTask, split_batch, warm_start
from invimg.training import get_task_factory, load_config, run_training
from invimg.zoo import build_model, load

RECIPES = Path(__file__).resolve().parents[1] / "src" / "invimg" / "training" / "recipes"


def test_loss_is_the_published_weighted_sum() -> None:
    cover, secret = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    stego, revealed = torch.full_like(cover, 0.5), torch.full_like(cover, 0.75)
    hidden = HideResult(stego=stego, lost=[], stages=[stego])
    total, terms = hiding_loss(
        cover, [secret], hidden, RevealResult([revealed], cover), HidingLossConfig()
    )
    hide = 48 * 0.25  # Σ (0.5 - 0)² over 3×4×4 pixels
    low = 12 * 1.0  # LL band = 2 × mean of 2×2 patches: (1.0 - 0)² over 3×2×2
    reveal = 48 * 0.0625
    assert terms == pytest.approx({"reveal": reveal, "hide": hide, "low_freq": low})
    assert float(total) == pytest.approx(5 * reveal + hide + low)


def test_loss_config_rejects_unknown_keys_and_values() -> None:
    with pytest.raises(ConfigError, match="unknown loss key"):
        HidingLossConfig.from_dict({"reveall": 1})
    with pytest.raises(ConfigError, match=r"loss\.z"):
        HidingLossConfig.from_dict({"z": "uniform"})


def test_split_batch_groups_and_flips() -> None:
    batch = torch.arange(5.0)[:, None, None, None].expand(5, 3, 2, 2)
    cover, (secret,) = split_batch(batch, 1)
    assert cover[:, 0, 0, 0].tolist() == [0, 1] and secret[:, 0, 0, 0].tolist() == [2, 3]
    single, flips = split_batch(batch[:1], 2, allow_flips=True)
    assert len(flips) == 2 and single.shape == flips[0].shape
    with pytest.raises(ConfigError):
        split_batch(batch[:1], 1)


HIDING_RECIPES = sorted(
    p.stem for pattern in ("hinet*.yaml", "deepmih*.yaml") for p in RECIPES.glob(pattern)
)


def test_the_issue_recipes_exist() -> None:
    assert {"hinet", "hinet-cpu", "deepmih2", "deepmih2-cpu"} <= set(HIDING_RECIPES)


@pytest.mark.parametrize("name", HIDING_RECIPES)
def test_recipes_validate_and_build_the_task(name: str, tmp_path: Path) -> None:
    config = load_config(RECIPES / f"{name}.yaml", [f"data.train=[{tmp_path}]"])
    task = get_task_factory(config.task)(config)
    secrets = 3 if "deepmih3" in name else 2 if "deepmih" in name else 1
    assert isinstance(task, HidingTask) and task.num_secrets == secrets


def test_three_secret_cascade_starts_from_the_shipped_two_secret_one() -> None:
    shipped = load("deepmih2-small")
    assert isinstance(shipped, DeepMIH)
    three = DeepMIH(dataclasses.replace(shipped.config, num_secrets=3))
    warm_start(three, "deepmih2-small")
    for mine, theirs in ((0, 0), (1, 1), (2, 1)):
        for a, b in zip(three.stages[mine].parameters(), shipped.stages[theirs].parameters()):
            assert torch.equal(a, b.float())
    cover = torch.rand(1, 3, 32, 32)
    two = shipped.float().hide(cover, [torch.rand(1, 3, 32, 32) for _ in range(2)])
    assert two.stego.shape == three.hide(cover, [torch.rand(1, 3, 32, 32)] * 3).stego.shape
    with pytest.raises(ConfigError, match="init_from 'hinet-small'"):
        warm_start(three, "hinet-small")
    with pytest.raises(ConfigError, match="only num_secrets may differ"):
        warm_start(DeepMIH(DeepMIH.Config(num_secrets=3, num_blocks=1)), "deepmih2-small")


def test_a_deeper_hinet_starts_as_the_shipped_one() -> None:
    shipped = load("hinet-small").float()
    assert isinstance(shipped, HiNet)
    deeper = HiNet(dataclasses.replace(shipped.config, num_blocks=shipped.config.num_blocks + 4))
    warm_start(deeper, "hinet-small")
    cover, secret = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        expected = shipped.hide(cover, [secret]).stego
        stego = deeper.hide(cover, [secret]).stego
        revealed = deeper.reveal(stego).secrets[0]
    torch.testing.assert_close(stego, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(revealed, shipped.reveal(expected).secrets[0], atol=1e-5, rtol=0)
    wider = HiNet(dataclasses.replace(shipped.config, num_blocks=16, growth=32))
    with pytest.raises(ValueError, match="cannot start one of 16 of growth 32"):
        wider.load_shallower(shipped)


def _photos(folder: Path, count: int = 4, size: int = 40, seed: int = 0) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        y, x = np.mgrid[0:size, 0:size]
        img = np.stack([np.sin(x * rng.uniform(0.1, 0.5)), np.cos(y * 0.3), np.sin(x + y)], -1)
        Image.fromarray(np.rint((img * 0.4 + 0.5) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


TINY = {
    "hinet": {"architecture": "hinet", "num_blocks": 2, "growth": 8},
    "deepmih": {
        "architecture": "deepmih",
        "num_secrets": 2,
        "num_blocks": 1,
        "growth": 8,
        "map_width": 8,
        "map_growth": 8,
    },
}


@pytest.mark.parametrize("arch", ["hinet", "deepmih"])
def test_three_training_steps_run_and_the_loss_is_finite(arch: str, tmp_path: Path) -> None:
    data, val = _photos(tmp_path / "photos"), _photos(tmp_path / "val", 3, seed=1)
    config = {
        "task": "hiding",
        "model": TINY[arch],
        "loss": {"z": "gaussian", "quantize": True},
        "data": {
            "train": [str(data)],
            "val": [str(val)],
            "crop": 32,
            "val_crop": 32,
            "batch_size": 3 if arch == "deepmih" else 4,
            "num_workers": 0,
        },
        "steps": 3,
        "log_every": 1,
        "val_every": 3,
        "ckpt_every": 3,
        "out_dir": str(tmp_path / "run"),
    }
    out = run_training(config)
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    losses = [float(r["loss"]) for r in rows if r.get("loss")]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses)
    assert math.isfinite(float(rows[-1]["val_psnr_stego"]))
    state = torch.load(out / "last.pt", map_location="cpu", weights_only=False)["model"]
    fields = {k: v for k, v in TINY[arch].items() if k != "architecture"}
    build_model(arch, fields).load_state_dict(state)
