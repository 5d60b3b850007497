"""One inference backend behind every task API: exported graph in a runtime, or eager.

The task APIs (``invimg.hide``, ``downscale``, ``embed`` …) call
:func:`run_graph` for each piece they compute, so the command line, the
Python API and the web page share one choice of backend:

* ``"onnxruntime"``: the model's exported graph (:mod:`invimg.inference.export`)
  in ONNX Runtime's CPU provider, fp32. Chosen by measurement as the default
  (BENCHMARKS.md, "Inference backends"): as exact as eager (max-abs
  difference ~1e-6) with a session that opens in well under a second.
* ``"openvino"`` / ``"openvino-bf16"``: the same graph in OpenVINO (an
  optional install) with the f32 or the bf16 precision hint; bf16 is the
  reduced-precision mode, used only when asked for. On CPUs without bf16
  instructions OpenVINO runs the bf16 hint in f32.
* ``"torch"``: eager PyTorch, the reference.
* ``"auto"`` (default, or ``$INVIMG_BACKEND``): ONNX Runtime where it is
  installed and the model has a graph on the CPU, else eager.

A runtime that is missing, a model without a fixed graph (RIIS's reveal) or
a model on a GPU falls back to eager. Sessions are cached per model
fingerprint, graph kind, backend, thread count and input size class; both
runtimes take any image size in one session (dynamic height and width), so
there is one size class per batch size and channel layout.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import UsageError
from .export import cache_dir, cached_onnx, graph_key
from .graphs import Graph, graph_for

Backend = Literal["auto", "onnxruntime", "openvino", "openvino-bf16", "torch"]
BACKENDS: tuple[str, ...] = ("auto", "onnxruntime", "openvino", "openvino-bf16", "torch")
#: Backends that run an exported graph, and the Python module each needs.
RUNTIME_MODULES = {
    "onnxruntime": "onnxruntime",
    "openvino": "openvino",
    "openvino-bf16": "openvino",
}
#: Sessions kept open (each holds its weights and a memory arena).
MAX_SESSIONS = 8

Runner = Callable[[Sequence[Tensor]], list[Tensor]]
_SESSIONS: OrderedDict[tuple[Any, ...], Runner] = OrderedDict()


def default_backend() -> str:
    """``$INVIMG_BACKEND`` if set, else ``"auto"``."""
    return os.environ.get("INVIMG_BACKEND", "auto")


def check_backend(name: str | None) -> str:
    """``name`` (``None``: :func:`default_backend`) if it is a known backend, else a usage
    error listing them; the APIs call it before any work so a typo fails at once."""
    name = name or default_backend()
    if name not in BACKENDS:
        raise UsageError(f"backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    return name


def runtime_available(backend: str) -> bool:
    """Whether the Python package that ``backend`` needs is installed."""
    module = RUNTIME_MODULES.get(backend)
    return module is None or importlib.util.find_spec(module) is not None


def choose_backend(model: nn.Module, kind: str, backend: str | None = None) -> str:
    """The backend that will actually run ``model``'s ``kind`` pass (see module doc)."""
    name = check_backend(backend)
    if name == "torch" or graph_for(model, kind) is None or not _on_cpu(model):
        return "torch"
    if name == "auto":
        return "onnxruntime" if runtime_available("onnxruntime") else "torch"
    if not runtime_available(name):
        warnings.warn(
            f"backend {name!r} needs the {RUNTIME_MODULES[name]} package, which is not "
            "installed; running eager PyTorch instead",
            UserWarning,
            stacklevel=3,
        )
        return "torch"
    return name


def run_graph(
    model: nn.Module, kind: str, inputs: Sequence[Tensor], backend: str | None = None
) -> list[Tensor]:
    """Run ``model``'s ``kind`` graph on ``inputs`` with the chosen backend; outputs in order.

    Outputs are CPU tensors for the runtimes (they run on the CPU) and the
    eager outputs otherwise; the caller does the rest (cropping, rounding).
    """
    graph = graph_for(model, kind)
    if graph is None:
        raise ValueError(f"{type(model).__name__} has no fixed {kind!r} graph")
    chosen = choose_backend(model, kind, backend)
    if chosen == "torch":
        return _eager(graph, inputs)
    return _session(model, graph, chosen, inputs)(inputs)


