"""The task table: each capability of invimg declared once, as plain names.

Why one table: the zoo (which packages register architectures), the trainer
(which module registers a training task), the command line (which modules add
commands), the web page (which tabs exist), ``invimg``'s lazy exports and the
default models all read it, so adding a task is one entry here plus its
package. The table holds module *names*, never imports: reading it costs
nothing, and ``invimg --help`` stays fast.

Adding a task ``foo``: write ``invimg/foo/`` (architectures registered with
``@register_architecture``, an ``api.py``, optionally a ``task.py`` with
``@register_task``), its ``interfaces/cli_foo.py`` and ``web/foo_tab.py``, and
one :class:`TaskSpec` below. See ``docs/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class TrainingSpec:
    """A training task: the recipe's ``task``, the module that registers it, its command."""

    task: str
    module: str
    command: str
    help: str


@dataclass(frozen=True)
class TaskSpec:
    """One capability: its package, API, training tasks, interfaces and default models.

    ``defaults`` maps a case (``"1"`` secret, ``"scale"``, ``"colour"`` …) to
    model names by preference: where several are named, the first one shipped
    is the default (small CPU-trained models ship first; a full one shipped
    later takes over without a code change). ``{scale}`` in a name is filled
    in by :func:`default_candidates`.
    """

    name: str
    package: str
    api: MappingProxyType[str, str] = field(default_factory=lambda: _names())
    training: tuple[TrainingSpec, ...] = ()
    evaluator: str | None = None
    commands: str | None = None
    web_tab: str | None = None
    defaults: MappingProxyType[str, tuple[str, ...]] = field(default_factory=lambda: _names())


def _names(**items: Any) -> MappingProxyType[str, Any]:
    return MappingProxyType(dict(items))


#: In the order of the web page's tabs (and of the commands in ``invimg --help``).
TASKS: tuple[TaskSpec, ...] = (
    TaskSpec(
        name="hiding",
        package="invimg.hiding",
        api=_names(hide="invimg.hiding.api", reveal="invimg.hiding.api"),
        training=(
            TrainingSpec(
                "hiding", "invimg.hiding.task", "hiding", "Train HiNet / DeepMIH image hiding."
            ),
            TrainingSpec(
                "robust_hiding",
                "invimg.hiding.robust_task",
                "robust-hiding",
                "Train RIIS robust hiding (from a trained HiNet).",
            ),
        ),
        evaluator="invimg.hiding.evaluation:evaluate_hiding",
        commands="invimg.interfaces.cli_hiding",
        web_tab="invimg.interfaces.web.hiding_tab",
        defaults=_names(
            **{"1": ("hinet-small",), "2": ("deepmih2-small",), "3": ("deepmih3-small",)},
            robust=("riis", "riis-small"),
        ),
    ),
    TaskSpec(
        name="rescaling",
        package="invimg.rescaling",
        api=_names(
            downscale="invimg.rescaling.api",
            upscale="invimg.rescaling.api",
            decolorize="invimg.rescaling.api",
            colorize="invimg.rescaling.api",
        ),
        training=(
            TrainingSpec(
                "rescaling",
                "invimg.rescaling.task",
                "rescaling",
                "Train IRN invertible rescaling / decolorization.",
            ),
        ),
        evaluator="invimg.rescaling.evaluation:evaluate_rescaling",
        commands="invimg.interfaces.cli_rescaling",
        web_tab="invimg.interfaces.web.rescaling_tab",
        defaults=_names(
            first=("irn-x2", "irn-x2-small"),
            scale=("irn-x{scale}", "irn-x{scale}-small"),
            colour=("irn-color", "irn-color-small"),
        ),
    ),
    TaskSpec(
        name="datahiding",
        package="invimg.datahiding",
        api=_names(
            embed="invimg.datahiding.api",
            extract="invimg.datahiding.api",
            capacity="invimg.datahiding.api",
        ),
        training=(
            TrainingSpec(
                "datahiding",
                "invimg.datahiding.task",
                "datahiding",
                "Train the Steg-cINN colour generator for data hiding.",
            ),
        ),
        commands="invimg.interfaces.cli_datahiding",
        web_tab="invimg.interfaces.web.datahiding_tab",
        defaults=_names(embed=("steg-cinn",)),
    ),
    TaskSpec(
        name="inpainting",
        package="invimg.inpainting",
        api=_names(inpaint="invimg.inpainting.api", contact_sheet="invimg.inpainting.api"),
        training=(
            TrainingSpec(
                "inpainting",
                "invimg.inpainting.task",
                "inpainting",
                "Train the inpainting prior, PD-GAN or its feature network.",
            ),
        ),
        evaluator="invimg.inpainting.evaluation:evaluate_inpainting",
        commands="invimg.interfaces.cli_inpainting",
        web_tab="invimg.interfaces.web.inpainting_tab",
        defaults=_names(sampler=("pdgan-small",)),
    ),
    TaskSpec(
        name="inversion",
        package="invimg.inversion",
        api=_names(invert="invimg.inversion.api", features_of="invimg.inversion.api"),
        training=(
            TrainingSpec(
                "inversion",
                "invimg.inversion.task",
                "inversion",
                "Train the HOG decoder baseline or the rotnet feature network.",
            ),
        ),
        commands="invimg.interfaces.cli_inversion",
        web_tab="invimg.interfaces.web.inversion_tab",
        defaults=_names(decoder=("hog-decoder",)),
    ),
)


def task(name: str) -> TaskSpec:
    """The entry of task ``name`` (a KeyError names the known ones)."""
    for spec in TASKS:
        if spec.name == name:
            return spec
    raise KeyError(f"no task {name!r} (tasks: {', '.join(s.name for s in TASKS)})")


def training_tasks() -> Iterator[TrainingSpec]:
    """Every training task of every capability, in table order."""
    for spec in TASKS:
        yield from spec.training


def default_candidates(name: str, case: str, **fields: object) -> tuple[str, ...]:
    """The models of task ``name`` for ``case`` by preference, ``{fields}`` filled in."""
    return tuple(model.format(**fields) for model in task(name).defaults[case])


def first_default(name: str, case: str) -> str:
    """The first-preference model of a case (for a CLI option's shown default)."""
    return default_candidates(name, case)[0]
