"""Inference backends: ONNX export of the models' fixed graphs and the runtime that runs them.

>>> from invimg.inference import export_onnx, run_graph
>>> export_onnx(invimg.load("hinet-small"), "hide", "hinet-small-hide.onnx")
>>> invimg.hide(cover, secret, backend="torch")     # eager PyTorch, the reference

See :mod:`invimg.inference.runtime` for how the backend is chosen and
:mod:`invimg.inference.graphs` for what each graph computes.
"""

from __future__ import annotations

from .export import OPSET, cached_onnx, export_onnx, fingerprint
from .graphs import KINDS, Graph, graph_for, kinds_of
from .runtime import (
    BACKENDS,
    Backend,
    check_backend,
    choose_backend,
    clear_sessions,
    default_backend,
    run_graph,
    runtime_available,
)

__all__ = [
    "BACKENDS",
    "KINDS",
    "OPSET",
    "Backend",
    "Graph",
    "cached_onnx",
    "check_backend",
    "choose_backend",
    "clear_sessions",
    "default_backend",
    "export_onnx",
    "fingerprint",
    "graph_for",
    "kinds_of",
    "run_graph",
    "runtime_available",
]
