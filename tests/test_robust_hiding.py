"""Robust hiding end to end: the training task, the recipes, the API's channel, the CLI's JPEG."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import invimg
from invimg.errors import ConfigError, ModelError, UsageError
from invimg.hiding import RIIS, HiNet
from invimg.hiding import api as hiding_api
from invimg.hiding.robust_task import RobustHidingTask
from invimg.interfaces import cli
from invimg.io import read_metadata
from invimg.training import get_task_factory, load_config, run_training
from invimg.zoo import save_pretrained

RECIPES = Path(__file__).resolve().parents[1] / "src" / "invimg" / "training" / "recipes"
TINY_FLOW = {"num_blocks": 1, "growth": 8}
TINY_NETS = {"features": 8, "enhance_blocks": 1, "project_blocks": 1, "condition_width": 8}


def _randomised(model: torch.nn.Module, scale: float = 0.02) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model


@pytest.fixture(scope="module")
def cards(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny HiNet and a tiny RIIS with their cards."""
    d = tmp_path_factory.mktemp("models")
    hinet = _randomised(HiNet(HiNet.Config(**TINY_FLOW)))
    riis = _randomised(RIIS(RIIS.Config(**TINY_FLOW, **TINY_NETS)))
    return {
        "hinet": save_pretrained(hinet, d, "tiny-hinet", {"task": "hiding"}).path,
        "riis": save_pretrained(riis, d, "tiny-riis", {"task": "hiding"}).path,
    }


def _photos(folder: Path, count: int = 4, size: int = 48, seed: int = 0) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(seed)
    for i in range(count):
        y, x = np.mgrid[0:size, 0:size]
        img = np.stack([np.sin(x * rng.uniform(0.1, 0.5)), np.cos(y * 0.3), np.sin(x + y)], -1)
        Image.fromarray(np.rint((img * 0.4 + 0.5) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def _config(tmp_path: Path, cards: dict[str, Path], **loss: object) -> dict[str, object]:
    data, val = _photos(tmp_path / "photos"), _photos(tmp_path / "val", 2, seed=1)
    return {
        "task": "robust_hiding",
        "model": {
            "architecture": "riis",
            "init_from": str(cards["hinet"]),
            **TINY_FLOW,
            **TINY_NETS,
        },
        "loss": {"distortions": {"jpeg": {"weight": 1, "low": 60, "high": 90}}, **loss},
        "data": {
            "train": [str(data)],
            "val": [str(val)],
            "crop": 32,
            "val_crop": 32,
            "batch_size": 4,
            "num_workers": 0,
        },
        "steps": 3,
        "log_every": 1,
        "val_every": 3,
        "ckpt_every": 3,
        "out_dir": str(tmp_path / "run"),
    }


def test_task_starts_from_the_hinet_and_trains_through_the_channel(
    tmp_path: Path, cards: dict[str, Path]
) -> None:
    config = load_config(_config(tmp_path, cards))
    task = get_task_factory("robust_hiding")(config)
    assert isinstance(task, RobustHidingTask)
    model = task.build_model()
    assert isinstance(model, RIIS)
    hinet = invimg.load(cards["hinet"])
    assert all(torch.equal(v, hinet.state_dict()[k]) for k, v in model.flow.state_dict().items())
    assert (
        task.mixture.sample(task.generator(7)).spec == task.mixture.sample(task.generator(7)).spec
    )
    out = run_training(config)
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["step"] for r in rows if r.get("loss")] == ["1", "2", "3"]
    assert all(math.isfinite(float(r["loss"])) for r in rows if r.get("loss"))
    for name in ("stego", "secret_png", "secret_jpeg90", "secret_jpeg75", "secret_gaussian2"):
        assert math.isfinite(float(rows[-1][f"val_psnr_{name}"]))


def test_task_refuses_bad_recipes(tmp_path: Path, cards: dict[str, Path]) -> None:
    good = _config(tmp_path, cards)
    bad_loss = {**good, "loss": {"reveall": 1}}
    with pytest.raises(ConfigError, match="unknown loss key"):
        RobustHidingTask(load_config(bad_loss))
    bad_mixture = {**good, "loss": {"distortions": {"jpeg": {"low": 95, "high": 50}}}}
    with pytest.raises(ConfigError, match=r"loss\.distortions"):
        RobustHidingTask(load_config(bad_mixture))
    other_shape = {**good, "model": {**good["model"], "num_blocks": 2}}  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="init_from"):
        RobustHidingTask(load_config(other_shape)).build_model()


