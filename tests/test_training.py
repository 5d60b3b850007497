"""Tests of the shared trainer (invimg.training) on a tiny registered task.

The task learns ``x -> 1 - x`` with a two-layer conv net on 16×16 crops of
small generated PNGs, so every run takes well under a second on a CPU. The
same file is the per-rank entry point of the DDP test (run under torchrun
as a script, see ``_ddp_worker``).
"""

from __future__ import annotations

import csv
import itertools
import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from PIL import Image
from torch import Tensor, nn

from invimg.errors import ConfigError
from invimg.training import (
    TASKS,
    CenterCropDataset,
    DivergenceGuard,
    GuardConfig,
    RandomCropDataset,
    StepBatchSampler,
    Trainer,
    TrainingDivergedError,
    checkpoint_model_state,
    get_task_factory,
    image_files,
    load_checkpoint,
    load_config,
    register_task,
    resolve_files,
    run_training,
    split_train_val,
)
from invimg.training import data as data_module
from invimg.training.distributed import unwrap as ddp_unwrap
from invimg.training.metrics_log import MetricsLog

ROOT = Path(__file__).resolve().parents[1]


# -- the tiny task -----------------------------------------------------------------


class TinyTask:
    """``x -> 1 - x`` plus a little noise (so the RNG state matters for resume)."""

    def __init__(self, loss: dict[str, Any]) -> None:
        self.nan_at: set[int] = set(loss.get("nan_at", []))
        self.always_nan = bool(loss.get("always_nan", False))
        self.spike_at: set[int] = set(loss.get("spike_at", []))

    def build_model(self) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1)
        )

    def training_step(
        self, model: nn.Module, batch: Tensor, step: int
    ) -> tuple[Tensor, dict[str, float]]:
        noisy = batch + 0.01 * torch.randn_like(batch)
        loss = F.mse_loss(model(noisy), 1 - batch)
        if self.always_nan or step in self.nan_at:
            self.nan_at.discard(step)  # fires once: the retry after the rollback is clean
            loss = loss * float("nan")
        elif step in self.spike_at:
            self.spike_at.discard(step)
            loss = loss * 1e6
        return loss, {"mse": float(loss.detach())}

    def validation_step(self, model: nn.Module, batch: Tensor) -> dict[str, float]:
        from invimg.metrics import psnr

        return {"psnr": psnr(model(batch).clamp(0, 1), 1 - batch)}


@register_task("test-tiny")
def _tiny_factory(config: Any) -> TinyTask:
    return TinyTask(config.loss)


# -- fixtures and helpers --------------------------------------------------------------


