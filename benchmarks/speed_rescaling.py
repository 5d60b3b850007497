"""Speed and memory of IRN rescaling: ×s down and up of a photo-sized image, tiled.

1. Seconds and peak memory for ``invimg.downscale`` and ``invimg.upscale`` of a
   ``--width × --height`` image (2048×1536 by default), each in its own
   subprocess on the CPU (peak RSS during the call minus RSS before it), with
   ``--threads``. On a busy 2-core machine one thread is often faster than two.
   ``--no-tiles`` processes the image in one piece for comparison.
2. With CUDA: the same on the GPU (``torch.cuda.max_memory_allocated``).
3. ``--deviation N``: max |tiled − untiled| (in 8-bit levels) and the PSNR
   between them on an ``N×N`` crop of a real photo, for the chosen margin and
   a quarter of the chosen tile (so that the crop spans several tiles): how
   close tiling is to whole-image processing with these weights
   (``--deviation-only`` skips the timings).

The model is a card / shipped name, ``random:x2`` / ``random:x4`` for the
published architecture with untrained weights (speed and memory do not depend
on the weights; the deviation does), or ``reference:x4``: the published
random checkpoint ``IRN_x4_official_random.pth`` of ``../shared/reference``
loaded into invimg. ``--published SRC`` (a checkout of the published IRN's
``codes`` folder, run outside this repo) adds the published ``InvRescaleNet``
with the same checkpoint, whole image in one forward as its test script does,
measured the same way::

    python benchmarks/speed_rescaling.py --model random:x4 --threads 2
    OMP_NUM_THREADS=1 python benchmarks/speed_rescaling.py --model reference:x4 --threads 1 \
        --published /tmp/published-irn/codes --also-whole
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from invimg.rescaling import IRN
from invimg.rescaling.api import DEFAULT_MARGIN, DEFAULT_TILE, downscale, resolve_model, upscale
from invimg.rescaling.irn import receptive_radius
from invimg.rescaling.published import load_published_irn

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "data" / "holdout" / "mate-nature-storm.png"
#: The published random ×4 checkpoint beside this checkout (``../shared/reference``).
REFERENCE_X4 = ROOT.parent / "shared" / "reference" / "IRN_x4_official_random.pth"


def build(spec: str, device: str = "cpu") -> IRN:
    if spec.startswith("random:x"):
        torch.manual_seed(0)
        return IRN(IRN.Config(scale=int(spec.removeprefix("random:x")))).to(device).eval()
    if spec == "reference:x4":
        return load_published_irn(REFERENCE_X4, device)
    model = resolve_model(spec, spec, device)
    assert isinstance(model, IRN), "speed_rescaling measures IRN rescaling models"
    return model


def image(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


def current_rss_mib() -> float:
    """Resident memory now (Linux), the baseline that the call's peak is compared with."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def timed_peak(run: Callable[[], object], cuda: bool = False) -> dict[str, float]:
    """Seconds of ``run()`` and its peak memory (CUDA allocator, else RSS growth), MiB."""
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base = current_rss_mib()
    start = time.perf_counter()
    with torch.no_grad():
        run()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if cuda:
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    return {"seconds": seconds, "peak_mib": peak}


