"""Inversion benchmarks behind BENCHMARKS.md: HOG/HOGb/DSIFT on 20 photos, CNN layer by layer.

    python benchmarks/eval_inversion.py ship-decoder runs/hog-decoder-cpu
    python benchmarks/eval_inversion.py hog --features hog,dsift,hogb
    python benchmarks/eval_inversion.py hog --features hog --presets cvpr2015 --decoder "" \
        --out benchmarks/results/inversion_hog_cvpr2015.json \
        --figure docs/inversion/hog_holdout_cvpr2015.png
    python benchmarks/eval_inversion.py export-rotnet runs/rotnet-small-cpu
    python benchmarks/eval_inversion.py cnn --count 5

``hog`` inverts the 20 photos of ``data/holdout20-256`` (256×256 centre crops,
never used to train the decoder; turned grey with BT.601 luma as in the
papers) with each representation and preset, turns every reconstruction
into the 8-bit values a PNG of it holds (stretched to the full range, as
the authors show theirs) and measures on those: the CVPR 2015 error (``cvpr_error``: ‖Φ(x*) −
Φ0‖² over the mean squared distance between the Φ0 of two of the 20
photos, in %), the IJCV 2016 relative error, and the CPU seconds per image.
The learned baseline (``hog-decoder``) is measured the same way. All on one
thread of the 2-core CPU.

``cnn`` inverts layer after layer of a network trained here (``rotnet``)
on photos of ``data/holdout20-256`` resized to ``--size`` (RGB), and reports
the IJCV relative error per layer of the 8-bit result (clipped to [0, 1]).

Figures go to ``docs/inversion/``; raw results to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from invimg.inversion.api import to_pixels
from invimg.inversion.decoder import HOGDecoder
from invimg.inversion.evaluation import Summary, cvpr_error, relative_error
from invimg.inversion.optimizer import PRESETS, reconstruct
from invimg.inversion.representation import Representation
from invimg.inversion.rotnet import LAYERS
from invimg.inversion.sheet import contact_sheet
from invimg.inversion.specs import representation
from invimg.inversion.torch_features import TorchFeatures
from invimg.io import as_image_tensor
from invimg.training.export import export_run
from invimg.zoo import load
from invimg.zoo.cards import WEIGHTS_DIR

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
DOCS = ROOT / "docs" / "inversion"
HARDWARE = f"2-core CPU ({platform.processor() or platform.machine()}), 1 thread"
PAPER_CVPR = {"hog": 28.1, "hoggle": 66.2, "hogb": 10.67, "dsift": 10.89}


def load_images(
    folder: Path, count: int, size: int | None = None
) -> tuple[list[str], torch.Tensor]:
    """The first ``count`` PNGs of ``folder`` (sorted), optionally resized to ``size``²."""
    files = sorted(folder.glob("*.png"))[:count]
    tensors = [as_image_tensor(f if size is None else resized(f, size)) for f in files]
    return [f.stem for f in files], torch.cat(tensors)


def resized(path: Path, size: int) -> Image.Image:
    return Image.open(path).convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def saved(pixels: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) → float (N, 3, H, W): what reading the 8-bit PNGs back gives."""
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255


def invert_all(
    rep: Representation, target: torch.Tensor, size: tuple[int, int], preset: str, chunk: int
) -> tuple[torch.Tensor, float]:
    """Optimise every image (in batches of ``chunk``); the raw results and CPU s per image.

    CPU time of this process, not wall time: the machine is shared, and with
    one thread the CPU time is what the inversion costs.
    """
    outs, started = [], time.process_time()
    for k, first in enumerate(range(0, target.shape[0], chunk)):
        part = target[first : first + chunk]
        outs.append(reconstruct(rep, part, size, PRESETS[preset], seed=k).images)
    return torch.cat(outs), (time.process_time() - started) / target.shape[0]


def measure(rep: Representation, pixels: np.ndarray, target: torch.Tensor) -> dict[str, Any]:
    """Both papers' errors of the 8-bit reconstructions ``pixels``."""
    phi = rep.features(saved(pixels))
    return {
        "cvpr_error_pct": Summary.of(cvpr_error(phi, target)).__dict__,
        "ijcv_relative_error_pct": Summary.of(relative_error(phi, target)).__dict__,
    }