def _write_images(
    folder: Path, count: int, size: tuple[int, int] = (24, 20), seed: int = 0
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_images(tmp_path_factory.mktemp("images"), 8)


def _config_dict(images: Path, out: Path, **top: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "task": "test-tiny",
        "data": {"train": [str(images)], "val_fraction": 0.25, "crop": 16, "batch_size": 4,
                 "num_workers": 0},
        "optim": {"lr": 1e-2, "grad_clip": 10.0},
        "guard": {"window": 5},
        "steps": 20, "log_every": 5, "val_every": 10, "ckpt_every": 10,
        "out_dir": str(out), "seed": 3, "deterministic": True,
    }  # fmt: skip
    for key, value in top.items():
        if isinstance(value, dict):
            cfg[key] = {**cfg.get(key, {}), **value}
        else:
            cfg[key] = value
    return cfg


def _train(images: Path, out: Path, overrides: tuple[str, ...] = (), **top: Any) -> Trainer:
    cfg = load_config(_config_dict(images, out, **top), overrides)
    trainer = Trainer(cfg, get_task_factory(cfg.task)(cfg))
    trainer.fit()
    return trainer


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "metrics.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _same_weights(a: dict[str, Tensor], b: dict[str, Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# -- training runs -------------------------------------------------------------------


def test_short_run_logs_checkpoints_and_learns(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    trainer = _train(images, out, steps=40, log_every=5, val_every=20, ckpt_every=20)
    for name in ("metrics.csv", "last.pt", "good.pt", "split.json", "config.yaml"):
        assert (out / name).is_file(), name
    rows = _rows(out)
    assert {"step", "lr", "seconds", "loss", "mse", "val_psnr"} <= rows[0].keys()
    losses = [float(r["loss"]) for r in rows if r["loss"]]
    assert len(losses) == 8 and losses[-1] < 0.5 * losses[0]
    assert [r["val_psnr"] != "" for r in rows].count(True) == 2
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["step"] == 40 and ckpt["task"] == "test-tiny"
    assert _same_weights(checkpoint_model_state(out / "good.pt"), trainer.export_state_dict())
    assert load_config(out / "config.yaml") == trainer.config


def test_resume_is_bit_identical_to_uninterrupted_run(images: Path, tmp_path: Path) -> None:
    schedule = {"milestones": [6, 11], "gamma": 0.5}
    common: dict[str, Any] = {"optim": schedule, "val_every": 4, "ckpt_every": 5, "log_every": 3}
    straight = _train(images, tmp_path / "a", steps=14, **common)
    _train(images, tmp_path / "b", steps=7, **common)
    resumed = _train(images, tmp_path / "b", overrides=("data.num_workers=2",), steps=14, **common)
    assert _same_weights(straight.export_state_dict(), resumed.export_state_dict())
    assert resumed.lr == straight.lr == pytest.approx(1e-2 * 0.25)
    steps = [int(r["step"]) for r in _rows(tmp_path / "b")]
    assert steps == sorted(set(steps)) == [3, 4, 6, 7, 8, 9, 12, 14]  # no step logged twice


def test_time_limited_calls_checkpoint_and_add_up_to_the_full_run(
    images: Path, tmp_path: Path
) -> None:
    common: dict[str, Any] = {"ckpt_every": 5, "log_every": 3}
    straight = _train(images, tmp_path / "a", steps=8, **common)
    first = _train(images, tmp_path / "b", steps=8, max_minutes=0.0, **common)
    assert first.step == 1  # stopped after one step, with a checkpoint to resume from
    assert load_checkpoint(tmp_path / "b" / "last.pt")["step"] == 1
    resumed = _train(images, tmp_path / "b", steps=8, **common)
    assert resumed.step == 8
    assert _same_weights(straight.export_state_dict(), resumed.export_state_dict())


def test_already_finished_run_is_left_alone(images: Path, tmp_path: Path) -> None:
    first = _train(images, tmp_path / "run", steps=5)
    again = _train(images, tmp_path / "run", steps=5)
    assert again.step == 5 and _same_weights(first.export_state_dict(), again.export_state_dict())


def test_guard_rolls_back_lowers_lr_and_finishes(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    trainer = _train(images, out, steps=20, ckpt_every=5, loss={"nan_at": [12]})
    assert trainer.step == 20 and trainer.guard.rollbacks == 1
    assert trainer.lr == pytest.approx(1e-2 * 0.5)
    assert all(torch.isfinite(v).all() for v in trainer.export_state_dict().values())
    events = [r["event"] for r in _rows(out) if r.get("event")]
    assert len(events) == 1 and "non-finite" in events[0] and "restored step 10" in events[0]
    assert load_checkpoint(out / "last.pt")["guard"]["lr_scale"] == pytest.approx(0.5)


def test_one_hard_batch_is_skipped_not_rolled_back(images: Path, tmp_path: Path) -> None:
    trainer = _train(images, tmp_path / "run", steps=15, loss={"spike_at": [11]})
    assert trainer.guard.rollbacks == 0 and trainer.guard.skipped == 1 and trainer.step == 15
    assert trainer.lr == pytest.approx(1e-2)  # the LR is not cut for one batch


def test_guard_rolls_back_on_a_lasting_spike(images: Path, tmp_path: Path) -> None:
    trainer = _train(images, tmp_path / "run", steps=15, loss={"spike_at": [11, 12, 13]})
    assert trainer.guard.rollbacks == 1 and trainer.step == 15
    assert trainer.lr == pytest.approx(1e-2 * 0.5)


def test_warmup_then_cosine_schedule(images: Path, tmp_path: Path) -> None:
    optim = {"schedule": "cosine", "warmup_steps": 4, "min_lr_ratio": 0.1}
    trainer = _train(images, tmp_path / "run", steps=12, optim=optim, log_every=1)
    lrs = [float(r["lr"]) for r in _rows(tmp_path / "run") if r["loss"]]
    assert lrs[:4] == pytest.approx([1e-2 * k / 4 for k in (2, 3, 4, 4)])  # logged after step
    assert all(a >= b for a, b in itertools.pairwise(lrs[3:]))  # then decays monotonically
    assert trainer.lr == pytest.approx(1e-3)  # to min_lr_ratio · lr at the last step


def test_ema_weights_are_validated_checkpointed_and_exported(images: Path, tmp_path: Path) -> None:
    trainer = _train(images, tmp_path / "a", steps=10, ckpt_every=5, ema=0.9)
    assert trainer.ema is not None
    raw = {k: v for k, v in ddp_unwrap(trainer.model).state_dict().items()}
    shipped = trainer.export_state_dict()
    assert not _same_weights(raw, shipped)  # the average lags the last step
    assert _same_weights(checkpoint_model_state(tmp_path / "a" / "last.pt"), shipped)
    _train(images, tmp_path / "b", steps=5, ckpt_every=5, ema=0.9)
    resumed = _train(images, tmp_path / "b", steps=10, ckpt_every=5, ema=0.9)
    assert _same_weights(resumed.export_state_dict(), shipped)  # the average resumes too


def test_bf16_autocast_only_where_native(
    images: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from invimg.training import trainer as trainer_module

    seen: list[torch.dtype] = []
    original = TinyTask.training_step

    def spy(self: TinyTask, model: nn.Module, batch: Tensor, step: int) -> Any:
        seen.append(model(batch).dtype)
        return original(self, model, batch, step)

    monkeypatch.setattr(TinyTask, "training_step", spy)
    for native, expected in ((True, torch.bfloat16), (False, torch.float32)):
        monkeypatch.setattr(trainer_module, "bf16_autocast_pays", lambda device, n=native: n)
        seen.clear()
        _train(images, tmp_path / f"run-{native}", steps=2, amp="auto")
        assert set(seen) == {expected}


def test_guard_gives_up_after_max_rollbacks(images: Path, tmp_path: Path) -> None:
    with pytest.raises(
        TrainingDivergedError, match=r"diverged at step 1 .*after 2 rollback"
    ) as err:
        _train(images, tmp_path / "run", guard={"max_rollbacks": 2}, loss={"always_nan": True})
    assert isinstance(err.value, ConfigError)


def test_guard_lr_cut_sticks_through_scheduler_and_compounds() -> None:
    model = nn.Linear(2, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1.0)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2], gamma=0.1)
    guard = DivergenceGuard(
        GuardConfig(max_rollbacks=3, lr_factor=0.5, window=3, spike_factor=4, patience=1)
    )
    guard.take_snapshot(0, model, opt, sched)
    assert guard.rollback(5, "test", model, opt, sched) == 0
    assert guard.rollback(6, "test", model, opt, sched) == 0
    assert opt.param_groups[0]["lr"] == sched.base_lrs[0] == pytest.approx(0.25)
    for _ in range(2):
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)
    for loss in (1.0, 2.0, 3.0):
        assert guard.check(loss, nonfinite=False) is None
        guard.record(loss)
    assert guard.check(7.9, nonfinite=False) is None
    assert "spike" in str(guard.check(8.1, nonfinite=False))
    assert "non-finite" in str(guard.check(math.nan, nonfinite=False))


# -- config ----------------------------------------------------------------------------


def test_yaml_config_with_dotted_overrides(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(
        "task: test-tiny\nmodel: {width: 4}\ndata: {train: [a], crop: 32}\n"
        "optim: {lr: 1e-3, betas: [0.5, 0.9]}\nguard: {spike_factor: null}\n"
    )
    cfg = load_config(
        path,
        ["optim.lr=1e-4", "data.train=[x, y]", "model.depth=3", "amp=bf16", "optim.grad_clip=1"],
    )
    assert cfg.optim.lr == 1e-4 and isinstance(cfg.optim.lr, float)
    assert cfg.optim.betas == (0.5, 0.9) and cfg.optim.grad_clip == 1.0
    assert cfg.data.train == ["x", "y"] and cfg.data.crop == 32
    assert cfg.model == {"width": 4, "depth": 3} and cfg.amp == "bf16"
    assert cfg.guard.spike_factor is None


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optim.lrr=1"], "unknown config key 'optim.lrr'"),
        (["bogus=1"], "unknown config key 'bogus'"),
        (["data.crop=big"], "'data.crop': expected an integer"),
        (["amp=fp16"], "amp must be one of"),
        (["data.val_fraction=1.5"], "val_fraction"),
        (["optim.lr"], "expected key=value"),
        (["optim=3"], "optim: expected a mapping"),
    ],
)
def test_bad_config_is_one_clear_error(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_config({"task": "t", "data": {"train": ["a"]}}, overrides)
    assert "\n" not in str(err.value)


# -- data --------------------------------------------------------------------------------


def test_image_files_recursive_sorted_and_filtered(tmp_path: Path) -> None:
    _write_images(tmp_path / "b" / "deep", 2)
    _write_images(tmp_path / "a", 2)
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "a" / "UPPER.JPG").write_bytes(b"")
    found = image_files([tmp_path, tmp_path / "a" / "img00.png"])
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == [
        "a/UPPER.JPG",
        "a/img00.png",
        "a/img01.png",
        "b/deep/img00.png",
        "b/deep/img01.png",
    ]
    with pytest.raises(ConfigError, match="does not exist"):
        image_files([tmp_path / "missing"])