def published_child(args: argparse.Namespace) -> dict[str, float]:
    """The published InvRescaleNet (×4, reference checkpoint), whole image, as its test does."""
    from compare_published import published_irn  # the same folder: imports their code

    torch.set_num_threads(args.threads)
    net = published_irn(Path(args.published), REFERENCE_X4)
    g = torch.Generator().manual_seed(0)
    h, w = args.height, args.width
    hr = torch.randint(0, 256, (1, 3, h, w), generator=g).float() / 255
    lr = torch.randint(0, 256, (1, 3, h // 4, w // 4), generator=g).float() / 255
    y = torch.cat((lr, torch.randn(1, 45, h // 4, w // 4, generator=g)), 1)
    if args.child == "down":  # their test quantises the LR
        return timed_peak(lambda: torch.round(net(hr)[:, :3].clamp(0, 1) * 255))
    return timed_peak(lambda: net(y, rev=True)[:, :3].clamp(0, 1))


def child(args: argparse.Namespace) -> dict[str, float]:
    """Run one measurement in this process and report it (called via ``--child``)."""
    if args.published:
        return published_child(args)
    torch.set_num_threads(args.threads)
    model = build(args.model, args.device)
    tile = args.tile if args.tiles else 10**6
    hr = image(args.width, args.height)
    s = model.scale
    lr = image(-(-args.width // s), -(-args.height // s))  # content does not change the cost
    cuda = args.device == "cuda"
    if args.child == "down":
        return timed_peak(
            lambda: downscale(hr, model=model, tile=tile, margin=args.margin, device=args.device),
            cuda,
        )
    return timed_peak(
        lambda: upscale(lr, model=model, tile=tile, margin=args.margin, device=args.device), cuda
    )


def measure(
    args: argparse.Namespace,
    what: str,
    device: str,
    *,
    tiles: bool | None = None,
    published: bool = False,
) -> dict[str, float]:
    """One measurement in a fresh subprocess, so peak memory is not inherited."""
    argv = [sys.executable, __file__, "--child", what, "--device", device]
    for key in ("model", "width", "height", "threads", "tile", "margin"):
        argv += [f"--{key}", str(getattr(args, key))]
    argv += [] if (args.tiles if tiles is None else tiles) else ["--no-tiles"]
    argv += ["--published", str(args.published)] if published else []
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def deviation(args: argparse.Namespace) -> dict[str, float]:
    """Tiled vs one-piece output on a crop of a real photo (8-bit levels and PSNR)."""
    from PIL import Image

    model = build(args.model)
    n = args.deviation
    photo = np.asarray(Image.open(PHOTO).convert("RGB"))[:n, :n] if PHOTO.is_file() else image(n, n)
    report: dict[str, float] = {}
    lr_full = downscale(photo, model=model, tile=10**6, margin=0)
    lr_tiled = downscale(photo, model=model, tile=args.tile // 4, margin=args.margin)
    up_full = upscale(lr_full, model=model, tile=10**6, margin=0).astype(float)
    up_tiled = upscale(lr_full, model=model, tile=args.tile // 4, margin=args.margin).astype(float)
    for name, a, b in (("down", lr_full, lr_tiled), ("up", up_full, up_tiled)):
        diff = np.abs(a.astype(float) - b.astype(float))
        mse = float((diff**2).mean())
        report[f"{name}_max_levels"] = float(diff.max())
        report[f"{name}_psnr_db"] = float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="random:x4")
    parser.add_argument("--width", type=int, default=2048)
    parser.add_argument("--height", type=int, default=1536)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE)
    parser.add_argument("--margin", type=int, default=DEFAULT_MARGIN)
    parser.add_argument("--no-tiles", dest="tiles", action="store_false")
    parser.add_argument("--deviation", type=int, default=0, metavar="N")
    parser.add_argument("--deviation-only", action="store_true", help="skip the timings")
    parser.add_argument("--published", type=Path, help="published IRN codes/ checkout (×4)")
    parser.add_argument("--also-whole", action="store_true", help="also one piece (no tiles)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--child", choices=["down", "up"], help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    model = build(args.model)
    result: dict[str, Any] = {
        "model": args.model,
        "size": f"{args.width}x{args.height}",
        "scale": model.scale,
        "threads": args.threads,
        "tiles": args.tiles,
        "tile_lr_px": args.tile,
        "margin_lr_px": args.margin,
        "receptive_radius_lr_px": receptive_radius(model),
    }
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices if not args.deviation_only else []:
        for what in ("down", "up"):
            result[f"{device}_{what}"] = measure(args, what, device)
            if args.also_whole and args.tiles:
                result[f"{device}_{what}_whole"] = measure(args, what, device, tiles=False)
            if args.published and device == "cpu":
                result[f"published_{what}"] = measure(args, what, device, published=True)
            print(json.dumps({k: v for k, v in result.items() if what in k}), flush=True)
    if args.deviation:
        result["tiled_vs_whole"] = deviation(args)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
