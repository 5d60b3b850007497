"""``invimg train TASK``, ``invimg eval TASK`` and ``invimg export``: reproduce the shipped models.

Training is the shared trainer (``invimg.training``); a run is one YAML recipe
plus ``--set key=value`` overrides and resumes by itself from its folder. Runs
on several GPUs or machines use PyTorch's own launcher::

    torchrun --nproc_per_node=4 -m invimg.training recipe.yaml
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import typer

from ..errors import ConfigError, InputImageError, OutputPathError, UsageError
from ..io import check_output_file, write_text
from ..io.images import show_path
from ..tasks import TASKS, first_default, training_tasks
from .cli import app
from .common import check_choice, user_errors

RECIPES = Path(__file__).resolve().parents[1] / "training" / "recipes"
#: ``invimg eval TASK`` → "module:function" (from the task table).
EVALUATORS = {spec.name: spec.evaluator for spec in TASKS if spec.evaluator}

train_app = typer.Typer(
    help="Train a model from a YAML recipe (resumes from its out_dir).", no_args_is_help=True
)
eval_app = typer.Typer(
    help="Measure a model on a folder of images, as in BENCHMARKS.md.", no_args_is_help=True
)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")


def _recipe_path(config: str) -> Path:
    path = Path(config)
    if path.is_file():
        return path
    shipped = RECIPES / f"{config}.yaml"
    if shipped.is_file():
        return shipped
    names = ", ".join(sorted(p.stem for p in RECIPES.glob("*.yaml")))
    raise ConfigError(f"no recipe {config!r}: give a YAML path or one of: {names}")


def _train(task: str, config: str, overrides: list[str]) -> None:
    from ..training import load_config, run_training

    path = _recipe_path(config)
    if load_config(path, overrides).task != task:
        raise ConfigError(f"recipe {path} is for task {load_config(path).task!r}, not {task!r}")
    out = run_training(path, overrides)
    typer.echo(f"checkpoints and metrics.csv in {out}")


SET_HELP = "Override a recipe value, e.g. --set optim.lr=1e-4 (repeatable)."


#: ``invimg train NAME`` → (the recipe's ``task``, what it trains), from the task table.
TRAINABLE: dict[str, tuple[str, str]] = {t.command: (t.task, t.help) for t in training_tasks()}


def _add_train_command(name: str, task: str, help_text: str) -> None:
    @user_errors
    def train(
        config: str = typer.Option(
            ..., "--config", help="Recipe YAML path or shipped recipe name."
        ),
        overrides: list[str] = typer.Option([], "--set", help=SET_HELP),
    ) -> None:
        _train(task, config, overrides)

    train.__doc__ = help_text
    train_app.command(name, help=help_text)(train)


for _name, (_task, _help) in TRAINABLE.items():
    _add_train_command(_name, _task, _help)


def _evaluate(
    task: str, model: str, folder: Path, json_out: Path | None, force: bool, **options: object
) -> None:
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputImageError(f"image folder {show_path(folder)} {what}")
    if json_out is not None:  # before minutes of evaluation, not after
        check_output_file(json_out, force=force)
    module, _, name = EVALUATORS[task].partition(":")
    evaluate = getattr(importlib.import_module(module), name)
    report = evaluate(model, folder, **options)
    typer.echo(report["markdown"])
    if json_out is not None:
        write_text(json_out, json.dumps(report, indent=2, default=str) + "\n", force=force)


FOLDER_HELP = "Folder of images."
JSON_HELP = "Also write the numbers here (a .json file)."
EVAL_FORCE_HELP = "Overwrite the --json file if it exists."


@eval_app.command("hiding")
@user_errors
def eval_hiding(
    folder: Path = typer.Argument(..., help=FOLDER_HELP),
    model: str = typer.Option(
        first_default("hiding", "1"), "--model", help="Shipped model name or card path."
    ),
    size: str = typer.Option("256", "--size", help="'256' (centre crops) or 'full'."),
    z: str = typer.Option("zeros", "--z", help="Stand-in for r: zeros, gaussian or both."),
    refine: int = typer.Option(
        0, "--refine", min=0, help="Also measure the stego refined for this many steps."
    ),
    json_out: Path | None = typer.Option(None, "--json", help=JSON_HELP),
    force: bool = typer.Option(False, "--force", help=EVAL_FORCE_HELP),
) -> None:
    """Stego and revealed-secret quality after an 8-bit PNG round trip, with the LSB baseline."""
    from ..hiding.evaluation import crop_side

    check_choice("--z", z, ("zeros", "gaussian", "both"))
    crop_side(size)
    zs = ("zeros", "gaussian") if z == "both" else (z,)
    _evaluate("hiding", model, folder, json_out, force, size=size, zs=zs, refine=refine)


@eval_app.command("rescaling")
@user_errors
def eval_rescaling(
    folder: Path = typer.Argument(..., help=FOLDER_HELP),
    model: str = typer.Option(
        first_default("rescaling", "first"), "--model", help="Shipped model name or card path."
    ),
    json_out: Path | None = typer.Option(None, "--json", help=JSON_HELP),
    force: bool = typer.Option(False, "--force", help=EVAL_FORCE_HELP),
) -> None:
    """Restored-HR and LR quality (Y, border crop = scale) beside bicubic and Lanczos."""
    _evaluate("rescaling", model, folder, json_out, force)


@eval_app.command("inpainting")
@user_errors
def eval_inpainting(
    folder: Path = typer.Argument(..., help="Folder of 256×256 images."),
    model: str = typer.Option(
        first_default("inpainting", "sampler"), "--model", help="Shipped model name or card path."
    ),
    samples: int = typer.Option(8, "-n", "--samples", min=2, help="Samples per image and mask."),
    json_out: Path | None = typer.Option(None, "--json", help=JSON_HELP),
    force: bool = typer.Option(False, "--force", help=EVAL_FORCE_HELP),
) -> None:
    """Blended PSNR/SSIM beside Telea and biharmonic, and diversity from the hole's border in."""
    _evaluate("inpainting", model, folder, json_out, force, n=samples)