def test_div2k_layout_gives_train_and_val(tmp_path: Path) -> None:
    _write_images(tmp_path / "DIV2K" / "DIV2K_train_HR", 3)
    _write_images(tmp_path / "DIV2K" / "DIV2K_valid_HR", 2, seed=1)
    _write_images(tmp_path / "DIV2K" / "DIV2K_train_LR_bicubic" / "X4", 3)
    cfg = load_config({"task": "t", "data": {"train": [str(tmp_path / "DIV2K")]}})
    train, val = resolve_files(cfg.data, seed=0)
    assert [p.parent.name for p in train] == ["DIV2K_train_HR"] * 3
    assert [p.parent.name for p in val] == ["DIV2K_valid_HR"] * 2


def test_split_is_deterministic_disjoint_and_sticky(tmp_path: Path) -> None:
    files = [Path(f"/d/{i:03d}.png") for i in range(50)]
    train, val = split_train_val(files, 0.2, seed=7)
    assert len(val) == 10 and not set(train) & set(val) and sorted(train + val) == files
    assert split_train_val(list(reversed(files)), 0.2, seed=7)[1] == list(reversed(val))
    assert split_train_val(files, 0.2, seed=8)[1] != val
    folder = _write_images(tmp_path / "imgs", 8)
    cfg = load_config({"task": "t", "data": {"train": [str(folder)], "val_fraction": 0.25}})
    split = tmp_path / "split.json"
    data_module.write_split(split, *resolve_files(cfg.data, seed=0))
    held = resolve_files(cfg.data, seed=0)[1]
    _write_images(tmp_path / "imgs" / "more", 4, seed=5)  # new photos arrive ...
    cfg.data.val_fraction = 0.5  # ... and the fraction changes: the held-out photos stay put
    train, val = resolve_files(cfg.data, seed=0, previous_split=split)
    assert {p.name for p in val} == {p.name for p in held} and not {p.name for p in train} & {
        p.name for p in val
    }


