"""invimg: invertible and inverse imaging on PyTorch.

The task functions are imported lazily so ``import invimg`` stays fast::

    import invimg
    model = invimg.load("hinet")
    stego = invimg.hide(cover, [secret])
"""

from __future__ import annotations

import importlib
from typing import Any

from .tasks import TASKS

__version__ = "0.1.0"

#: ``invimg.NAME`` → the module it lives in: ``load`` from the zoo, the task
#: functions from the task table (:mod:`invimg.tasks`).
_LAZY = {"load": "invimg.zoo", **{n: m for spec in TASKS for n, m in spec.api.items()}}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'invimg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
