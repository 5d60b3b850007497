"""The inpainting benchmark: quality beside classical inpainting, and diversity by ring.

Protocol (what BENCHMARKS.md reports):

* images: every PNG of a folder (``data/holdout20-256``: 20 held-out 256²
  crops, never trained on); masks: :func:`benchmark_hole` — free-form strokes
  and boxes drawn by :func:`invimg.inpainting.masks.random_hole` from a seed
  fixed by (bin, image index), in the bins 10–30 % and 30–50 % of hole;
* quality: PSNR and SSIM (RGB, no border crop) of the *blended* 8-bit output
  (known pixels exact, what a PNG stores) against the original, for OpenCV's
  Telea (radius 3), scikit-image's biharmonic inpainting, the push-pull
  membrane fill alone (no learning), the prior alone, and each PD-GAN sample
  (mean over the ``n`` samples);
* diversity: the mean over all ``n(n−1)/2`` pairs of samples of an
  LPIPS-like distance (:func:`invimg.inpainting.features.distance_map`, with
  invimg's own feature network) and of the mean absolute pixel difference
  (0–255), averaged over the hole and over rings of the distance to the
  nearest known pixel. The classical methods and the prior are deterministic:
  their pairwise distances are 0 by construction and are not recomputed.
* latents: sample ``i`` uses :func:`invimg.inpainting.api.latent` with seed 0;
  ``strength`` as recorded in the report (the model card's default unless set).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from scipy import ndimage
from torch import Tensor, nn

from ..io import quantize_8bit, read_image, to_tensor
from ..io.images import list_images
from ..metrics import psnr, ssim
from .api import default_strength, inpaint, resolve_model
from .features import feature_distance_map, normalized
from .masks import EVAL_BINS, random_hole
from .pdgan import PDGAN
from .prior import push_pull_fill

#: Ring edges (pixels from the nearest known pixel) for diversity by depth into the hole.
RING_EDGES: tuple[float, ...] = (0, 4, 8, 16, 32, float("inf"))
BENCHMARK_SEED = 2021

Method = Callable[[np.ndarray, np.ndarray], np.ndarray]


def benchmark_hole(size: tuple[int, int], bin_index: int, image_index: int) -> np.ndarray:
    """The fixed hole of image ``image_index`` in bin ``bin_index`` (same on every run)."""
    rng = np.random.default_rng([BENCHMARK_SEED, bin_index, image_index])
    return random_hole(size, EVAL_BINS[bin_index], rng)


def telea(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """OpenCV's Telea fast marching inpainting (radius 3) of a uint8 image."""
    import cv2

    return np.asarray(cv2.inpaint(image, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA))


