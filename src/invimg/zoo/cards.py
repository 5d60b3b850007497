"""Shipped pretrained models: fp16 safetensors + a JSON model card, checked on load.

Each model ``NAME`` ships as ``weights/NAME.safetensors`` and
``weights/NAME.json``. The card holds the architecture and its config, the
sha256 of the weights file (verified before a byte is used), the parameter
count, how it was trained (data, steps, command) and the metrics it reached
with their protocol. ``load`` also accepts a path to a card or a
``.safetensors`` file with its card beside it, so user-trained models load the
same way.

:func:`load_typed` is the one resolver every task API uses: a model object, a
shipped name, a card or weights path, or a published checkpoint (through the
loader its task registered with :func:`register_format`) → a verified model of
the expected type, loaded once and cached.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import ModelError, WrongModelError
from ..io.metadata import is_card_path
from .architectures import build_model, config_dict

WEIGHTS_DIR = Path(__file__).with_name("weights")


@dataclass(frozen=True)
class ModelCard:
    """The JSON record that travels with a model's weights."""

    name: str
    path: Path
    data: dict[str, Any]

    @property
    def task(self) -> str:
        return str(self.data.get("task", "?"))

    @property
    def weights_path(self) -> Path:
        return self.path.with_name(self.data["weights"])

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.data.get("metrics", {}))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def scan_shipped(folder: Path | None = None) -> tuple[list[ModelCard], list[ModelError]]:
    """Readable cards of the shipped models (sorted by name), and one error per broken card.

    Why both: one damaged card must not hide the models that still work, but it
    must not go unnoticed either; listings show the good ones and warn.
    """
    cards: list[ModelCard] = []
    broken: list[ModelError] = []
    for path in sorted((folder or WEIGHTS_DIR).glob("*.json")):
        try:
            cards.append(read_card(path))
        except ModelError as exc:
            broken.append(exc)
    return cards, broken


def shipped_models() -> list[ModelCard]:
    """Cards of the shipped models whose card is readable, sorted by name."""
    return scan_shipped()[0]


#: The card fields ``load`` relies on, and the JSON type each must have.
_CARD_FIELDS: dict[str, type[Any]] = {
    "architecture": str,
    "config": dict,
    "weights": str,
    "sha256": str,
}
_JSON_NAMES: dict[type[Any], str] = {str: "string", dict: "object"}


def read_card(path: Path) -> ModelCard:
    """Read and check a model card, so that a broken one fails here with one clear line."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ModelError(f"cannot read model card {path}: {reason}") from None
    if not isinstance(data, dict):
        raise ModelError(f"model card {path} is not a JSON object")
    for key, kind in _CARD_FIELDS.items():
        if key not in data:
            raise ModelError(f"model card {path} lacks the field {key!r}")
        if not isinstance(data[key], kind):
            raise ModelError(
                f"model card {path}: field {key!r} must be a JSON {_JSON_NAMES[kind]}, "
                f"got {data[key]!r}"
            )
    weights = data["weights"]
    if Path(weights).name != weights or weights in ("", ".", ".."):
        raise ModelError(
            f"model card {path}: 'weights' must be a file name beside the card, got {weights!r}"
        )
    return ModelCard(str(data.get("name", path.stem)), path, data)


def find_card(name_or_path: str | os.PathLike[str]) -> ModelCard:
    """Resolve a shipped model name, a card path or a weights path to its card."""
    text = str(name_or_path)
    if is_shipped(text):
        return read_card(WEIGHTS_DIR / f"{text}.json")
    path = Path(text)
    if path.suffix == ".safetensors":
        path = path.with_suffix(".json")
    if path.suffix == ".json" and path.is_file():
        return read_card(path)
    if path.suffix == ".json" and path.exists():
        raise ModelError(f"model card {text} is not a file")
    names = ", ".join(c.name for c in shipped_models()) or "none shipped"
    raise ModelError(f"no model {text!r} (shipped models: {names}; or give a .json card path)")


def load(name_or_path: str | os.PathLike[str], device: str | torch.device = "cpu") -> nn.Module:
    """Build a model from its card and load its verified weights (float32, eval mode)."""
    card = find_card(name_or_path)
    weights = card.weights_path
    if not weights.is_file():
        raise ModelError(f"weights file {weights} of model {card.name!r} is missing")
    actual = sha256_of(weights)
    if actual != card.data["sha256"]:
        raise ModelError(
            f"weights {weights.name} are corrupted: sha256 {actual[:12]}… "
            f"!= {card.data['sha256'][:12]}… recorded in the card"
        )
    model = build_model(card.data["architecture"], card.data["config"])
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise ModelError(f"cannot read weights {weights}: {exc}") from None
    load_state_checked(model, state, f"weights of {card.name!r}")
    model.card = card  # type: ignore[assignment]
    return model.to(device).eval()


def inference_setting(model: nn.Module, key: str) -> Any:
    """``inference.<key>`` of the card ``model`` was loaded from (None without one).

    Cards record how their model is best run (measured when it was shipped:
    PD-GAN's sampling strength, IRN's latent); the task APIs use it as their
    default.
    """
    card = getattr(model, "card", None)
    return card.data.get("inference", {}).get(key) if card is not None else None


def read_torch_checkpoint(path: str | os.PathLike[str], what: str) -> Any:
    """``torch.load`` of a published checkpoint, tensors only (no code runs), one-line errors.

    A truncated or foreign file fails inside the unpickler with a multi-line
    message; the user gets its first line. torch's own warnings while reading
    (e.g. about a plain pickle's protocol) are silenced: they are about torch's
    unpickler, and would appear above the one error line.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError):
        raise ModelError(
            f"cannot read {what} {path}: not a PyTorch file of tensors (damaged or truncated, "
            "or it holds objects beyond weights, which invimg never unpickles)"
        ) from None
    except (OSError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot read {what} {path}: {first}") from None


def load_state_checked(model: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Load ``state`` into ``model`` after checking keys and shapes; ``what`` names it in errors.

    ``load_state_dict`` would raise a multi-line RuntimeError; a user gets one line.
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ModelError(
            f"{what} do not fit {type(model).__name__}: "
            f"{len(missing)} missing (e.g. {missing[:2]}), {len(unexpected)} unexpected "
            f"(e.g. {unexpected[:2]})"
        )
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise ModelError(
                f"{what} do not fit: {key} has shape {tuple(tensor.shape)}, "
                f"the architecture needs {tuple(expected[key].shape)}"
            )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


def save_pretrained(
    model: nn.Module, directory: Path, name: str, card_fields: dict[str, Any]
) -> ModelCard:
    """Write ``name.safetensors`` (fp16) and ``name.json`` atomically into ``directory``.

    Buffers that are index tensors (permutations) keep their integer dtype;
    floating tensors are stored in fp16, as shipped models are.
    """
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous()
        for k, v in model.state_dict().items()
    }
    weights = directory / f"{name}.safetensors"
    _atomic(weights, lambda tmp: save_file(state, str(tmp)))
    data = {
        "name": name,
        "architecture": getattr(model, "architecture", None),
        "config": config_dict(model),
        "weights": weights.name,
        "sha256": sha256_of(weights),
        "dtype": "float16",
        "parameters": sum(p.numel() for p in model.parameters()),
        "size_bytes": weights.stat().st_size,
        **card_fields,
    }
    card_path = directory / f"{name}.json"
    _atomic(card_path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))
    return ModelCard(name, card_path, data)


