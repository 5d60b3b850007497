"""The one trainer every invimg task plugs into.

A task supplies a model, a loss and validation metrics (see
:class:`~invimg.training.registry.TrainingTask`); the trainer owns
everything else: data, Adam with warm-up and step or cosine decay,
clipping, bf16 autocast (CUDA, and CPUs with native bf16), an exponential
moving average of the weights (what is validated and shipped), DDP,
logging, validation, checkpoints, automatic resume and the divergence
guard. Determinism is a design goal: the batch of step ``s`` depends only on
``(seed, s)`` and all RNG states are checkpointed, so a resumed run ends
with exactly the weights an uninterrupted one would have.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.optim import Adam
from torch.optim.lr_scheduler import LambdaLR
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader
from tqdm import tqdm

from invimg.errors import ConfigError, ModelError

from . import distributed as ddp
from .checkpoint import (
    CHECKPOINT_VERSION,
    atomic_copy,
    atomic_save,
    export_state_dict,
    load_checkpoint,
    rng_state,
    set_rng_state,
)
from .config import OptimConfig, TrainConfig, config_to_dict, load_config, save_config
from .data import CenterCropDataset, RandomCropDataset, StepBatchSampler, resolve_files, write_split
from .guard import DivergenceGuard, params_finite
from .metrics_log import MetricsLog, Value
from .registry import TrainingTask, get_task_factory
from .runtime import bf16_autocast_pays, deterministic, rng_preserved, seed_everything

log = logging.getLogger("invimg.training")

LAST, GOOD, SPLIT, METRICS = "last.pt", "good.pt", "split.json", "metrics.csv"


class _Meter:
    """Means of the loss terms since the last log line."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, terms: Mapping[str, float]) -> None:
        for key, value in terms.items():
            self.sums[key] = self.sums.get(key, 0.0) + float(value)
        self.count += 1

    def pop(self) -> dict[str, float]:
        means = {k: v / max(self.count, 1) for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return means


class Trainer:
    """Fits ``task`` as described by ``config``; resumes from ``out_dir/last.pt`` if present."""

    def __init__(self, config: TrainConfig, task: TrainingTask) -> None:
        self.config, self.task = config, task
        self.dist = ddp.init_distributed()
        self.device = ddp.device_for(self.dist)
        self.out_dir = Path(config.out_dir)
        self.bf16 = config.amp != "off" and bf16_autocast_pays(self.device)
        if config.amp == "bf16" and not self.bf16 and self.dist.is_main:
            log.warning(
                "no native bf16 on %s (emulated bf16 is slower); training in fp32", self.device
            )
        seed_everything(config.seed)  # identical initial weights on every rank
        try:
            model = task.build_model().to(self.device)
        except ModelError as exc:  # e.g. a model value the architecture refuses
            raise ConfigError(f"model: {exc}") from None
        self.model = ddp.wrap_model(model, self.device)
        seed_everything(config.seed + self.dist.rank)  # each rank its own task randomness
        o = config.optim
        self.optimizer = Adam(
            self.model.parameters(), lr=o.lr, betas=o.betas, eps=o.eps, weight_decay=o.weight_decay
        )
        self.scheduler = LambdaLR(self.optimizer, lr_factor(o, config.steps))
        self.ema = _ema_model(model, config.ema) if config.ema else None
        self.guard = DivergenceGuard(config.guard)
        self.step = self.batches_seen = self.log_rows = 0
        self.elapsed = 0.0
        self.train_files, self.val_files = self._prepare_out_dir()
        self._resume()

    # -- setup -----------------------------------------------------------------

    def _prepare_out_dir(self) -> tuple[list[Path], list[Path]]:
        """Resolve the split on every rank (deterministic); rank 0 records it."""
        split = self.out_dir / SPLIT
        train, val = resolve_files(self.config.data, self.config.seed, split)
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            write_split(split, train, val)
            save_config(self.config, self.out_dir / "config.yaml")
        ddp.barrier()
        return train, val

    def _resume(self) -> None:
        path = self.out_dir / LAST
        found = ddp.gather_objects(path.exists())
        if any(found) and not all(found):
            raise ConfigError(f"{path} is visible to some ranks only; out_dir must be shared")
        if not found[0]:
            return
        ckpt = load_checkpoint(path)
        if not _finite_state(ckpt["model"]) and (self.out_dir / GOOD).exists():
            log.warning("%s holds non-finite weights; resuming from %s", path, GOOD)
            ckpt = load_checkpoint(self.out_dir / GOOD)
        if ckpt.get("task") != self.config.task:
            raise ConfigError(
                f"{path} was trained for task {ckpt.get('task')!r}, not {self.config.task!r}; "
                "use another out_dir"
            )
        ddp.unwrap(self.model).load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        # the schedule itself comes from the config (older checkpoints hold a MultiStepLR)
        self.scheduler.load_state_dict({"lr_lambdas": [None], **ckpt["scheduler"]})
        if self.ema is not None:
            if "ema" in ckpt:
                self.ema.load_state_dict(ckpt["ema"])
            else:  # resuming a run that had no average: start it from the weights
                self.ema.module.load_state_dict(ddp.unwrap(self.model).state_dict())
        self.guard.load_state_dict(ckpt["guard"])
        self.step, self.batches_seen = int(ckpt["step"]), int(ckpt["batches_seen"])
        self.elapsed, self.log_rows = float(ckpt["elapsed"]), int(ckpt["log_rows"])
        rngs = ckpt["rng"]
        if len(rngs) == self.dist.world_size:
            set_rng_state(rngs[self.dist.rank])
        else:  # world size changed: still deterministic, no longer bit-identical
            seed_everything(self.config.seed + self.dist.rank + 1_000_003 * self.step)
        if self.dist.is_main:
            log.info("resumed from %s at step %d", path, self.step)

    def _train_loader(self) -> DataLoader[Tensor]:
        d = self.config.data
        dataset = RandomCropDataset(
            self.train_files, d.crop, None, d.augment, d.cache,
            seed=self.config.seed, scale_down=d.scale_down,
        )  # fmt: skip
        sampler = StepBatchSampler(
            d.batch_size, self.batches_seen, self.dist.rank, self.dist.world_size
        )
        return DataLoader(
            dataset,
            batch_sampler=sampler,
            num_workers=d.num_workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator(),  # never draw from the global RNG
        )

    def _val_loader(self) -> DataLoader[Tensor]:
        d = self.config.data
        shard = self.val_files[self.dist.rank :: self.dist.world_size]
        dataset = CenterCropDataset(
            shard, d.val_crop, d.size_multiple, d.cache, scale_down=d.scale_down
        )
        return DataLoader(
            dataset,
            batch_size=d.batch_size if d.val_crop else 1,
            num_workers=d.num_workers,
            generator=torch.Generator(),
        )

    # -- the loop --------------------------------------------------------------

    def fit(self) -> Path:
        """Train to ``config.steps`` and return ``out_dir`` (holding last.pt, metrics.csv)."""
        cfg = self.config
        if self.step >= cfg.steps:
            log.info("already trained to step %d (steps=%d)", self.step, cfg.steps)
            return self.out_dir
        with deterministic(cfg.deterministic):
            self._fit()
        ddp.barrier()
        return self.out_dir

    def _fit(self) -> None:
        cfg = self.config
        main = self.dist.is_main
        self._log = MetricsLog(self.out_dir / METRICS, self.log_rows) if main else None
        self._val = self._val_loader() if self.val_files else None
        self.guard.take_snapshot(self.step, ddp.unwrap(self.model), self.optimizer, self.scheduler)
        batches = iter(self._train_loader())
        meter = _Meter()
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not main, dynamic_ncols=True)
        started = time.monotonic() - self.elapsed
        call_started = time.monotonic()
        try:
            while self.step < cfg.steps:
                batch = next(batches)
                self.batches_seen += 1
                terms, reason = self._optimise(batch)
                self.elapsed = time.monotonic() - started
                if reason is not None:
                    self._roll_back(reason)
                    meter.pop()
                    bar.n = self.step
                    bar.refresh()
                    continue
                self.step += 1
                bar.update(1)
                meter.add(terms)
                self._after_step(meter, bar, started)
                if self._out_of_time(call_started):
                    break
        finally:
            bar.close()
            del batches  # stops loader workers

    def _optimise(self, batch: Tensor) -> tuple[dict[str, float], str | None]:
        """One forward/backward; the update is applied only if the guard agrees."""
        self.model.train()
        batch = batch.to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():  # tasks keep their invertible arithmetic in fp32 inside
            loss, terms = self.task.training_step(self.model, batch, self.step)
        if loss.dim() != 0:
            raise ValueError(
                f"training_step must return a scalar loss, got shape {tuple(loss.shape)}"
            )
        loss.backward()  # on every rank, even a bad one: DDP's all-reduce needs all of them
        params = [p for p in self.model.parameters() if p.grad is not None]
        grads = [p.grad for p in params if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads) if grads else loss.new_zeros(())
        local_loss, local_norm = torch.stack([loss.detach().float(), norm.float()]).tolist()
        bad = not (math.isfinite(local_loss) and math.isfinite(local_norm))
        mean_loss, any_bad = ddp.reduce_step_signal(local_loss, bad, self.device)
        reason = self.guard.check(mean_loss, any_bad)
        if reason is not None:
            self.optimizer.zero_grad(set_to_none=True)
            return {}, reason
        skipped = self.guard.skip()
        if skipped:  # a short spike: one hard batch, not divergence
            self.optimizer.zero_grad(set_to_none=True)
        else:
            if self.config.optim.grad_clip is not None and params:
                torch.nn.utils.clip_grads_with_norm_(params, self.config.optim.grad_clip, norm)
            self.optimizer.step()
            self.guard.record(mean_loss)
            if self.ema is not None:
                self.ema.update_parameters(ddp.unwrap(self.model))
        self.scheduler.step()
        values = {k: float(v) for k, v in terms.items() if k != "loss"}
        return {"loss": mean_loss, **values, "skipped": float(skipped)}, None

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _roll_back(self, reason: str) -> None:
        """Restore the last good snapshot with a lower LR (raises when out of rollbacks)."""
        failed = self.step + 1
        model = ddp.unwrap(self.model)
        self.step = self.guard.rollback(failed, reason, model, self.optimizer, self.scheduler)
        if self.ema is not None:  # the average took in the diverging steps: restart it here
            self.ema.module.load_state_dict(model.state_dict())
        lr = self.lr
        event = (
            f"rollback {self.guard.rollbacks}/{self.config.guard.max_rollbacks}: {reason} at "
            f"step {failed}; restored step {self.step}, lr now {lr:.3g}"
        )
        if self.dist.is_main:
            log.warning(event)
            self._write_row({"step": failed, "event": event})

    def _after_step(self, meter: _Meter, bar: tqdm[Any], started: float) -> None:
        cfg, step = self.config, self.step
        final = step == cfg.steps
        row: dict[str, Value] = {}
        if step % cfg.log_every == 0 or final:
            row.update(meter.pop())
            bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()} | {"lr": f"{self.lr:.2g}"})
        if self._val is not None and (step % cfg.val_every == 0 or final):
            row.update({f"val_{k}": v for k, v in self.validate().items()})
        self.elapsed = time.monotonic() - started
        if row and self.dist.is_main:
            self._write_row({"step": step, **row})
        snapshot_every = cfg.guard.snapshot_every or cfg.ckpt_every
        if step % cfg.ckpt_every == 0 or final:
            self.save_checkpoint()
        elif step % snapshot_every == 0 and params_finite(ddp.unwrap(self.model)):
            self.guard.take_snapshot(step, ddp.unwrap(self.model), self.optimizer, self.scheduler)

    def _out_of_time(self, call_started: float) -> bool:
        """True once ``max_minutes`` are spent (rank 0 decides for all), after a checkpoint."""
        limit = self.config.max_minutes
        if limit is None or self.step >= self.config.steps:
            return False
        late = time.monotonic() - call_started > limit * 60
        if not ddp.broadcast_object(late):
            return False
        if self.step % self.config.ckpt_every:
            self.save_checkpoint()
        log.info("max_minutes=%g reached at step %d; rerun to resume", limit, self.step)
        return True

    def _write_row(self, row: dict[str, Value]) -> None:
        if self._log is not None:
            self._log.write({"step": row["step"], "lr": self.lr, "seconds": self.elapsed, **row})
            self.log_rows = self._log.rows

    @property
    def lr(self) -> float:
        """Current learning rate of the first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    # -- validation and checkpoints -------------------------------------------

    def validate(self) -> dict[str, float]:
        """Mean of ``validation_step`` over the validation set (sharded over ranks)."""
        sums: dict[str, float] = {}
        count = 0
        if self._val is not None:
            model = self.shipped_model
            was_training = model.training
            model.eval()
            with torch.no_grad(), rng_preserved():
                for batch in self._val:
                    n = batch.shape[0]
                    for key, value in self.task.validation_step(
                        model, batch.to(self.device)
                    ).items():
                        sums[key] = sums.get(key, 0.0) + float(value) * n
                    count += n
            model.train(was_training)
        total: dict[str, float] = {}
        seen = 0
        for part_sums, part_count in ddp.gather_objects((sums, count)):
            seen += part_count
            for key, value in part_sums.items():
                total[key] = total.get(key, 0.0) + value
        return {k: v / seen for k, v in total.items()} if seen else {}

    def save_checkpoint(self) -> None:
        """Write ``last.pt`` (and ``good.pt`` if finite) atomically; snapshot for the guard."""
        model = ddp.unwrap(self.model)
        good = params_finite(model) and all(math.isfinite(x) for x in self.guard.history)
        rngs = ddp.gather_objects(rng_state())
        if self.dist.is_main:
            ckpt = {
                "version": CHECKPOINT_VERSION,
                "task": self.config.task,
                "step": self.step,
                "batches_seen": self.batches_seen,
                "elapsed": self.elapsed,
                "log_rows": self.log_rows,
                "model": model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "guard": self.guard.state_dict(),
                **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
                "rng": rngs,
                "config": config_to_dict(self.config),
            }
            atomic_save(ckpt, self.out_dir / LAST)
            if good:
                atomic_copy(self.out_dir / LAST, self.out_dir / GOOD)
        if good:
            self.guard.take_snapshot(self.step, model, self.optimizer, self.scheduler)
        ddp.barrier()

    @property
    def shipped_model(self) -> torch.nn.Module:
        """What validation measures and export ships: the weight average, else the model."""
        return self.ema.module if self.ema is not None else ddp.unwrap(self.model)

    def export_state_dict(self) -> dict[str, Tensor]:
        """Plain CPU weights of :attr:`shipped_model`, without DDP's ``module.`` prefix."""
        return export_state_dict(self.shipped_model)