def hog_benchmark(args: argparse.Namespace) -> None:
    names, images = load_images(args.images, args.count)
    size = (images.shape[-2], images.shape[-1])
    rows: dict[str, Any] = {}
    grey = representation("hog").prepare(images)
    tiles: dict[str, np.ndarray] = {"original (grey)": to_pixels(grey, False)}
    for spec in args.features.split(","):
        rep = representation(spec)
        target = rep.features(images)
        for preset in args.presets.split(","):
            raw, seconds = invert_all(rep, target, size, preset, args.chunk)
            pixels = to_pixels(raw, stretch=True)
            row = measure(rep, pixels, target)
            row["cvpr_error_float_pct"] = Summary.of(cvpr_error(rep(raw), target)).__dict__
            row["cpu_seconds_per_image"] = seconds
            rows[f"{spec}/{preset}"] = row
            tiles[f"{spec} {preset}"] = pixels
            error = Summary(**row["cvpr_error_pct"])
            print(f"{spec:6} {preset}: CVPR {error} %, {seconds:.1f} CPU s/image")
        if spec == "hog" and args.decoder:
            rows["hog/decoder"], tiles["decoder"] = decoder_row(args.decoder, rep, target, size)
    report = {
        "protocol": {
            "images": f"{len(names)} photos of {args.images.relative_to(ROOT)} (never trained on)",
            "names": names,
            "size": f"{size[1]}x{size[0]}",
            "colour": "grey (BT.601 luma of the RGB crop), as the papers",
            "representations": "hog/hogb: UoCTTI HOG, cell 8, 27 dims; dsift: cell 8, 128 dims",
            "saved": "each reconstruction stretched to [0, 255] (vl_imsc), written as 8-bit PNG "
            "values and read back before measuring",
            "cvpr_error": "100 * ||Phi(x*)-Phi0||^2 / mean over all 20x20 ordered pairs (j=k "
            "included) of ||Phi0_j-Phi0_k||^2 (experiment_shallow_quantitative.m)",
            "ijcv_relative_error": "100 * ||Phi(x*)-Phi0|| / ||Phi0||",
            "batching": f"{args.chunk} images per optimisation batch, seed = batch index",
            "hardware": HARDWARE,
            "paper_cvpr_error_pct": PAPER_CVPR,
        },
        "rows": rows,
    }
    write_json(args.out, report)
    hog_figure(args.figure, tiles, args.figure_images)


def decoder_row(
    spec: str, rep: Representation, target: torch.Tensor, size: tuple[int, int]
) -> tuple[dict[str, Any], np.ndarray]:
    net = load(spec)
    assert isinstance(net, HOGDecoder)
    started = time.perf_counter()
    with torch.no_grad():
        raw = net.decode(target, size)
    seconds = (time.perf_counter() - started) / target.shape[0]
    pixels = to_pixels(raw, stretch=True)
    row = measure(rep, pixels, target)
    row["cpu_seconds_per_image"] = seconds
    print(f"decoder: CVPR {Summary(**row['cvpr_error_pct'])} %")
    return row, pixels


def thumbnail(pixels: np.ndarray, side: int) -> np.ndarray:
    """A ``side``² Lanczos thumbnail of a uint8 H×W×3 image (keeps figures small)."""
    image = Image.fromarray(pixels).resize((side, side), Image.Resampling.LANCZOS)
    return np.asarray(image)


def hog_figure(path: Path, tiles: dict[str, np.ndarray], which: list[int]) -> None:
    """Rows: photos; columns: the grey original and each method, 160 px tiles, grey PNG."""
    cells, captions = [], []
    for i in which:
        for label, pixels in tiles.items():
            cells.append(thumbnail(pixels[i], 160))
            captions.append(label)
    sheet = contact_sheet(cells, captions, columns=len(tiles))
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).convert("L").save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size // 1024} KB)")


def cnn_benchmark(args: argparse.Namespace) -> None:
    names, images = load_images(args.images, args.count, args.size)
    net = load(args.net)
    rows, tiles = {}, [to_pixels(images, False)]
    for layer in args.layers.split(","):
        rep = TorchFeatures(net, layer)
        rep.measure_stride(args.size, args.size)
        target = rep.features(images)
        raw, seconds = invert_all(rep, target, (args.size, args.size), args.preset, args.chunk)
        pixels = to_pixels(raw, stretch=False)
        errors = relative_error(rep.features(saved(pixels)), target)
        rows[layer] = {
            "ijcv_relative_error_pct": Summary.of(errors).__dict__,
            "stride": rep.stride,
            "jitter": rep.jitter(),
            "feature_shape": list(target.shape[1:]),
            "cpu_seconds_per_image": seconds,
        }
        tiles.append(pixels)
        print(f"{layer:8} stride {rep.stride:2}: {Summary.of(errors)} % ({seconds:.1f} s/image)")
    report = {
        "protocol": {
            "network": f"{args.net} (rotnet: rotation classifier trained on data/train-small)",
            "images": f"first {len(names)} photos of {args.images.relative_to(ROOT)}, resized "
            f"to {args.size}x{args.size} (Lanczos), RGB",
            "names": names,
            "preset": f"{args.preset} (C = {PRESETS[args.preset].loss_weight}, beta = 2, jitter "
            "= round(stride/4), 300 + 50 iterations)",
            "saved": "reconstruction clipped to [0, 1], 8-bit values, read back",
            "measure": "IJCV 2016 relative error 100*||Phi(x*)-Phi0||/||Phi0|| per image",
            "hardware": HARDWARE,
        },
        "rows": rows,
    }
    write_json(args.out, report)
    shown = range(min(2, len(names)))
    cells, captions = [], []
    for i in shown:
        cells += [thumbnail(t[i], args.tile) for t in tiles]
        captions += ["original"] + [
            f"{layer}: {row['ijcv_relative_error_pct']['values'][i]:.0f}%"
            for layer, row in rows.items()
        ]
    sheet = contact_sheet(cells, captions, columns=len(tiles))
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(args.figure, optimize=True)
    print(f"wrote {args.figure} ({args.figure.stat().st_size // 1024} KB)")