def _atomic(path: Path, write: Any) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        tmp.chmod(0o644)  # mkstemp makes 0600; shipped files must be readable by everyone
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


M = TypeVar("M", bound=nn.Module)
#: The model types a caller accepts: one class, or a tuple of them (IRN or IRN + CRM).
Kinds = type[M] | tuple[type[M], ...]
#: Loaders of formats other than a card, registered by the task packages with
#: :func:`register_format`: (the type they build, the file suffixes, the loader).
_FORMATS: list[tuple[type[nn.Module], tuple[str, ...], Callable[[Path], nn.Module]]] = []


def is_shipped(name: str) -> bool:
    """Whether ``name`` is a shipped model (its card is in the weights folder)."""
    return (WEIGHTS_DIR / f"{name}.json").is_file()


def first_shipped(candidates: Sequence[str], what: str) -> str:
    """The first of ``candidates`` that is shipped, else one clear error.

    Why a preference list: small CPU-trained models ship first, and a full
    model shipped later takes over without a code change.
    """
    for name in candidates:
        if is_shipped(name):
            return name
    raise ModelError(
        f"no {what} is shipped (looked for {' and '.join(candidates)}); "
        "pass a model card path with --model / model="
    )


def register_format(
    kind: type[nn.Module], suffixes: tuple[str, ...], loader: Callable[[Path], nn.Module]
) -> None:
    """Let :func:`load_typed` read ``suffixes`` files (a published checkpoint) as ``kind``.

    Why a hook: the zoo must not know each paper's checkpoint layout, and the
    task package that does registers it when imported.
    """
    if (kind, suffixes, loader) not in _FORMATS:
        _FORMATS.append((kind, suffixes, loader))


def _format_loader(path: Path, kinds: tuple[type, ...]) -> Callable[[Path], nn.Module] | None:
    for kind, suffixes, loader in _FORMATS:
        if path.suffix in suffixes and issubclass(kind, kinds) and path.is_file():
            return loader
    return None


def load_typed(
    model: str | os.PathLike[str] | nn.Module,
    kind: Kinds[M],
    what: str,
    device: str | torch.device | None = None,
) -> M:
    """A ``kind`` model from an instance, a shipped name, a card path or a published checkpoint.

    Why one function: every task API accepts the same forms and must refuse a
    model of another task with one clear line. Loads from the zoo are cached
    (per device); a card path is keyed by its absolute path and modification
    time, so a re-exported card is never served stale. Published checkpoints
    are read by the loader their task registered (:func:`register_format`).
    """
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(model, kinds):
        return model
    if isinstance(model, nn.Module):
        raise WrongModelError(f"{type(model).__name__} is not a {what} model")
    name = os.fspath(model)
    path = Path(name)
    loader = _format_loader(path, kinds)
    if loader is not None:
        net = loader(path)
    elif is_card_path(path) and path.is_file():
        net = _load_cached(str(path.resolve()), path.stat().st_mtime_ns, str(device or "cpu"))
    else:
        net = _load_cached(name, 0, str(device or "cpu"))
    if not isinstance(net, kinds):
        raise WrongModelError(f"model {name!r} ({type(net).__name__}) is not a {what} model")
    return net


@functools.lru_cache(maxsize=8)
def _load_cached(name: str, _version: int, device: str) -> nn.Module:
    return load(name, device=device)
