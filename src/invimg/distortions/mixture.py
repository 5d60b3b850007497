"""Distortions by name, from text (``"jpeg:75"``), and a random mixture for training.

A robust model is trained on many channels at many strengths so that one model
serves all of them (RIIS's distortion-guided modulation). :class:`DistortionMixture`
draws one distortion per training step from a recipe section such as::

    round:    {weight: 0.2}
    jpeg:     {weight: 0.4, low: 50, high: 95, train_forward: real}
    gaussian: {weight: 0.2, low: 0.5, high: 6}
    poisson:  {weight: 0.1, low: 300, high: 10000}   # drawn log-uniformly
    resize:   {weight: 0.1, low: 0.5, high: 0.9}

``weight`` is relative; the strength is uniform in ``[low, high]`` (integers for
``jpeg`` and ``round``; log-uniform for ``poisson`` unless ``log: false``); any
other key is passed to the distortion (``subsampling``, ``train_forward``).
Draws come from the caller's ``torch.Generator``, so a resumed training run
sees the same channels as an uninterrupted one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from .base import KINDS, Distortion, Identity, Quantization
from .jpeg import JPEG
from .noise import GaussianNoise, PoissonNoise
from .resize import Resize

#: The class of every kind; ``strength`` is the first argument of each.
DISTORTIONS: dict[str, type[Distortion]] = {
    cls.kind: cls for cls in (Identity, Quantization, GaussianNoise, PoissonNoise, JPEG, Resize)
}
_INTEGER_KINDS = ("jpeg", "round")
_LOG_KINDS = ("poisson",)
_RANGE_KEYS = ("weight", "low", "high", "log")
assert set(DISTORTIONS) == set(KINDS)


def make_distortion(kind: str, strength: float | None = None, **options: Any) -> Distortion:
    """A distortion by kind; ``strength`` None takes the kind's default."""
    cls = DISTORTIONS.get(kind)
    if cls is None:
        raise ValueError(f"unknown distortion {kind!r} (known: {', '.join(KINDS)})")
    if strength is None:
        return cls(**options)
    return cls(strength, **options)


def parse_distortion(text: str) -> Distortion:
    """A distortion from ``KIND[:STRENGTH]``: ``"jpeg:75"``, ``"gaussian:2"``, ``"round"``."""
    kind, _, value = text.strip().lower().partition(":")
    if not value:
        return make_distortion(kind)
    try:
        strength = float(value)
    except ValueError:
        raise ValueError(f"distortion {text!r}: strength {value!r} is not a number") from None
    return make_distortion(kind, strength)


@dataclass(frozen=True)
class MixtureEntry:
    """One kind of a mixture: its weight, its strength range and its options."""

    kind: str
    weight: float = 1.0
    low: float | None = None
    high: float | None = None
    log: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def draw_strength(self, generator: torch.Generator) -> float | None:
        """Uniform (log-uniform with ``log``) in [low, high]; whole numbers for integer kinds."""
        if self.low is None or self.high is None:
            return self.low if self.high is None else self.high
        u = float(torch.rand((), generator=generator))
        low, high = self.low, self.high
        if self.kind in _INTEGER_KINDS:
            return float(min(high, math.floor(low + u * (high - low + 1))))
        if self.log:
            return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        return low + u * (high - low)


class DistortionMixture:
    """Draws a distortion from weighted kinds and strength ranges (see the module docstring)."""

    def __init__(self, spec: Mapping[str, Mapping[str, Any]]) -> None:
        if not spec:
            raise ValueError("a distortion mixture needs at least one kind")
        self.entries = [_entry(kind, dict(fields)) for kind, fields in spec.items()]
        total = sum(e.weight for e in self.entries)
        if total <= 0:
            raise ValueError("the weights of a distortion mixture must add up to more than 0")
        self.probabilities = torch.tensor([e.weight / total for e in self.entries])

    def sample(self, generator: torch.Generator) -> Distortion:
        """One distortion (in training mode) with a strength drawn from its range."""
        index = int(torch.multinomial(self.probabilities, 1, generator=generator))
        entry = self.entries[index]
        return make_distortion(entry.kind, entry.draw_strength(generator), **entry.options)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{e.kind}: p={float(p):.2f}" for e, p in zip(self.entries, self.probabilities)
        )
        return f"DistortionMixture({parts})"


def _entry(kind: str, fields: dict[str, Any]) -> MixtureEntry:
    """Validate one kind's section, building one instance at each end of its range."""
    if kind not in DISTORTIONS:
        raise ValueError(f"unknown distortion {kind!r} (known: {', '.join(KINDS)})")
    options = {k: v for k, v in fields.items() if k not in _RANGE_KEYS}
    low, high = fields.get("low"), fields.get("high")
    entry = MixtureEntry(
        kind,
        weight=float(fields.get("weight", 1.0)),
        low=None if low is None else float(low),
        high=None if high is None else float(high),
        log=bool(fields.get("log", kind in _LOG_KINDS)),
        options=options,
    )
    if entry.weight < 0:
        raise ValueError(f"{kind}: weight must be >= 0")
    if entry.low is not None and entry.high is not None and entry.low > entry.high:
        raise ValueError(f"{kind}: low ({entry.low:g}) is above high ({entry.high:g})")
    for strength in {entry.low, entry.high}:  # refuse a bad range or option now, not mid-run
        try:
            make_distortion(kind, strength, **options)
        except TypeError as exc:
            raise ValueError(f"{kind}: unknown option in {sorted(options)} ({exc})") from None
    return entry