def ship_decoder(args: argparse.Namespace) -> None:
    """Export the decoder run as ``hog-decoder`` into the zoo, with its measured metrics."""
    training = {
        "data": "random 96x96 crops of the 10 photos of data/train-small (long side 1024, "
        "scaled by 1/1.25), grey; none of data/holdout20*",
        "hardware": HARDWARE,
        "command": "OMP_NUM_THREADS=1 invimg train inversion --config hog-decoder-cpu && "
        "python benchmarks/eval_inversion.py ship-decoder runs/hog-decoder-cpu",
    }
    card = export_run(args.run, "hog-decoder", WEIGHTS_DIR, {"training": training})
    names, images = load_images(args.images, args.count)
    rep = representation("hog")
    target = rep.features(images)
    row, _ = decoder_row(str(card.path), rep, target, (images.shape[-2], images.shape[-1]))
    data = json.loads(card.path.read_text())
    protocol = {
        "images": f"{len(names)} photos of data/holdout20-256, grey",
        "measure": "CVPR 2015 HOG error in % (see invimg.inversion.evaluation), of the 8-bit "
        "stretched result",
    }
    values = {
        "cvpr_hog_error_pct": row["cvpr_error_pct"]["mean"],
        "ijcv_hog_relative_error_pct": row["ijcv_relative_error_pct"]["mean"],
    }
    data["metrics"] = {
        "protocol": protocol,
        "data": f"{len(names)} held-out images of holdout20-256",
        "values": values,
    }
    card.path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"shipped {card.path} (sha256 {data['sha256'][:12]}…)")


def export_rotnet(args: argparse.Namespace) -> None:
    """Export the rotnet run as a model card + weights in ``--out`` (not shipped)."""
    args.out.mkdir(parents=True, exist_ok=True)
    training = {
        "data": "random 64x64 crops of data/train-small scaled by 1/6, each in 4 rotations",
        "hardware": HARDWARE,
        "command": "OMP_NUM_THREADS=1 invimg train inversion --config rotnet-small-cpu",
    }
    card = export_run(args.run, "rotnet-small", args.out, {"training": training})
    print(f"wrote {card.path}")


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {path}")


def main() -> None:
    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    hog = sub.add_parser("hog", help="HOG/HOGb/DSIFT on the 20 held-out photos")
    hog.add_argument("--features", default="hog,hogb,dsift")
    hog.add_argument("--presets", default="ijcv2016")
    hog.add_argument("--decoder", default="hog-decoder", help="'' to skip the baseline")
    hog.add_argument("--chunk", type=int, default=5)
    hog.add_argument("--figure", type=Path, default=DOCS / "hog_holdout.png")
    hog.add_argument("--figure-images", type=int, nargs="+", default=[0, 1, 9, 16])
    hog.add_argument("--out", type=Path, default=RESULTS / "inversion_hog.json")
    cnn = sub.add_parser("cnn", help="layer-by-layer inversion of a CNN trained here")
    cnn.add_argument("--net", default=str(ROOT / "runs/rotnet-small/rotnet-small.json"))
    cnn.add_argument("--layers", default="conv1,relu1,pool1,conv2,pool2,conv3,relu4,pool5,fc6,fc8")
    cnn.add_argument("--size", type=int, default=128)
    cnn.add_argument("--preset", default="ijcv2016")
    cnn.add_argument("--chunk", type=int, default=5)
    cnn.add_argument("--figure", type=Path, default=DOCS / "rotnet_layers.png")
    cnn.add_argument("--tile", type=int, default=100, help="figure tile side (px)")
    cnn.add_argument("--out", type=Path, default=RESULTS / "inversion_cnn.json")
    ship = sub.add_parser("ship-decoder", help="export runs/hog-decoder-cpu as hog-decoder")
    ship.add_argument("run", type=Path)
    rot = sub.add_parser("export-rotnet", help="export the rotnet run as a card (not shipped)")
    rot.add_argument("run", type=Path)
    rot.add_argument("--out", type=Path, default=ROOT / "runs" / "rotnet-small")
    for p in (hog, cnn, ship):
        p.add_argument("--images", type=Path, default=ROOT / "data" / "holdout20-256")
        p.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    commands = {
        "hog": hog_benchmark,
        "cnn": cnn_benchmark,
        "ship-decoder": ship_decoder,
        "export-rotnet": export_rotnet,
    }
    commands[args.command](args)


if __name__ == "__main__":
    assert LAYERS  # the layer names the cnn benchmark may use
    main()