@pytest.mark.parametrize("name", ["riis", "riis-small-cpu"])
def test_recipes_validate(name: str, tmp_path: Path) -> None:
    config = load_config(RECIPES / f"{name}.yaml", [f"data.train=[{tmp_path}]"])
    task = get_task_factory(config.task)(config)
    assert isinstance(task, RobustHidingTask) and len(task.mixture.entries) >= 3


def test_api_reads_the_channel_from_a_jpeg_and_refuses_it_for_hinet(
    tmp_path: Path, cards: dict[str, Path]
) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "s.jpg", quality=80)
    Image.fromarray(pixels).save(tmp_path / "s.png")
    assert hiding_api.guess_channel(tmp_path / "s.jpg") == "jpeg:80"
    assert hiding_api.guess_channel(tmp_path / "s.png") is None
    riis = hiding_api.resolve_model(cards["riis"])
    chosen = hiding_api.reveal_channel(riis, tmp_path / "s.jpg", None)
    assert chosen is not None and chosen.spec == "jpeg:80"
    by_file = invimg.reveal(tmp_path / "s.jpg", model=riis)[0]
    told = invimg.reveal(np.asarray(Image.open(tmp_path / "s.jpg")), model=riis, channel="jpeg:80")
    assert np.array_equal(by_file, told[0])
    with pytest.raises(UsageError, match="not a robust model"):
        invimg.reveal(pixels, model=cards["hinet"], channel="jpeg:80")
    with pytest.raises(UsageError, match="channel"):
        invimg.reveal(pixels, model=riis, channel="blur:2")


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    cli._register_commands()
    return CliRunner()


def test_cli_writes_jpeg_only_for_robust_models(
    runner: CliRunner, cards: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(2)
    for name in ("c", "s"):
        Image.fromarray(rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)).save(
            tmp_path / f"{name}.png"
        )
    base = ["hide", str(tmp_path / "c.png"), str(tmp_path / "s.png")]
    refused = runner.invoke(
        cli.app, [*base, "-o", str(tmp_path / "a.jpg"), "--model", str(cards["hinet"])]
    )
    assert refused.exit_code == 2 and "lossy compression" in refused.output
    assert not (tmp_path / "a.jpg").exists()
    # --robust takes the shipped robust model: here the tiny RIIS stands in for it
    monkeypatch.setattr(hiding_api, "default_robust_model", lambda: str(cards["riis"]))
    args = [*base, "-o", str(tmp_path / "b.jpg"), "--robust", "--quality", "85"]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    with Image.open(tmp_path / "b.jpg") as image:
        assert (
            image.format == "JPEG"
            and invimg.distortions.estimate_jpeg_quality(image.quantization) == 85
        )
    assert read_metadata(tmp_path / "b.jpg")["invimg:model"] == str(cards["riis"].resolve())
    result = runner.invoke(
        cli.app, ["reveal", str(tmp_path / "b.jpg"), "-o", str(tmp_path / "r.png")]
    )
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output and Image.open(tmp_path / "r.png").size == (28, 20)
    not_robust = runner.invoke(
        cli.app, [*base, "-o", str(tmp_path / "x.png"), "--robust", "--model", str(cards["hinet"])]
    )
    assert not_robust.exit_code == 2 and "not robust" in not_robust.output
    bad_channel = runner.invoke(
        cli.app,
        ["reveal", str(tmp_path / "b.jpg"), "-o", str(tmp_path / "q.png"), "--channel", "blur"],
    )
    assert bad_channel.exit_code == 2 and not (tmp_path / "q.png").exists()


def test_robust_default_names_what_to_do_when_none_is_shipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hiding_api, "ROBUST_MODELS", ("no-such-model",))
    with pytest.raises(ModelError, match="no robust hiding model"):
        hiding_api.default_robust_model()
