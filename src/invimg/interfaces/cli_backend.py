"""The ``--backend`` option of the model commands and ``invimg export MODEL --onnx``.

Kept apart from the task command modules so that each of them adds one
option and passes one argument: the choice itself lives in
:mod:`invimg.inference.runtime`, shared with the Python API and the web page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from ..errors import ModelError, OutputPathError
from ..io import check_output_file
from ..io.images import show_path

BACKEND_HELP = (
    "What runs the network: auto (ONNX Runtime where installed, else PyTorch), "
    "onnxruntime, openvino, openvino-bf16 (reduced precision), torch (eager). "
    "Default: $INVIMG_BACKEND, else auto."
)


def backend_option() -> Any:
    """The ``--backend`` option (validated by the API before any work)."""
    return typer.Option(None, "--backend", help=BACKEND_HELP)


def export_onnx_files(model: str, out: Path, force: bool) -> list[Path]:
    """Write every fixed graph of ``model`` as ``OUT/NAME-KIND.onnx``; the paths written.

    ``model`` is a shipped name or a model card path, as for every command.
    """
    from ..inference import export_onnx, kinds_of
    from ..zoo import load

    if not out.is_dir():
        what = "is not a folder" if out.exists() else "does not exist"
        raise OutputPathError(f"cannot export into {show_path(out)}: it {what}")
    net = load(model).eval()
    kinds = kinds_of(net)
    if not kinds:
        raise ModelError(f"model {model!r} has no fixed inference graph to export")
    stem = Path(model).stem if model.endswith(".json") else model
    targets = [out / f"{stem}-{kind}.onnx" for kind in kinds]
    for target in targets:
        check_output_file(target, force=force)
    return [export_onnx(net, kind, target) for kind, target in zip(kinds, targets)]
