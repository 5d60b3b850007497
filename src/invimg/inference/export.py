"""ONNX export of the inference graphs, and the on-disk cache that keeps start-up short.

Exporting traces the model on a small example (one to ten seconds on a CPU),
so the result is cached under ``$INVIMG_CACHE_DIR`` (default
``~/.cache/invimg``) with a name that hashes everything the graph depends
on: the class, its config, every weight, the graph kind and the exporter's
versions. A re-trained or replaced model therefore never meets a stale
graph, and the second ``invimg hide`` only loads the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import types
import warnings
import weakref
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .graphs import Graph, graph_for

#: ONNX opset of every exported graph (ONNX Runtime >= 1.14 and OpenVINO read it).
OPSET = 17
#: Bumped when a graph wrapper changes, so cached files from older code are not used.
GRAPH_VERSION = 1

_FINGERPRINTS: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[int, ...], str]] = (
    weakref.WeakKeyDictionary()
)


def cache_dir() -> Path:
    """Where exported graphs are kept: ``$INVIMG_CACHE_DIR``, else the XDG cache."""
    root = os.environ.get("INVIMG_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "invimg"


def fingerprint(model: nn.Module) -> str:
    """A hash of the model's class, config and weights (memoised until a weight changes).

    Tensor version counters tell whether any weight was modified in place
    since the last call, so a model that trains between exports is re-hashed.
    """
    versions = tuple(t._version for t in model.state_dict(keep_vars=True).values())
    cached = _FINGERPRINTS.get(model)
    if cached is not None and cached[0] == versions:
        return cached[1]
    digest = hashlib.sha256()
    digest.update(f"{type(model).__qualname__}|{getattr(model, 'config', None)!r}".encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    key = digest.hexdigest()
    _FINGERPRINTS[model] = (versions, key)
    return key


def graph_key(model: nn.Module, kind: str) -> str:
    """The cache name of one graph: model fingerprint, kind and exporter versions."""
    text = f"{fingerprint(model)}|{kind}|{OPSET}|{GRAPH_VERSION}|{torch.__version__}"
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def export_graph(graph: Graph, target: str | os.PathLike[str] | io.BytesIO) -> None:
    """Trace ``graph`` to ONNX (opset :data:`OPSET`, dynamic batch, height and width).

    The TorchScript exporter is used: it traces these purely convolutional
    graphs in seconds, needs no extra package and gives one graph that runs
    at every size (checked by ``tests/test_inference.py`` at sizes other than
    the example's).
    """
    module = frozen_copy(graph.module)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes on shape checks and a deprecation
        torch.onnx.export(
            module,
            graph.example(),
            target,  # type: ignore[arg-type]
            dynamo=False,
            opset_version=OPSET,
            input_names=list(graph.inputs),
            output_names=list(graph.outputs),
            dynamic_axes=graph.dynamic_axes(),
            do_constant_folding=True,
        )


def frozen_copy(module: nn.Module) -> nn.Module:
    """An eval-mode copy whose weight *computations* are done once, as constants.

    Some layers compute their weight from parameters on every call: Glow's
    LU-parametrised 1×1 convolution (``torch.diag``, a matrix inverse) and
    spectral normalisation (``vdot``). ONNX has no such operators and needs
    none: the copy holds the very weights the eager call computes (same
    operations, so the same numbers), and the original model is untouched.
    """
    from torch.nn.utils import parametrize

    from ..inn.linear import InvertibleConv1x1

    copy = deepcopy(module).eval()
    for sub in list(copy.modules()):
        if isinstance(sub, InvertibleConv1x1):
            _freeze_conv1x1(sub)
        if parametrize.is_parametrized(sub):
            for name in list(sub.parametrizations.keys()):  # type: ignore[operator, union-attr]
                parametrize.remove_parametrizations(sub, name, leave_parametrized=True)
    return copy


class _FrozenConv1x1(nn.Module):
    """The inference-time form of :class:`~invimg.inn.linear.InvertibleConv1x1`."""

    forward_weight: Tensor
    inverse_weight: Tensor

    def _transform(
        self, x: Tensor, cond: Tensor | None, *, reverse: bool, need_log_det: bool
    ) -> tuple[Tensor, None]:
        w = self.inverse_weight if reverse else self.forward_weight
        return F.conv2d(x, w.to(x.dtype)[:, :, None, None]), None


def _freeze_conv1x1(conv: nn.Module) -> None:
    """Store the forward and inverse matrices as the eager call computes them."""
    with torch.no_grad():
        w = conv.weight()  # type: ignore[operator]
        conv.register_buffer("forward_weight", w.clone())
        conv.register_buffer("inverse_weight", torch.linalg.inv(w.double()).to(w.dtype))
    conv._transform = types.MethodType(_FrozenConv1x1._transform, conv)  # type: ignore[assignment]


def export_onnx(model: nn.Module, kind: str, path: str | os.PathLike[str]) -> Path:
    """Write ``model``'s ``kind`` graph as an ONNX file at ``path`` (see :func:`export_graph`)."""
    graph = graph_for(model, kind)
    if graph is None:
        raise ValueError(f"{type(model).__name__} has no fixed {kind!r} graph to export")
    out = Path(path)
    _write_atomically(out, lambda tmp: export_graph(graph, tmp))
    return out


def cached_onnx(model: nn.Module, kind: str) -> bytes | Path:
    """The ``kind`` graph of ``model`` as an ONNX file in the cache (exported on first use).

    Where the cache cannot be written the graph is exported to memory and
    its bytes are returned instead.
    """
    path = cache_dir() / "onnx" / f"{graph_key(model, kind)}.onnx"
    if path.is_file():
        return path
    graph = graph_for(model, kind)
    if graph is None:
        raise ValueError(f"{type(model).__name__} has no fixed {kind!r} graph")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, lambda tmp: export_graph(graph, tmp))
        return path
    except OSError:
        buffer = io.BytesIO()
        export_graph(graph, buffer)
        return buffer.getvalue()


def _write_atomically(path: Path, write: Callable[[str], None]) -> None:
    """``write(tmp)`` into a temporary file beside ``path``, then rename: no half files."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