def biharmonic(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """scikit-image's biharmonic inpainting, rounded to 8 bits."""
    from skimage.restoration import inpaint_biharmonic

    filled = inpaint_biharmonic(image.astype(np.float64) / 255, hole, channel_axis=-1)
    return _blend(_to_u8(filled), image, hole)


def push_pull(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The push-pull membrane fill under the prior (no learning), for reference."""
    t = as_tensor(image)
    known = torch.from_numpy(~hole).float()[None, None]
    return _blend(_to_u8(push_pull_fill(t, known)[0].permute(1, 2, 0).numpy()), image, hole)


def prior_method(model: Any) -> Method:
    """The PD-GAN model's prior alone (deterministic), blended."""
    net = resolve_model(model)

    def run(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        t = as_tensor(image)
        known = torch.from_numpy(~hole).float()[None, None]
        with torch.no_grad():
            out = net.prior_image(t, known)[0].permute(1, 2, 0).numpy()
        return _blend(_to_u8(out), image, hole)

    return run


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.clip(np.rint(x * 255), 0, 255), dtype=np.uint8)


def _blend(filled: np.ndarray, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    return np.where(hole[..., None], filled, image)


def quality(output: np.ndarray, original: np.ndarray) -> tuple[float, float]:
    """(PSNR dB, SSIM) of two uint8 RGB images."""
    return float(psnr(output, original)), float(ssim(output, original))


def ring_masks(hole: np.ndarray) -> dict[str, np.ndarray]:
    """The hole split by distance (px) to the nearest known pixel, plus the whole hole."""
    depth = ndimage.distance_transform_edt(hole)
    rings = {"hole": hole}
    for lo, hi in itertools.pairwise(RING_EDGES):
        name = f"{lo:g}-{hi:g}px" if hi != float("inf") else f">={lo:g}px"
        rings[name] = hole & (depth > lo) & (depth <= hi)
    return rings


def pairwise_diversity(
    features: nn.Module, samples: Sequence[np.ndarray], hole: np.ndarray
) -> dict[str, dict[str, float | None]]:
    """Mean pairwise LPIPS-like and pixel distances of ``samples``, per ring of the hole."""
    batch = torch.cat([as_tensor(s) for s in samples])
    rings = ring_masks(hole)
    feature_sums = dict.fromkeys(rings, 0.0)
    pixel_sums = dict.fromkeys(rings, 0.0)
    pairs = 0
    with torch.no_grad():
        feats = [[normalized(f) for f in features(batch[i : i + 1])] for i in range(len(samples))]
        for i in range(len(samples)):
            for j in range(i + 1, len(samples)):
                dmap = feature_distance_map(feats[i], feats[j], hole.shape)[0, 0].numpy()
                pmap = np.abs(samples[i].astype(np.float64) - samples[j].astype(np.float64)).mean(
                    -1
                )
                for name, region in rings.items():
                    if region.any():
                        feature_sums[name] += float(dmap[region].mean())
                        pixel_sums[name] += float(pmap[region].mean())
                pairs += 1
    return {
        name: {
            "lpips_like": feature_sums[name] / pairs if region.any() and pairs else None,
            "pixel_l1": pixel_sums[name] / pairs if region.any() and pairs else None,
        }
        for name, region in rings.items()
    }


def training_crops(folder: Path, out: Path, per_image: int = 2, side: int = 256) -> Path:
    """Seeded ``side``² crops of each photo of ``folder`` (short side resized to 2·side) in ``out``.

    The held-out benchmark crops are taken at that scale, so a choice made on
    these crops of the *training* photos (a generator, its default strength)
    transfers, and the held-out images only measure it.
    """
    rng = np.random.default_rng(11)
    for name, photo in load_folder(folder):
        image = Image.fromarray(photo)
        scale = 2 * side / min(image.size)
        size = (round(image.width * scale), round(image.height * scale))
        pixels = np.asarray(image.resize(size, Image.Resampling.BICUBIC))
        for i in range(per_image):
            top = int(rng.integers(0, pixels.shape[0] - side + 1))
            left = int(rng.integers(0, pixels.shape[1] - side + 1))
            crop = pixels[top : top + side, left : left + side]
            Image.fromarray(crop).save(out / f"{name}-{i}.png")
    return out


#: The classical methods the samples must reach (the issue's quality bar).
CLASSICAL = ("telea", "biharmonic")


def classical_bar(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per bin, the better of Telea's and biharmonic's PSNR and SSIM in ``report``."""
    return {
        name: {m: max(b["rows"][c][m] for c in CLASSICAL) for m in ("psnr", "ssim")}
        for name, b in report["bins"].items()
    }


def reaches_classical(
    report: dict[str, Any], bar: dict[str, dict[str, float]] | None = None
) -> bool:
    """Whether the samples' PSNR and SSIM reach ``bar`` (default: the report's own) in every bin."""
    bar = classical_bar(report) if bar is None else bar
    return all(
        b["rows"]["pdgan"][m] >= bar[name][m]
        for name, b in report["bins"].items()
        for m in ("psnr", "ssim")
    )


def load_folder(folder: Path) -> list[tuple[str, np.ndarray]]:
    """The folder's images (sorted by name) as uint8 RGB arrays."""
    files = list_images(folder, suffixes=(".png",))
    return [(p.stem, quantize_8bit(read_image(p).pixels)) for p in files]


def evaluate_inpainting(
    model: str | os.PathLike[str],
    folder: Path,
    *,
    n: int = 8,
    features: str | os.PathLike[str] = "inpaint-features",
    limit: int | None = None,
    classical: bool = True,
    strength: float | None = None,
) -> dict[str, Any]:
    """Run the benchmark of the module docstring; returns rows, per-image values and markdown."""
    from ..zoo import load

    net = resolve_model(model)
    feature_net = load(features)
    images = load_folder(Path(folder))[:limit]
    methods: dict[str, Method] = {}
    if classical:
        methods.update({"telea": telea, "biharmonic": biharmonic, "push-pull": push_pull})
    methods["prior"] = prior_method(net)
    per_bin: dict[str, Any] = {}
    started = time.monotonic()
    for b, (lo, hi) in enumerate(EVAL_BINS):
        per_bin[f"{lo:.0%}-{hi:.0%}"] = _evaluate_bin(
            net, feature_net, images, b, methods, n, strength
        )
    return {
        "protocol": __doc__.split("Protocol (what BENCHMARKS.md reports):")[1].strip(),
        "model": str(model),
        "features": str(features),
        "images": len(images),
        "samples": n,
        "strength": default_strength(net) if strength is None else strength,
        "seconds": time.monotonic() - started,
        "bins": per_bin,
        "markdown": markdown(per_bin, n),
    }


def _evaluate_bin(
    net: PDGAN,
    feature_net: nn.Module,
    images: list[tuple[str, np.ndarray]],
    bin_index: int,
    methods: dict[str, Method],
    n: int,
    strength: float | None,
) -> dict[str, Any]:
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in [*methods, "pdgan"]}
    diversity: list[dict[str, dict[str, float | None]]] = []
    ratios = []
    for index, (_, image) in enumerate(images):
        hole = benchmark_hole(image.shape[:2], bin_index, index)
        ratios.append(float(hole.mean()))
        for name, method in methods.items():
            scores[name].append(quality(method(image, hole), image))
        samples = inpaint(image, hole, n=n, seed=0, model=net, strength=strength)
        per_sample = [quality(s, image) for s in samples]
        psnr_mean, ssim_mean = np.mean(per_sample, axis=0)
        scores["pdgan"].append((float(psnr_mean), float(ssim_mean)))
        if n > 1:
            diversity.append(pairwise_diversity(feature_net, samples, hole))
    rows = {
        name: {"psnr": float(np.mean([s[0] for s in v])), "ssim": float(np.mean([s[1] for s in v]))}
        for name, v in scores.items()
    }
    return {
        "hole_ratio_mean": float(np.mean(ratios)),
        "rows": rows,
        "diversity": _mean_rings(diversity),
        "per_image": {name: v for name, v in scores.items()},
    }


def _mean_rings(items: list[dict[str, dict[str, float | None]]]) -> dict[str, dict[str, float]]:
    """Average each ring's distances over the images where that ring exists."""
    if not items:
        return {}
    out: dict[str, dict[str, float]] = {}
    for ring in items[0]:
        out[ring] = {}
        for key in ("lpips_like", "pixel_l1"):
            values = [it[ring][key] for it in items if it[ring][key] is not None]
            out[ring][key] = float(np.mean(values)) if values else float("nan")  # type: ignore[arg-type]
        out[ring]["images"] = float(sum(it[ring]["lpips_like"] is not None for it in items))
    return out


def markdown(per_bin: dict[str, Any], n: int) -> str:
    """Two tables: quality per method and bin, and diversity per ring and bin."""
    bins = list(per_bin)
    names = list(per_bin[bins[0]]["rows"])
    head = "| method | " + " | ".join(f"PSNR {b} | SSIM {b}" for b in bins) + " |"
    lines = [head, "|---|" + "---:|---:|" * len(bins)]
    for name in names:
        label = f"PD-GAN (mean of {n} samples)" if name == "pdgan" else name
        cells = " | ".join(
            f"{per_bin[b]['rows'][name]['psnr']:.2f} | {per_bin[b]['rows'][name]['ssim']:.4f}"
            for b in bins
        )
        lines.append(f"| {label} | {cells} |")
    if per_bin[bins[0]]["diversity"]:
        rings = list(per_bin[bins[0]]["diversity"])
        lines += [
            "",
            "| ring (px from known) | "
            + " | ".join(f"LPIPS-like {b} | pixel L1 {b}" for b in bins)
            + " |",
        ]
        lines.append("|---|" + "---:|---:|" * len(bins))
        for ring in rings:
            cells = " | ".join(
                f"{per_bin[b]['diversity'][ring]['lpips_like']:.2e} | "
                f"{per_bin[b]['diversity'][ring]['pixel_l1']:.2f}"
                for b in bins
            )
            lines.append(f"| {ring} | {cells} |")
    return "\n".join(lines)


def as_tensor(image: np.ndarray) -> Tensor:
    """uint8 H×W×3 → 1×3×H×W float in [0, 1]."""
    return to_tensor(image.astype(np.float32) / 255)
