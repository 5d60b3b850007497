"""Process-wide run settings: seeds, deterministic kernels, precision regions.

Kept apart from the trainer because tasks use :func:`fp32` too, and because
every setting here is global state that must be restored after a fit (tests
and notebooks run several fits in one process).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from .checkpoint import rng_state, set_rng_state


@contextlib.contextmanager
def fp32(device_type: str | None = None) -> Iterator[None]:
    """Disable autocast inside: run invertible paths here, on ``.float()`` inputs.

    An INN's inverse is only exact if it undoes the very same arithmetic; in
    bf16 (8 significant bits) the round trip error compounds across blocks and
    exponentiated coupling scales, so invertible paths stay in fp32.
    """
    device_type = device_type or ("cuda" if torch.cuda.is_available() else "cpu")
    with torch.autocast(device_type, enabled=False):
        yield


#: CPU flags of native bf16 arithmetic (Linux /proc/cpuinfo names).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


@functools.cache
def cpu_has_native_bf16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """True on CPUs with bf16 instructions (AVX-512 BF16, AMX), where autocast pays.

    Elsewhere bf16 is emulated and slower than fp32. Read from ``/proc/cpuinfo``
    (absent off Linux: then False, the safe answer).
    """
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool(NATIVE_BF16_FLAGS & set(line.split(":", 1)[-1].split()))
    return False


def bf16_autocast_pays(device: torch.device) -> bool:
    """Whether bf16 autocast is native (fast) on ``device``."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return device.type == "cpu" and cpu_has_native_bf16()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextlib.contextmanager
def deterministic(enabled: bool) -> Iterator[None]:
    """Deterministic kernels for the duration of a fit, then the previous setting."""
    if not enabled:
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    previous, bench = torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous)
        torch.backends.cudnn.benchmark = bench


@contextlib.contextmanager
def rng_preserved() -> Iterator[None]:
    """Validation must not shift the training random stream (resume exactness)."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
