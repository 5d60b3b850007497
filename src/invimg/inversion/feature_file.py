"""Save a representation Φ0 to a file and invert it later, without the image.

A feature file is safetensors (no code can hide in it) holding one tensor,
``features``, and as text metadata everything needed to invert it: the
spec of the representation (``hog``, ``torch:NET:LAYER``), the image size,
and the input normalisation of a network. ``invimg features IMAGE -o F``
writes one; ``invimg invert F -o OUT.png`` reads it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from ..errors import InputImageError, OutputPathError
from ..io import check_output_file

SUFFIX = ".safetensors"
KIND = "invimg-features"


@dataclass(frozen=True)
class FeatureFile:
    """The content of a feature file."""

    features: Tensor
    spec: str
    size: tuple[int, int]
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None


def is_feature_file(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() == SUFFIX


def save_features(path: str | os.PathLike[str], data: FeatureFile, *, force: bool = False) -> Path:
    """Write ``data`` atomically to ``path`` (``.safetensors``); no clobbering without ``force``."""
    if not is_feature_file(path):
        raise OutputPathError(f"a feature file must end in {SUFFIX}, got {path}")
    target = check_output_file(path, force=force)
    meta = {
        "kind": KIND,
        "spec": data.spec,
        "size": json.dumps(list(data.size)),
        "mean": json.dumps(data.mean),
        "std": json.dumps(data.std),
    }
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        save_file({"features": data.features.detach().float().contiguous()}, tmp, metadata=meta)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def load_features(path: str | os.PathLike[str]) -> FeatureFile:
    """Read a feature file written by :func:`save_features`; one clear error if it is not one."""
    try:
        with open(path, "rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            header = json.loads(fh.read(min(header_len, 1 << 20)))
        tensors = load_file(str(path))
    except (OSError, ValueError, SafetensorError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputImageError(f"cannot read feature file {path}: {reason}") from None
    meta = header.get("__metadata__", {}) if isinstance(header, dict) else {}
    if meta.get("kind") != KIND or "features" not in tensors:
        raise InputImageError(f"{path} is not a feature file written by `invimg features`")
    try:
        height, width = (int(v) for v in json.loads(meta["size"]))
        mean, std = json.loads(meta["mean"]), json.loads(meta["std"])
        spec = str(meta["spec"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputImageError(f"feature file {path} has broken metadata: {exc}") from None
    return FeatureFile(
        tensors["features"].to(torch.float32),
        spec,
        (height, width),
        tuple(mean) if mean is not None else None,
        tuple(std) if std is not None else None,
    )