def test_random_crops_are_reproducible_and_augmented(images: Path) -> None:
    files = image_files([images])
    ds = RandomCropDataset(files, 16, samples_per_epoch=5, augment=True, cache=True, seed=1)
    again = RandomCropDataset(files, 16, augment=True, cache=False, seed=1)
    x = ds[3]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1
    assert len(ds) == 5 and len(again) == len(files)
    assert all(torch.equal(ds[k], again[k]) for k in (0, 3, 17, 1000))
    assert not torch.equal(ds[0], ds[1])
    ds.set_epoch(1)
    assert torch.equal(ds[0], again[5])
    sampler = iter(StepBatchSampler(4, start=2, rank=1, world_size=2))
    assert next(sampler) == [20, 21, 22, 23] and next(sampler) == [28, 29, 30, 31]


def test_small_images_are_skipped_or_rejected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    big = _write_images(tmp_path / "big", 2, size=(20, 20))
    small = _write_images(tmp_path / "small", 1, size=(8, 8), seed=2)
    ds = RandomCropDataset(image_files([big, small]), 16)
    assert len(ds.source) == 2 and "skipping 1 image" in caplog.text
    with pytest.raises(ConfigError, match="at least 16×16"):
        RandomCropDataset(image_files([small]), 16)


def test_center_crops_are_deterministic_and_trimmed(images: Path) -> None:
    files = image_files([images])[:2]
    full = CenterCropDataset(files, None, multiple=8)
    assert full[0].shape == (3, 16, 24)
    crop = CenterCropDataset(files, 12)
    assert crop[1].shape == (3, 12, 12) and torch.equal(crop[1], full[1][:, 2:14, 6:18])


