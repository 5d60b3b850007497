"""From a training run to a shipped model: fp16 safetensors + model card.

Optimizer state never leaves the run folder; the card records the recipe,
the step reached and the last validation metrics from ``metrics.csv``, so a
shipped model always says how it was made.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, ModelError
from ..zoo import ModelCard, save_pretrained
from .checkpoint import load_checkpoint, shipped_state
from .config import load_config
from .registry import get_task_factory, shipped_model


def last_validation(run_dir: Path) -> dict[str, float]:
    """The last row of ``metrics.csv`` that carries validation metrics."""
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return {}
    found: dict[str, float] = {}
    with path.open() as fh:
        for row in csv.DictReader(fh):
            vals = {k: float(v) for k, v in row.items() if k and k.startswith("val_") and v}
            if vals:
                found = {"step": float(row.get("step") or 0), **vals}
    return found


def export_run(run_dir: Path, name: str, out: Path, extra: dict[str, Any]) -> ModelCard:
    """Export ``run_dir/last.pt`` as model ``name`` into ``out``."""
    if not run_dir.is_dir():
        what = "is not a folder" if run_dir.exists() else "does not exist"
        raise ConfigError(f"run folder {run_dir} {what}")
    ckpt_path = run_dir / "last.pt"
    if not ckpt_path.is_file():
        raise ConfigError(f"{run_dir} has no last.pt checkpoint")
    config_path = run_dir / "config.yaml"
    cfg = load_config(config_path)
    task = get_task_factory(cfg.task)(cfg)
    model = task.build_model()
    ckpt = load_checkpoint(ckpt_path)
    try:
        model.load_state_dict(shipped_state(ckpt))
    except (RuntimeError, TypeError) as exc:  # config.yaml edited after training?
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{ckpt_path} does not fit the model of {config_path}: {first}") from None
    recipe = yaml.safe_load(config_path.read_text())
    fields: dict[str, Any] = {
        "task": cfg.task,
        "training": {"steps": int(ckpt.get("step", 0)), "recipe": recipe},
        "validation": last_validation(run_dir),
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(fields.get(key), dict):
            fields[key] = {**fields[key], **value}
        else:
            fields[key] = value
    return save_pretrained(shipped_model(task, model), out, name, fields)