def lr_factor(optim: OptimConfig, steps: int) -> Callable[[int], float]:
    """The LR multiplier at each step: linear warm-up, then step or cosine decay.

    Computed from the config alone, so a resumed run follows the schedule its
    config describes (and an edited ``steps`` stretches the cosine).
    """
    warmup = optim.warmup_steps

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / warmup) if warmup else 1.0
        if optim.schedule == "cosine":
            t = min(max(step - warmup, 0) / max(steps - warmup, 1), 1.0)
            floor = optim.min_lr_ratio
            return warm * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t)))
        return warm * optim.gamma ** bisect.bisect_right(optim.milestones, step)

    return factor


def _ema_model(model: torch.nn.Module, decay: float) -> AveragedModel:
    """An exponential moving average of ``model`` whose decay ramps up to ``decay``.

    The ramp ``min(decay, (1 + n) / (10 + n))`` lets the average follow the
    fast early progress instead of dragging the initial weights along.
    """

    def update(
        averaged: tuple[Tensor, ...] | list[Tensor],
        current: tuple[Tensor, ...] | list[Tensor],
        n: Tensor | int,
    ) -> None:
        d = min(decay, (1 + float(n)) / (10 + float(n)))
        if averaged and averaged[0].is_floating_point():
            torch._foreach_lerp_(list(averaged), list(current), 1 - d)
        else:  # integer buffers (counters) are copied, not averaged
            for a, c in zip(averaged, current):
                a.copy_(c)

    return AveragedModel(model, multi_avg_fn=update, use_buffers=True)


def _finite_state(state: Mapping[str, Tensor]) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in state.values() if t.is_floating_point())


def run_training(
    config: str | Path | Mapping[str, Any] | TrainConfig, overrides: Iterable[str] = ()
) -> Path:
    """Load the config, build the registered task, train; returns the output folder.

    Under ``torchrun`` every rank calls this; the process group is set up by
    the trainer and torn down here.
    """
    cfg = load_config(config, overrides)
    task = get_task_factory(cfg.task)(cfg)
    try:
        return Trainer(cfg, task).fit()
    finally:
        ddp.shutdown_distributed()
