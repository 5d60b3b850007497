"""Architecture registry: a name → a model class built from a config dataclass.

A shipped model's JSON card names its architecture and holds the config's
fields, so :func:`invimg.load` rebuilds the exact network before loading the
weights (diffusers' lesson: never guess shapes from a state dict).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from torch import nn

from ..errors import ModelError

ARCHITECTURES: dict[str, type] = {}
T = TypeVar("T", bound=type)


def register_architecture(name: str) -> Callable[[T], T]:
    """Class decorator: the class has a dataclass ``Config`` and ``__init__(config)``."""

    def add(cls: T) -> T:
        if name in ARCHITECTURES and ARCHITECTURES[name] is not cls:
            raise ValueError(f"architecture {name!r} registered twice")
        if not dataclasses.is_dataclass(getattr(cls, "Config", None)):
            raise TypeError(f"{cls.__name__} needs a dataclass attribute Config")
        cls.architecture = name  # type: ignore[attr-defined]
        ARCHITECTURES[name] = cls
        return cls

    return add


def _import_all_tasks() -> None:
    """Import the task packages so their architectures register themselves."""
    import importlib

    from ..tasks import TASKS

    for module in (spec.package for spec in TASKS):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a task package not yet present
            if exc.name != module:
                raise


def build_model(architecture: str, config: dict[str, Any]) -> nn.Module:
    """Instantiate a registered architecture from plain config fields."""
    _import_all_tasks()
    if not isinstance(architecture, str) or not isinstance(config, dict):
        raise ModelError("a model needs an architecture name and a config mapping")
    cls: Any = ARCHITECTURES.get(architecture)
    if cls is None:
        known = ", ".join(sorted(ARCHITECTURES)) or "none"
        raise ModelError(f"unknown architecture {architecture!r} (known: {known})")
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = set(config) - fields
    if unknown:
        raise ModelError(f"config of {architecture!r} has unknown fields: {sorted(unknown)}")
    _check_types(architecture, cls.Config, config)
    try:
        model: nn.Module = cls(cls.Config(**config))
    except (TypeError, ValueError) as exc:  # a value the architecture itself refuses
        raise ModelError(f"config of {architecture!r} is invalid: {exc}") from None
    return model


_TYPE_WORDS: dict[Any, str] = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
}


def _check_types(architecture: str, config_cls: type, config: dict[str, Any]) -> None:
    """Refuse a config value of the wrong type, naming the field (a card or recipe typo).

    Only plain field types are checked (bool, int, float, str and Literal
    choices); an int is accepted for a float, a bool is never taken for a number.
    """
    hints = get_type_hints(config_cls)
    for key, value in config.items():
        hint = hints.get(key)
        if get_origin(hint) is Literal:
            ok = value in get_args(hint)
        elif hint is bool:
            ok = isinstance(value, bool)
        elif hint is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif hint is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif hint is str:
            ok = isinstance(value, str)
        else:
            continue
        if not ok:
            wanted = (
                " or ".join(repr(a) for a in get_args(hint))
                if get_origin(hint) is Literal
                else _TYPE_WORDS[hint]
            )
            raise ModelError(f"config of {architecture!r}: {key} must be {wanted}, got {value!r}")


def config_dict(model: nn.Module) -> dict[str, Any]:
    """The plain-data config of a registered model, for its card."""
    config: Any = model.config
    return dict(dataclasses.asdict(config))
