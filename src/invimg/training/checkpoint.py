"""Checkpoint files: atomic writes, RNG state capture, safe loading.

A checkpoint is written to a temporary file and renamed over the old one
(``os.replace`` is atomic on POSIX and Windows), so a job killed mid-write
leaves the previous ``last.pt`` intact instead of a truncated file that
would make the automatic resume fail. Everything stored is loadable with
``torch.load(weights_only=True)``: no arbitrary pickles in training output.
"""

from __future__ import annotations

import os
import pickle
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from invimg.errors import ConfigError, ModelError

from .distributed import unwrap

CHECKPOINT_VERSION = 1


def rng_state() -> dict[str, Any]:
    """Python, NumPy, torch CPU and (this rank's) CUDA generator states."""
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore a state captured by :func:`rng_state`."""
    random.setstate(_as_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": n["bit_generator"],
            "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
            "has_gauss": n["has_gauss"],
            "gauss": n["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list | tuple) else value


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temp file in the same folder, fsync, then rename over ``path``."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_copy(src: Path, dst: Path) -> None:
    """Copy a finished checkpoint (``last.pt`` → ``good.pt``) without a half-written window."""
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by the trainer, with one clear error if it is broken."""
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise ModelError(f"checkpoint not found: {path}") from None
    except Exception as exc:
        raise ModelError(f"checkpoint {path} is unreadable or corrupted ({_why(exc)})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "step" not in ckpt:
        raise ModelError(f"{path} is not an invimg training checkpoint")
    return ckpt


def _why(exc: Exception) -> str:
    """A short reason: torch's own message runs to many lines and, for a file that is not
    a checkpoint at all, advises ``weights_only=False`` (unsafe, and no help here)."""
    if isinstance(exc, pickle.UnpicklingError):
        return "not a PyTorch checkpoint written by invimg's trainer"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def export_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The plain model ``state_dict`` on the CPU, unwrapped from DDP / ``torch.compile``.

    This is what export to safetensors or ``model.load_state_dict`` wants:
    no ``module.`` prefixes and no optimizer state.
    """
    return {k: v.detach().to("cpu", copy=True) for k, v in unwrap(model).state_dict().items()}


def checkpoint_model_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The weights a trainer checkpoint ships (``last.pt`` / ``good.pt``).

    That is the exponential moving average of the weights when the run kept
    one (``ema`` in the recipe), else the trained weights themselves.
    """
    return shipped_state(load_checkpoint(Path(path)))


def shipped_state(ckpt: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The shipped weights of a loaded checkpoint (see :func:`checkpoint_model_state`)."""
    ema = ckpt.get("ema")
    if ema is None:
        return dict(ckpt["model"])
    prefix = "module."  # torch.optim.swa_utils.AveragedModel wraps the model as .module
    return {k[len(prefix) :]: v for k, v in ema.items() if k.startswith(prefix)}


def warm_start(
    source: str,
    copy: Callable[[Any], None],
    kinds: type | tuple[type, ...] = torch.nn.Module,
    what: str = "trained",
) -> None:
    """Start a model from the trained model ``source`` (``model.init_from`` of a recipe).

    ``source`` is anything the zoo's resolver takes (a shipped name, a card, a
    published checkpoint of ``kinds``, which ``what`` names in errors);
    ``copy(trained)`` copies its weights into the new model, raising
    ``ValueError`` (or ``RuntimeError``) when they do not fit. Why one
    function: every task reports the same two failures the same way, as one
    ConfigError line naming ``model.init_from``.
    """
    from ..zoo.cards import load_typed

    try:
        trained: torch.nn.Module = load_typed(source, kinds, what)
    except ModelError as exc:
        raise ConfigError(f"model.init_from: {exc}") from None
    try:
        copy(trained)
    except (ValueError, RuntimeError) as exc:
        raise ConfigError(f"model.init_from {source!r}: {exc}") from None
