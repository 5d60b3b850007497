"""Training-run configuration: YAML in, validated dataclasses out.

One run is described by one YAML file plus ``--set a.b=value`` overrides, so a
run can be reproduced from the ``config.yaml`` the trainer writes next to its
checkpoints. Every key is checked: a typo such as ``optim.lrr`` must stop the
run before hours of compute are spent with a silently ignored setting.
``model`` and ``loss`` are free dictionaries because only the task knows them;
a task turns its section into its model's config with :func:`build_section`,
which checks it just as strictly.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from invimg.errors import ConfigError

#: ``bf16``/``auto``: bf16 autocast on CUDA and on CPUs with native bf16 (AVX-512
#: BF16 or AMX), fp32 elsewhere (emulated bf16 is slower than fp32).
AMP_MODES = ("off", "bf16", "auto")
SCHEDULES = ("multistep", "cosine")


@dataclass
class DataConfig:
    """Where the photos come from and how they are cut into training crops."""

    train: list[str] = field(default_factory=list)
    val: list[str] = field(default_factory=list)
    val_fraction: float = 0.0
    crop: int = 128
    val_crop: int | None = None
    size_multiple: int = 1
    batch_size: int = 16
    num_workers: int = 4
    cache: bool = False
    augment: bool = True
    scale_down: float = 1.0


@dataclass
class OptimConfig:
    """Adam with a linear warm-up, then step decay or cosine decay.

    ``grad_clip`` is a max global L2 norm (``None`` = off). ``schedule:
    multistep`` multiplies the LR by ``gamma`` at each of ``milestones`` (the
    published recipes); ``cosine`` decays it from ``lr`` to ``min_lr_ratio · lr``
    at the run's last step, so a short run ends as settled as a long one.
    """

    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    grad_clip: float | None = None
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.5
    schedule: str = "multistep"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0


@dataclass
class GuardConfig:
    """Divergence guard: roll back and lower the LR instead of restarting by hand."""

    enabled: bool = True
    max_rollbacks: int = 5
    lr_factor: float = 0.5
    spike_factor: float | None = 10.0
    window: int = 100
    snapshot_every: int | None = None
    #: A spike must last this many consecutive steps to count as divergence; the
    #: spiking steps before that are skipped (no update), so one hard crop
    #: neither moves the weights nor costs the run half its learning rate.
    patience: int = 3


@dataclass
class TrainConfig:
    """A whole training run. ``task`` names a factory registered with ``register_task``."""

    task: str = ""
    model: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    guard: GuardConfig = field(default_factory=GuardConfig)
    steps: int = 1000
    log_every: int = 100
    val_every: int = 1000
    ckpt_every: int = 1000
    out_dir: str = "runs/default"
    seed: int = 0
    amp: str = "off"
    #: Decay of an exponential moving average of the weights; the average is
    #: what validation measures and what gets exported (``None``: no average).
    ema: float | None = None
    deterministic: bool = False
    #: Stop this call after so many minutes of wall time, with a checkpoint, so
    #: a run can advance in bounded calls (a lent GPU for 10 minutes, a CI job);
    #: the next call resumes. ``None``: train to ``steps``.
    max_minutes: float | None = None


def load_config(
    source: str | Path | Mapping[str, Any] | TrainConfig, overrides: Iterable[str] = ()
) -> TrainConfig:
    """Build a validated :class:`TrainConfig` from a YAML path, a dict or a config.

    ``overrides`` are ``"dotted.key=value"`` strings whose values are parsed as
    YAML (``data.train=[a, b]`` gives a list); they are applied before
    validation, so an override can fix a file that would not validate alone.
    """
    raw = _raw_dict(source)
    for item in overrides:
        _apply_override(raw, item)
    config = _build(TrainConfig, raw, "")
    validate(config)
    return config


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    """Plain YAML/pickle-safe dict (tuples become lists) for saving next to checkpoints."""
    return typing.cast(dict[str, Any], _plain(dataclasses.asdict(config)))


def save_config(config: TrainConfig, path: Path) -> None:
    """Write ``config`` as YAML so ``load_config(path)`` reproduces the run."""
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False), encoding="utf-8")


def validate(config: TrainConfig) -> None:
    """Check value ranges that types cannot express; raise one clear ConfigError."""
    d, o, g = config.data, config.optim, config.guard
    checks: list[tuple[bool, str]] = [
        (bool(config.task), "task: name a registered training task"),
        (bool(d.train), "data.train: give at least one image folder or file"),
        (config.steps > 0, "steps must be > 0"),
        (config.log_every > 0, "log_every must be > 0"),
        (config.val_every > 0, "val_every must be > 0"),
        (config.ckpt_every > 0, "ckpt_every must be > 0"),
        (config.amp in AMP_MODES, f"amp must be one of {', '.join(AMP_MODES)}"),
        (d.crop > 0, "data.crop must be > 0"),
        (d.val_crop is None or d.val_crop > 0, "data.val_crop must be > 0 or null"),
        (d.size_multiple > 0, "data.size_multiple must be > 0"),
        (d.batch_size > 0, "data.batch_size must be > 0"),
        (d.num_workers >= 0, "data.num_workers must be >= 0"),
        (0.0 <= d.val_fraction < 1.0, "data.val_fraction must be in [0, 1)"),
        (not (d.val and d.val_fraction), "data: give either val folders or val_fraction"),
        (d.scale_down >= 1.0, "data.scale_down must be >= 1 (1 = keep full size)"),
        (o.lr > 0, "optim.lr must be > 0"),
        (all(0 <= b < 1 for b in o.betas), "optim.betas must be in [0, 1)"),
        (o.eps > 0, "optim.eps must be > 0"),
        (o.weight_decay >= 0, "optim.weight_decay must be >= 0"),
        (o.grad_clip is None or o.grad_clip > 0, "optim.grad_clip must be > 0 or null"),
        (o.gamma > 0, "optim.gamma must be > 0"),
        (o.milestones == sorted(set(o.milestones)), "optim.milestones must be increasing"),
        (o.schedule in SCHEDULES, f"optim.schedule must be one of {', '.join(SCHEDULES)}"),
        (o.warmup_steps >= 0, "optim.warmup_steps must be >= 0"),
        (0 <= o.min_lr_ratio <= 1, "optim.min_lr_ratio must be in [0, 1]"),
        (config.ema is None or 0 < config.ema < 1, "ema must be in (0, 1) or null"),
        (g.max_rollbacks >= 0, "guard.max_rollbacks must be >= 0"),
        (0 < g.lr_factor < 1, "guard.lr_factor must be in (0, 1)"),
        (g.spike_factor is None or g.spike_factor > 1, "guard.spike_factor must be > 1 or null"),
        (g.window > 0, "guard.window must be > 0"),
        (g.snapshot_every is None or g.snapshot_every > 0, "guard.snapshot_every must be > 0"),
        (g.patience > 0, "guard.patience must be > 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


# -- loading helpers ---------------------------------------------------------


def _raw_dict(source: str | Path | Mapping[str, Any] | TrainConfig) -> dict[str, Any]:
    if isinstance(source, TrainConfig):
        return config_to_dict(source)
    if isinstance(source, Mapping):
        return typing.cast(dict[str, Any], _plain(dict(source)))
    path = Path(source)
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})".replace("\n", " ")) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys")
    return loaded


def _apply_override(raw: dict[str, Any], item: str) -> None:
    """Set ``a.b.c=value`` inside ``raw``, creating intermediate mappings."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {item!r}: expected key=value, e.g. optim.lr=1e-4")
    try:
        value = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        value = text
    node = raw
    parts = key.split(".")
    for depth, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {key}: {'.'.join(parts[: depth + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def check_crops(data: DataConfig, multiple: int, why: str | None = None) -> None:
    """Refuse training crops whose sides the network cannot take: not a multiple of ``multiple``.

    Every task's network has one (its down-sampling: IRN's scale, a U-Net's
    ``2**levels``); a crop that breaks it would fail inside the first step, so
    each task checks it here when it builds its network, with one message.
    ``why`` says where the multiple comes from (``"the scale 2"``).
    """
    for name, size in (("data.crop", data.crop), ("data.val_crop", data.val_crop)):
        if size is not None and size % multiple:
            raise ConfigError(f"{name}={size} must be a multiple of {why or multiple}")


T = typing.TypeVar("T")


def build_section(cls: type[T], raw: Any, prefix: str, what: str = "config") -> T:
    """A free recipe section (``model``, ``loss``) as dataclass ``cls``, checked like the rest.

    Unknown keys, values of the wrong type (``--set model.num_blocks=two``) and
    values the dataclass itself refuses are one :class:`ConfigError` naming the
    key; ``prefix`` is the section's dotted name plus a dot, e.g. ``"model."``;
    ``what`` names the section in the unknown-key message ("unknown loss key").
    """
    try:
        built: T = _build(cls, raw, prefix, what)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: {exc}") from None
    return built


def _build(cls: type[Any], raw: Any, prefix: str, what: str = "config") -> Any:
    """Instantiate dataclass ``cls`` from ``raw``, naming the dotted key of any error."""
    where = prefix.rstrip(".") or "config"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(
                f"unknown {what} key '{prefix}{key}' (known: {', '.join(sorted(known))})"
            )
    kwargs = {key: _coerce(hints[key], value, f"{prefix}{key}") for key, value in raw.items()}
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to type ``tp`` or raise a ConfigError naming ``key``."""
    if dataclasses.is_dataclass(tp):
        return _build(typing.cast(type, tp), value, key + ".")
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, key)
    if origin is list:
        items = value if isinstance(value, list | tuple) else _fail(key, "a list", value)
        return [_coerce(args[0], v, f"{key}[{i}]") for i, v in enumerate(items)]
    if origin is tuple:
        if not isinstance(value, list | tuple) or len(value) != len(args):
            _fail(key, f"a list of {len(args)} values", value)
        return tuple(_coerce(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        return dict(value) if isinstance(value, dict) else _fail(key, "a mapping", value)
    return _scalar(tp, value, key)


def _scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is bool:
        return value if isinstance(value, bool) else _fail(key, "true or false", value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return _fail(key, "an integer", value)
    if tp is float:
        # PyYAML reads "1e-4" (no dot) as a string; accept it as the number it means.
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                return float(value)
            except ValueError:
                pass
        return _fail(key, "a number", value)
    if tp is str:
        return (
            str(value) if isinstance(value, str | int | float | Path) else _fail(key, "text", value)
        )
    return value


def _fail(key: str, expected: str, value: Any) -> typing.NoReturn:
    raise ConfigError(f"config key '{key}': expected {expected}, got {value!r}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
