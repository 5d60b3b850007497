"""Name a representation with one string, on the command line and in saved feature files.

``SPEC`` is one of:

* ``hog`` / ``hogb`` / ``dsift``, optionally with a cell size: ``hog:4``,
  ``dsift:5`` (defaults 8, as the IJCV experiments; the CVPR DSIFT used 5);
* ``torch:NET:LAYER`` — the output of layer ``LAYER`` (a name from
  ``named_modules()``; empty for the network's output) of the network
  ``NET``, which is either

  - a shipped model name (``invimg models``) or the path of a model card
    (``.json``), loaded with :func:`invimg.load`, e.g.
    ``torch:runs/rotnet-small/rotnet-small.json:conv3``;
  - ``package.module.name``: an ``nn.Module`` object, an ``nn.Module``
    subclass (built without arguments), or a factory: a Python function that
    takes no arguments and is annotated to return an ``nn.Module`` (subclass),
    ``def alexnet() -> nn.Module``, e.g.
    ``torch:mynets.alexnet_pretrained:features.8``. Anything else (``os.system``,
    a builtin, an unannotated function) is refused *before* it is called: the
    name comes from a command line, and a typo must not run arbitrary code.
    Modules in the current folder can be imported.

A network that expects normalised inputs gets ``mean``/``std`` (in [0, 1]
units; ``imagenet`` is :data:`~invimg.inversion.torch_features.IMAGENET_MEAN`
/ ``IMAGENET_STD``, what torchvision and timm ImageNet models expect).
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from torch import nn

from ..errors import ModelError, UsageError
from .dsift import DenseSIFT
from .hog import HOG
from .representation import Representation
from .torch_features import IMAGENET_MEAN, IMAGENET_STD, TorchFeatures

HAND_CRAFTED = ("hog", "hogb", "dsift")
NORMALISATIONS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "imagenet": (IMAGENET_MEAN, IMAGENET_STD),
}


def representation(
    spec: str,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
) -> Representation:
    """The representation named by ``spec`` (see the module docstring)."""
    kind, _, rest = spec.partition(":")
    if kind == "torch":
        target, sep, layer = rest.rpartition(":")
        if not sep or not target:
            raise UsageError(f"--features {spec!r}: expected torch:NET:LAYER (LAYER may be empty)")
        net = load_network(target)
        return TorchFeatures(net, layer, mean=mean, std=std, label=layer or target)
    if kind not in HAND_CRAFTED:
        raise UsageError(
            f"unknown features {spec!r}: use one of {', '.join(HAND_CRAFTED)} or torch:NET:LAYER"
        )
    if mean is not None or std is not None:
        raise UsageError(f"{kind} works on grey pixels; --mean/--std apply only to torch:…")
    cell = _cell_size(spec, rest)
    if kind == "dsift":
        return DenseSIFT(cell)
    return HOG(cell, binning="hard" if kind == "hog" else "soft")


def _cell_size(spec: str, text: str) -> int:
    if not text:
        return 8
    if not text.isdigit() or not 2 <= int(text) <= 64:
        raise UsageError(f"--features {spec!r}: the cell size must be an integer from 2 to 64")
    return int(text)


def expand(spec: str) -> list[str]:
    """Several specs from one: ``hog,dsift`` and ``torch:NET:conv1,conv3`` (contact sheets)."""
    if spec.startswith("torch:"):
        head, sep, layers = spec.rpartition(":")
        if sep and "," in layers:
            return [f"{head}:{layer.strip()}" for layer in layers.split(",")]
        return [spec]
    return [part.strip() for part in spec.split(",") if part.strip()]


def normalisation(
    name: str | None, mean: Sequence[float] | None, std: Sequence[float] | None
) -> tuple[Sequence[float] | None, Sequence[float] | None]:
    """Resolve ``--normalize NAME`` and explicit ``--mean``/``--std`` (explicit values win)."""
    if name is None:
        return mean, std
    if name not in NORMALISATIONS:
        raise UsageError(f"--normalize must be one of {', '.join(NORMALISATIONS)}, got {name!r}")
    preset_mean, preset_std = NORMALISATIONS[name]
    return (mean or preset_mean), (std or preset_std)


def load_network(target: str) -> nn.Module:
    """The network named by ``NET`` in ``torch:NET:LAYER`` (zoo model, card, or import path)."""
    from ..zoo.cards import is_card_path, is_shipped, load

    if is_card_path(target) or is_shipped(target):
        return load(target)
    module_name, _, attr = target.rpartition(".")
    if not module_name or not attr:
        raise UsageError(
            f"network {target!r} is neither a shipped model, a .json card, nor package.module.name"
        )
    with _cwd_importable():
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise UsageError(
                f"cannot import {module_name!r} for network {target!r}: {exc}"
            ) from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise UsageError(f"module {module_name!r} has no {attr!r}")
    if isinstance(obj, nn.Module):
        return obj
    if not _builds_module(obj):
        raise UsageError(
            f"{target!r} is not an nn.Module, an nn.Module subclass, or a factory function "
            "annotated '-> nn.Module'; refusing to call it"
        )
    return _call(obj, target)


def _builds_module(obj: object) -> bool:
    """Whether ``obj`` declares that calling it builds an ``nn.Module`` (nothing is called)."""
    if isinstance(obj, type):
        return issubclass(obj, nn.Module)
    if not inspect.isfunction(obj):  # builtins (os.system), partials, callable objects
        return False
    declared = obj.__annotations__.get("return")
    if isinstance(declared, str):  # `from __future__ import annotations`: resolve, never eval
        declared = _dotted(declared, obj.__globals__)
    return isinstance(declared, type) and issubclass(declared, nn.Module)


def _dotted(text: str, namespace: dict[str, object]) -> object:
    """The object a dotted name (``nn.Module``, ``torch.nn.Module``) names in ``namespace``."""
    head, *rest = text.strip().split(".")
    found = namespace.get(head, getattr(builtins, head, None))
    for part in rest:
        found = getattr(found, part, None)
    return found


def _call(factory: Callable[[], object], target: str) -> nn.Module:
    try:
        inspect.signature(factory).bind()
    except TypeError:
        raise UsageError(f"{target} needs arguments; give a factory that takes none") from None
    except ValueError:  # no signature to inspect: calling will tell
        pass
    try:
        net = factory()
    except Exception as exc:  # a user's factory: report it on one line
        raise ModelError(f"{target}() failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(net, nn.Module):
        raise UsageError(f"{target}() returned {type(net).__name__}, not an nn.Module")
    return net


@contextmanager
def _cwd_importable() -> Iterator[None]:
    """Let ``import`` find modules in the current folder (console scripts do not)."""
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
