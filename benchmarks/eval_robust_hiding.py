"""Robustness of hiding models: the secret revealed after the stego went through a channel.

For each model and each held-out image of FOLDER, as a 256×256 centre crop
(``--size``, or ``full`` for the whole image; pairs as in ``invimg eval
hiding``: image i hides image i+1), the 8-bit stego from ``invimg.hide`` is
turned into the file a user would hold:

* ``png``: saved as PNG (lossless: rounding only);
* ``jpeg90`` / ``jpeg75``: saved by Pillow (libjpeg) at that quality with
  Pillow's default 4:2:0 chroma subsampling (what ``invimg hide -o stego.jpg``
  writes), read back; ``jpeg75-444``: the same at 4:4:4 (chroma kept at full
  resolution);
* ``gaussian2``: N(0, (2/255)²) added to the 8-bit stego (NumPy, seed = image
  index), rounded and clipped to 8 bits, saved as PNG.

Each file is revealed with ``invimg.reveal`` (z = 0). A robust model (RIIS) is
revealed twice: told the true channel (``known``), and as ``invimg reveal``
does by itself (``auto``: the quality read from a JPEG file's tables, else
"8-bit PNG"). Reported: RGB PSNR (and SSIM) of the PNG stego vs the cover and
of every revealed secret vs the original secret, on uint8 images, no border
crop. ``--model lsb4`` adds the classical baseline (4 high bits of the cover, 4
of the secret) through the same files. ``--picture`` draws the secrets revealed
by each model after JPEG 75.

    OMP_NUM_THREADS=1 python benchmarks/eval_robust_hiding.py data/holdout768 \\
        --model lsb4 --model hinet-small --model riis-small \\
        --json benchmarks/results/robust-hiding.json --picture docs/robust-hiding/jpeg75.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from invimg.hiding.api import hide, resolve_model, reveal
from invimg.hiding.baselines import lsb_hide, lsb_reveal
from invimg.hiding.evaluation import _image_sets, _model_name  # the hiding benchmark's pairs
from invimg.hiding.riis import RIIS
from invimg.io import read_image
from invimg.metrics import quality_report

#: Channel name → (how the file is made, the condition a robust model is told).
CHANNELS: dict[str, str] = {
    "png": "round:8",
    "jpeg90": "jpeg:90",
    "jpeg75": "jpeg:75",
    "gaussian2": "gaussian:2",
    "jpeg75-444": "jpeg:75",
}
PICTURE_CHANNEL = "jpeg75"
#: ``--model lsb4``: the classical baseline through the same channels
LSB_SPEC = "lsb4"


def channel_file(stego: np.ndarray, channel: str, index: int, folder: Path) -> Path:
    """Write what the user holds after ``channel``: a PNG or a libjpeg JPEG."""
    kind, _, value = CHANNELS[channel].partition(":")
    path = folder / f"{index}-{channel}.{'jpg' if kind == 'jpeg' else 'png'}"
    pixels = stego
    if kind == "gaussian":
        rng = np.random.default_rng(index)
        noisy = stego.astype(np.float64) + rng.normal(0.0, float(value), stego.shape)
        pixels = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    if kind == "jpeg":
        subsampling = 0 if channel.endswith("-444") else 2  # Pillow's default is 2 (4:2:0)
        Image.fromarray(pixels).save(path, quality=int(value), subsampling=subsampling)
    else:
        Image.fromarray(pixels).save(path)
    return path


def uint8_of(path: Path) -> np.ndarray:
    return np.rint(np.asarray(read_image(path).pixels) * 255).astype(np.uint8)


def evaluate_model(
    spec: str,
    folder: Path,
    size: str,
    keep: dict[str, list[np.ndarray]],
    refine: int = 0,
    refine_for: list[str] | None = None,
) -> dict[str, Any]:
    """Per-image and mean scores of one model (or of 4-bit LSB) over every channel;
    ``refine`` > 0: its stego refined for that many steps (robust models: for the
    default channels of :mod:`invimg.hiding.refine`, JPEG 90 and 75)."""
    net = None if spec == LSB_SPEC else resolve_model(spec)
    robust = isinstance(net, RIIS)
    modes = ("known", "auto") if robust else ("-",)
    rows: list[dict[str, Any]] = []
    name = "4-bit LSB" if net is None else _model_name(net, spec)
    name += f" refined {refine}" if refine else ""
    with tempfile.TemporaryDirectory(prefix="invimg-robust-") as tmp:
        for index, (image, cover, secrets) in enumerate(_image_sets(folder, 1, size, None)):
            if net is None:
                stego = lsb_hide(cover, secrets)
            else:
                stego = hide(cover, secrets, model=net, refine=refine, refine_for=refine_for)
            row: dict[str, Any] = {"cover": image, "stego": quality_report(cover, stego)}
            for channel, condition in CHANNELS.items():
                path = channel_file(stego, channel, index, Path(tmp))
                for mode in modes:
                    given: Any = condition if mode == "known" else None
                    source: Any = uint8_of(path) if mode == "known" else path
                    if net is None:
                        (out,) = lsb_reveal(uint8_of(path))
                    else:
                        (out,) = reveal(source, model=net, channel=given)
                    row[f"{channel}[{mode}]"] = quality_report(secrets[0], out)
                    if channel == PICTURE_CHANNEL and mode in ("-", "auto"):
                        keep.setdefault(name, []).append(out)
            if len(keep.setdefault("secret", [])) <= index:  # same pairs for every model
                keep["secret"].append(secrets[0])
            rows.append(row)
    summary = {
        part: {m: statistics.fmean(r[part][m] for r in rows) for m in ("psnr_rgb", "ssim_rgb")}
        for part in rows[0]
        if part != "cover"
    }
    return {"model": name, "robust": robust, "summary": summary, "per_image": rows}


def markdown(results: list[dict[str, Any]]) -> str:
    """The issue's table: one row per channel, stego and secret PSNR per model (and mode)."""
    columns: list[tuple[str, str, str]] = []
    for result in results:
        modes = ("known", "auto") if result["robust"] else ("-",)
        columns += [(result["model"], mode, "") for mode in modes]
    head = "| channel applied to the stego | stego vs cover | " + " | ".join(
        f"secret, {m}" + ("" if mode == "-" else f" ({mode} channel)") for m, mode, _ in columns
    )
    lines = [head + " |", "|---|---|" + "---|" * len(columns)]
    for channel in CHANNELS:
        stego = (
            " / ".join(f"{r['summary']['stego']['psnr_rgb']:.2f}" for r in results)
            if channel == "png"
            else "—"
        )
        cells = []
        for result in results:
            modes = ("known", "auto") if result["robust"] else ("-",)
            cells += [
                f"{result['summary'][f'{channel}[{mode}]']['psnr_rgb']:.2f}" for mode in modes
            ]
        lines.append(f"| {channel} | {stego} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def picture(keep: dict[str, list[np.ndarray]], out: Path, count: int = 3, side: int = 160) -> None:
    """Rows: images; columns: the secret, then each model's reveal after JPEG 75."""
    names = ["secret", *[k for k in keep if k != "secret"]]
    label_h = 18
    canvas = Image.new("RGB", (side * len(names), label_h + side * count), "white")
    draw = ImageDraw.Draw(canvas)
    for col, name in enumerate(names):
        title = name if name == "secret" else f"{name} after JPEG 75"
        draw.text((col * side + 4, 3), title, fill="black")
        for row in range(count):
            tile = Image.fromarray(keep[name][row]).resize((side, side), Image.Resampling.LANCZOS)
            canvas.paste(tile, (col * side, label_h + row * side))
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, optimize=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("folder", type=Path)
    p.add_argument(
        "--model",
        action="append",
        required=True,
        help=f"shipped name or card; {LSB_SPEC!r} for the 4-bit LSB baseline",
    )
    p.add_argument("--size", default="256", help="centre crop side, or 'full' (whole images)")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--picture", type=Path, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--refine",
        type=int,
        default=0,
        help="also each robust model with its stego refined for this many steps",
    )
    p.add_argument(
        "--refine-for",
        default=None,
        help="channels to refine for, e.g. jpeg:90,jpeg:75 (default: invimg.hiding.refine's)",
    )
    p.add_argument(
        "--record",
        type=Path,
        default=None,
        help="model card (.json) of one of the --model robust models: write its numbers into it",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    keep: dict[str, list[np.ndarray]] = {}
    results = [evaluate_model(spec, args.folder, args.size, keep) for spec in args.model]
    if args.refine:  # each robust model again, its stego refined, beside the plain one
        robust = [s for s, r in zip(args.model, results) if r["robust"]]
        targets = args.refine_for.split(",") if args.refine_for else None
        results += [
            evaluate_model(s, args.folder, args.size, keep, args.refine, targets) for s in robust
        ]
    table = markdown(results)
    print(table)
    protocol = {
        "data": f"{args.folder}: "
        + ("whole images" if args.size == "full" else f"centre {args.size}x{args.size} crops")
        + "; image i hides image i+1 (sorted, wrapping)",
        "channels": {
            "png": "stego saved as 8-bit PNG",
            "jpeg90/jpeg75": "Pillow (libjpeg) JPEG at that quality, 4:2:0 chroma, read back",
            "jpeg75-444": "the same at quality 75 with 4:4:4 chroma (invimg hide writes 4:2:0)",
            "gaussian2": "N(0, 2^2) on the 0-255 scale added to the 8-bit stego (NumPy, seed = "
            "image index), rounded, clipped, saved as PNG",
        },
        "reveal": "invimg.reveal, z = 0; robust models: 'known' = told the true channel, "
        "'auto' = channel read from the file (JPEG quality from its tables, else 8-bit PNG)",
        "metrics": "RGB PSNR / SSIM on uint8 images, no border crop",
        "hardware": "2-core CPU, 1 thread",
    }
    if args.refine:
        protocol["refined"] = (
            f"'refined {args.refine}': invimg.hide(..., refine={args.refine}), the stego refined "
            f"for {args.refine_for or 'round,jpeg:90,jpeg:75 (the default)'}; JPEG: the real codec"
        )
    if args.json:
        report = {"protocol": protocol, "results": results, "markdown": table}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    if args.picture:
        picture(keep, args.picture)
        print(f"wrote {args.picture}")
    if args.record:
        record(args.record, results, args.model, protocol, args.folder)
        print(f"wrote the metrics into {args.record}")


def record(
    card: Path, results: list[dict[str, Any]], specs: list[str], protocol: Any, folder: Path
) -> None:
    """Put the robust model's numbers into its card (``invimg models`` shows the first four)."""
    matches = [r for r, s in zip(results, specs) if Path(s).resolve() == card.resolve()]
    if not matches or not matches[0]["robust"]:
        raise SystemExit(f"--record {card}: not one of the robust --model cards")
    summary = matches[0]["summary"]
    values = {"stego_psnr_rgb": summary["stego"]["psnr_rgb"]}
    values["secret1_psnr_rgb"] = summary["png[auto]"]["psnr_rgb"]
    for channel in ("jpeg90", "jpeg75", "gaussian2"):
        values[f"secret1_psnr_rgb_{channel}"] = summary[f"{channel}[auto]"]["psnr_rgb"]
    values["secret1_psnr_rgb_gaussian2_told"] = summary["gaussian2[known]"]["psnr_rgb"]
    data = json.loads(card.read_text())
    data["metrics"] = {
        "protocol": protocol,
        "data": f"the held-out images of {folder}",
        "values": values,
    }
    card.write_text(json.dumps(data, indent=2) + "\n")


if __name__ == "__main__":
    main()