@app.command("export")
@user_errors
def export_command(
    run_dir: Path = typer.Argument(
        ..., help="Training run folder (with --onnx: a shipped model name or card)."
    ),
    name: str | None = typer.Option(None, "--name", help="Name of the exported model."),
    out: Path = typer.Option(
        Path("."), "--out", help="Existing folder for NAME.safetensors + NAME.json."
    ),
    card: Path | None = typer.Option(None, "--card", help="JSON with extra card fields."),
    force: bool = typer.Option(False, "--force", help="Overwrite an earlier export of NAME."),
    onnx: bool = typer.Option(
        False, "--onnx", help="Write the model's inference graphs as OUT/MODEL-KIND.onnx."
    ),
) -> None:
    """Turn a training run's last checkpoint into fp16 safetensors + a model card,
    or (--onnx) a model's fixed inference graphs into ONNX files (opset 17)."""
    from ..io.metadata import CARD_SUFFIXES
    from ..training.export import export_run

    if onnx:
        from .cli_backend import export_onnx_files

        written_files = export_onnx_files(str(run_dir), out, force)
        typer.echo("wrote " + ", ".join(str(p) for p in written_files))
        return
    if name is None:
        raise UsageError("--name is required to export a training run")
    if not name or Path(name).name != name or name in (".", ".."):
        raise UsageError(f"--name must be a plain file name, got {name!r}")
    if not out.is_dir():
        what = "is not a folder" if out.exists() else "does not exist"
        raise OutputPathError(f"cannot export into {show_path(out)}: it {what}")
    for suffix in CARD_SUFFIXES:
        check_output_file(out / f"{name}{suffix}", force=force)
    extra = _extra_card_fields(card) if card else {}
    written = export_run(run_dir, name, out, extra)
    typer.echo(f"wrote {written.path} and {written.weights_path} (sha256 {written.data['sha256']})")


def _extra_card_fields(path: Path) -> dict[str, Any]:
    """The JSON object of ``--card``, or one clear error."""
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read --card {show_path(path)}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--card {show_path(path)} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--card {show_path(path)} must hold a JSON object of card fields")
    return data