def test_metrics_log_truncates_on_resume_and_widens(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path)
    log.write({"step": 1, "loss": 1.0})
    log.write({"step": 2, "loss": 0.5, "val_psnr": 20.0})
    log.write({"step": 3, "loss": 0.25})
    MetricsLog(path, keep_rows=2).write({"step": 3, "loss": 0.3, "event": "x"})
    rows = _rows(tmp_path)
    assert [r["step"] for r in rows] == ["1", "2", "3"] and rows[2]["loss"] == "0.3"
    assert list(rows[0]) == ["step", "lr", "seconds", "loss", "val_psnr", "event"]


def test_unknown_task_and_duplicate_registration() -> None:
    with pytest.raises(ConfigError, match=r"unknown training task 'nope'.*test-tiny"):
        get_task_factory("nope")
    with pytest.raises(ValueError, match="already registered"):
        register_task("test-tiny")(lambda cfg: TinyTask({}))
    assert TASKS["test-tiny"] is _tiny_factory


def test_cli_reports_config_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from invimg.training.__main__ import main

    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({"task": "test-tiny", "data": {"train": ["x"]}, "stepz": 1}))
    assert main([str(path)]) == ConfigError.exit_code
    assert "unknown config key 'stepz'" in capsys.readouterr().err
    path.write_text(yaml.safe_dump({"task": "test-tiny", "data": {"train": ["/nonexistent"]}}))
    with pytest.raises(ConfigError, match="does not exist: /nonexistent"):
        run_training(path, [f"out_dir={tmp_path / 'run'}"])


# -- distributed -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _torchrun(config: Path, weights: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
        "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
        __file__, str(config), str(weights),
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.slow
def test_ddp_two_ranks_stay_identical_and_resume(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    path = tmp_path / "ddp.yaml"
    cfg = _config_dict(images, out, ckpt_every=3, val_every=3, deterministic=False)
    path.write_text(yaml.safe_dump(cfg))
    _torchrun(path, tmp_path)  # ~17 s, almost all of it importing torch._dynamo on 3 processes
    for steps, resumed_from in DDP_PHASES:
        rank0, rank1 = (torch.load(tmp_path / f"rank{r}_{steps}.pt") for r in (0, 1))
        assert rank0["start"] == rank1["start"] == resumed_from
        assert rank0["step"] == rank1["step"] == steps
        assert not any(k.startswith("module.") for k in rank0["weights"])
        assert _same_weights(rank0["weights"], rank1["weights"])
    assert _same_weights(rank0["weights"], checkpoint_model_state(out / "last.pt"))
    assert [int(r["step"]) for r in _rows(out) if r["loss"]] == [5, 6, 10]


#: (steps, expected start step) of the two DDP runs: the second resumes from last.pt.
DDP_PHASES = ((6, 0), (10, 6))


def _ddp_worker(config: str, weights: str) -> None:
    """One rank of the DDP test: train, resume with a fresh Trainer, save each rank's weights.

    Both runs share one torchrun launch because starting the ranks (importing
    torch and torch._dynamo on a loaded 2-core box) costs far more than training.
    """
    from invimg.training import load_config, shutdown_distributed

    for steps, _ in DDP_PHASES:
        cfg = load_config(config, [f"steps={steps}"])
        trainer = Trainer(cfg, get_task_factory(cfg.task)(cfg))
        start = trainer.step
        trainer.fit()
        state = {"start": start, "step": trainer.step, "weights": trainer.export_state_dict()}
        torch.save(state, Path(weights) / f"rank{trainer.dist.rank}_{steps}.pt")
    shutdown_distributed()


if __name__ == "__main__":
    _ddp_worker(*sys.argv[1:])
