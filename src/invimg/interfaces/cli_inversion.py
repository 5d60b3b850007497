"""``invimg invert`` / ``invimg features``: reconstruct an image from its representation.

``invert`` takes an image (or a feature file written by ``invimg features``)
and writes the image that the optimisation of Mahendran & Vedaldi recovers
from its HOG, HOGb, dense SIFT or any layer of a PyTorch network. Several
representations at once (``--features hog,dsift`` or
``--features torch:NET:conv1,conv3,fc6``) give a contact sheet: the original
and one captioned reconstruction per representation. The output path is
checked before any work, and nothing is written if the run fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import typer

from ..errors import UsageError
from ..inference import check_backend
from ..io import check_output_path, write_image
from .cli import app
from .cli_backend import backend_option
from .common import check_choice, read_input, user_errors

if TYPE_CHECKING:  # torch loads only when a command runs
    from ..inversion.api import Inversion
    from ..inversion.representation import Representation

FEATURES_HELP = (
    "Representation: hog, hogb, dsift (optionally :CELL, e.g. hog:4) or torch:NET:LAYER "
    "(NET: a shipped model, a .json card or package.module.factory). Several, separated by "
    "commas (hog,dsift or torch:NET:conv1,conv3), make a contact sheet."
)
PRESET_HELP = "Published optimiser settings: ijcv2016 (default) or cvpr2015."
METHOD_HELP = "optimise (the paper's method) or decoder (the learned HOG baseline, one pass)."
NORMALIZE_HELP = "Input normalisation of a torch network: 'imagenet' (torchvision/timm models)."


def _floats(option: str, text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(
            f"{option} must be 3 numbers like 0.485,0.456,0.406, got {text!r}"
        ) from None
    if len(values) != 3:
        raise UsageError(f"{option} must be 3 numbers like 0.485,0.456,0.406, got {text!r}")
    return values


@app.command("invert")
@user_errors
def invert_command(
    source: Path = typer.Argument(..., help="Image, or a feature file from `invimg features`."),
    output: Path = typer.Option(..., "-o", "--output", help="Reconstruction (or sheet) to write."),
    features: str | None = typer.Option(None, "--features", "-f", help=FEATURES_HELP),
    method: str = typer.Option("optimise", "--method", help=METHOD_HELP),
    preset: str = typer.Option("ijcv2016", "--preset", help=PRESET_HELP),
    loss_weight: float | None = typer.Option(
        None, "--C", help="Weight C of the feature loss (IJCV default 100; larger fits Φ closer)."
    ),
    iterations: int | None = typer.Option(
        None, "--iterations", min=2, help="Total iterations (the preset's phases scaled)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the starting noise and the jitter."),
    normalize: str | None = typer.Option(None, "--normalize", help=NORMALIZE_HELP),
    mean: str | None = typer.Option(
        None, "--mean", help="Per-channel input mean, e.g. 0.5,0.5,0.5"
    ),
    std: str | None = typer.Option(None, "--std", help="Per-channel input std."),
    decoder: str = typer.Option(
        "hog-decoder", "--decoder", help="Decoder model for --method decoder."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUTPUT if it exists."),
    backend: str | None = backend_option(),
) -> None:
    """Reconstruct an image from its HOG, dense SIFT or CNN features (Mahendran & Vedaldi)."""
    from ..inversion.feature_file import is_feature_file
    from ..inversion.specs import normalisation

    check_backend(backend)
    check_output_path(output, force=force, inputs=[source])
    check_choice("--method", method, ("optimise", "decoder"))
    check_choice("--preset", preset, ("ijcv2016", "cvpr2015"))
    mean_v, std_v = normalisation(normalize, _floats("--mean", mean), _floats("--std", std))
    options: dict[str, Any] = {
        "method": method,
        "preset": preset,
        "loss_weight": loss_weight,
        "iterations": iterations,
        "seed": seed,
        "progress": not quiet,
        "decoder": decoder,
        "backend": backend,
    }
    if is_feature_file(source):
        if mean_v is not None or std_v is not None:
            raise UsageError(f"{source} records its own normalisation; drop --mean/--std")
        spec, tiles, captions = _invert_file(source, features, options)
        original = None
    else:
        spec = features or "hog"
        original = np.asarray(read_input(source).pixels)
        tiles, captions = _invert_image(original, spec, mean_v, std_v, options)
    picture = tiles[0] if len(tiles) == 1 else _sheet(original, tiles, captions)
    from ..inversion.api import inversion_metadata

    meta = inversion_metadata(spec)
    write_image(output, picture, force=force, inputs=[source], metadata=meta)
    typer.echo(f"wrote {output} ({'; '.join(captions)})")


def _invert_file(
    source: Path, features: str | None, options: dict[str, Any]
) -> tuple[str, list[np.ndarray], list[str]]:
    """Invert a feature file: the spec, image size and normalisation come from it."""
    from ..inversion.api import run_inversion
    from ..inversion.feature_file import load_features

    saved = load_features(source)
    if features is not None and features != saved.spec:
        raise UsageError(f"{source} holds {saved.spec!r} features, not {features!r}")
    rep = _rep(saved.spec, saved.mean, saved.std)
    result = run_inversion(target=saved.features, features=rep, size=saved.size, **options)
    return saved.spec, [result.image], [_caption(saved.spec, result)]


def _invert_image(
    pixels: np.ndarray,
    spec: str,
    mean: Sequence[float] | None,
    std: Sequence[float] | None,
    options: dict[str, Any],
) -> tuple[list[np.ndarray], list[str]]:
    """Invert each representation that ``spec`` names; one tile and caption each."""
    from ..inversion.api import run_inversion
    from ..inversion.specs import expand

    tiles, captions = [], []
    for one in expand(spec):
        result = run_inversion(pixels, _rep(one, mean, std), **options)
        tiles.append(result.image)
        captions.append(_caption(one, result))
    return tiles, captions


def _sheet(original: np.ndarray | None, tiles: list[np.ndarray], captions: list[str]) -> np.ndarray:
    """The contact sheet: the original (when there is one), then each reconstruction."""
    from ..inversion.sheet import contact_sheet

    if original is None:
        return contact_sheet(tiles, captions)
    return contact_sheet([_as_uint8(original), *tiles], ["original", *captions])


def _rep(spec: str, mean: Sequence[float] | None, std: Sequence[float] | None) -> Representation:
    from ..inversion.specs import representation

    return representation(spec, mean=mean, std=std)


def _caption(spec: str, result: Inversion) -> str:
    label = spec.rpartition(":")[2] if spec.startswith("torch:") else spec
    return f"{label or 'output'}: {result.relative_error:.1f}% err"


def _as_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    from ..io import quantize_8bit

    return quantize_8bit(pixels)


@app.command("features")
@user_errors
def features_command(
    image: Path = typer.Argument(..., help="Image whose representation to save."),
    output: Path = typer.Option(
        ..., "-o", "--output", help="Feature file to write (.safetensors)."
    ),
    features: str = typer.Option("hog", "--features", "-f", help=FEATURES_HELP.split(". Sev")[0]),
    normalize: str | None = typer.Option(None, "--normalize", help=NORMALIZE_HELP),
    mean: str | None = typer.Option(
        None, "--mean", help="Per-channel input mean, e.g. 0.5,0.5,0.5"
    ),
    std: str | None = typer.Option(None, "--std", help="Per-channel input std."),
    force: bool = typer.Option(False, "--force", help="Overwrite OUTPUT if it exists."),
) -> None:
    """Save an image's representation Φ0, to invert later with `invimg invert FILE`."""
    from ..inversion.api import features_of
    from ..inversion.feature_file import FeatureFile, is_feature_file, save_features
    from ..inversion.specs import normalisation
    from ..io import check_output_file

    if not is_feature_file(output):
        raise UsageError(f"the feature file must end in .safetensors, got {output.name}")
    check_output_file(output, force=force, inputs=[image])
    if "," in features:
        raise UsageError("invimg features saves one representation at a time")
    mean_v, std_v = normalisation(normalize, _floats("--mean", mean), _floats("--std", std))
    pixels = np.asarray(read_input(image).pixels)
    phi = features_of(pixels, _rep(features, mean_v, std_v))
    size = (int(pixels.shape[0]), int(pixels.shape[1]))
    mean_t = tuple(mean_v) if mean_v is not None else None
    std_t = tuple(std_v) if std_v is not None else None
    save_features(output, FeatureFile(phi, features, size, mean_t, std_t), force=force)
    typer.echo(f"wrote {output} ({features}, {tuple(phi.shape)} from {size[1]}×{size[0]})")