def clear_sessions() -> None:
    """Close every cached session (their memory arenas go with them)."""
    _SESSIONS.clear()


def _eager(graph: Graph, inputs: Sequence[Tensor]) -> list[Tensor]:
    with torch.no_grad():
        out = graph.module(*inputs)
    return list(out) if isinstance(out, tuple) else [out]


def _on_cpu(model: nn.Module) -> bool:
    param = next(model.parameters(), None)
    return param is None or param.device.type == "cpu"


def size_class(inputs: Sequence[Tensor]) -> tuple[tuple[int, ...], ...]:
    """What a session depends on besides the model: batch and channels of each input.

    Height and width are dynamic in every exported graph, so all image
    sizes share a session.
    """
    return tuple(tuple(t.shape[:-2]) if t.dim() >= 2 else () for t in inputs)


def _session(model: nn.Module, graph: Graph, backend: str, inputs: Sequence[Tensor]) -> Runner:
    """The cached runner for this model, graph, backend, thread count and size class."""
    threads = torch.get_num_threads()
    key = (graph_key(model, graph.kind), backend, threads, size_class(inputs))
    runner = _SESSIONS.get(key)
    if runner is None:
        source = cached_onnx(model, graph.kind)
        if backend == "onnxruntime":
            runner = _onnxruntime_runner(source, graph, threads)
        else:
            runner = _openvino_runner(source, graph, threads, bf16=backend == "openvino-bf16")
        _SESSIONS[key] = runner
        while len(_SESSIONS) > MAX_SESSIONS:
            _SESSIONS.popitem(last=False)
    _SESSIONS.move_to_end(key)
    return runner


def _feed(graph: Graph, inputs: Sequence[Tensor], used: set[str]) -> dict[str, np.ndarray]:
    """Input name → contiguous float32 array (what both runtimes take without copying).

    Only the inputs the exported graph kept are fed: the exporter drops one
    the model ignores (Steg-cINN's lightness when it maps no gamut).
    """
    if len(inputs) != len(graph.inputs):
        got, want = len(inputs), len(graph.inputs)
        raise ValueError(f"the {graph.kind} graph takes {want} inputs, got {got}")
    return {
        name: np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float32)
        for name, t in zip(graph.inputs, inputs)
        if name in used
    }


def _onnxruntime_runner(source: bytes | Path, graph: Graph, threads: int) -> Runner:
    """An ONNX Runtime CPU session, all graph optimisations on, ``threads`` intra-op threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    model = str(source) if isinstance(source, Path) else source
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    names = list(graph.outputs)
    used = {i.name for i in session.get_inputs()}

    def run(inputs: Sequence[Tensor]) -> list[Tensor]:
        return [torch.from_numpy(o) for o in session.run(names, _feed(graph, inputs, used))]

    return run


def _openvino_runner(source: bytes | Path, graph: Graph, threads: int, *, bf16: bool) -> Runner:
    """An OpenVINO CPU compiled model with the f32 or bf16 precision hint."""
    import openvino as ov

    core = ov.Core()
    if isinstance(source, Path):
        model = core.read_model(str(source))
    else:
        with tempfile.NamedTemporaryFile(suffix=".onnx") as tmp:
            tmp.write(source)
            tmp.flush()
            model = core.read_model(tmp.name)
    config = {
        "INFERENCE_NUM_THREADS": threads,
        "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
        "PERFORMANCE_HINT": "LATENCY",
    }
    try:
        (cache_dir() / "openvino").mkdir(parents=True, exist_ok=True)
        config["CACHE_DIR"] = str(cache_dir() / "openvino")
    except OSError:
        pass
    compiled = core.compile_model(model, "CPU", config)
    request = compiled.create_infer_request()
    outputs = [compiled.output(name) for name in graph.outputs]
    used = {name for port in compiled.inputs for name in port.get_names()}

    def run(inputs: Sequence[Tensor]) -> list[Tensor]:
        result = request.infer(_feed(graph, inputs, used))
        return [torch.from_numpy(np.array(result[o], copy=True)) for o in outputs]

    return run
