"""Steg-cINN vs a plain LSB tool on held-out photos: capacity, exactness, looks, steganalysis.

    OMP_NUM_THREADS=1 python benchmarks/eval_datahiding.py data/holdout20-512 \
        --out benchmarks/results/datahiding-512.json --picture docs/datahiding/holdout512.png
    OMP_NUM_THREADS=1 python benchmarks/eval_datahiding.py data/holdout20 \
        --out benchmarks/results/datahiding-full.json

Protocol (see :mod:`invimg.datahiding.evaluation`): per cover, random bytes
as many as ``invimg.datahiding.capacity`` allows; embed with a password →
8-bit PNG on disk → read back → extract; success = the same bytes. The same
payload through ``stegano.lsb`` (sequential LSB). Latent magnitudes are drawn
with a fixed seed per run (``--seed``); the encryption salt is random.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from invimg.datahiding.evaluation import as_uint8, evaluate_image, summarise
from invimg.io import read_image
from invimg.training.data import image_files

PROTOCOL = {
    "payload": "random bytes, as many as invimg.datahiding.capacity() allows (incompressible)",
    "password": "yes (scrypt + ChaCha20-Poly1305)",
    "stego": "8-bit PNG, written and read back before extraction",
    "success": "extracted bytes == payload",
    "net_bpp": "8 x payload bytes / pixels (after encryption, framing and ECC)",
    "luminance": "PSNR/SSIM on BT.601 Y (invimg.metrics, no border crop) and PSNR on CIE L*",
    "colour": "mean CIEDE2000 between stego and cover (scikit-image)",
    "steganalysis": (
        "chi-square attack (Westfeld-Pfitzmann) probability of LSB embedding, whole image and "
        "first 10% of rows; RS analysis (Fridrich) estimated embedded fraction, mean over RGB"
    ),
    "baseline": (
        "stegano 3.0 lsb.hide / lsb.reveal (sequential, row by row), the same payload bytes as "
        "a latin-1 string; stegano writes its UTF-8 encoding, so bytes >= 0x80 take 16 bits and "
        "its LSBs carry about 1.5x the payload bits, not uniformly distributed"
    ),
    "z": (
        "standard-normal latent: magnitudes |N(0,1)| drawn with --seed, signs = whitened bits; "
        "where embed's read-back fails, closed-loop correction moves the latents read back "
        "wrong (invimg.datahiding.embedding.correct_latent, at most 3 passes)"
    ),
}


def markdown(summary: dict[str, Any], folder: str) -> str:
    ours, lsb, cover = summary["steg_cinn"], summary.get("lsb"), summary["cover"]
    head = (
        f"{summary['images']} images of {folder}, net capacity {summary['net_bpp']:.3f} bpp\n\n"
        "| | extracted | PSNR Y | SSIM Y | PSNR L* | ΔE00 | chi² all | chi² first 10% | RS rate |"
        " embed s | extract s |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    rows = [("cover", None, cover)]
    rows.append(("Steg-cINN (ours)", ours, ours))
    if lsb:
        rows.append(("stegano LSB", lsb, lsb))
    lines = []
    for name, m, s in rows:
        if m is None:
            quality = "— | — | — | — | — |"
            timing = "— | — |"
        else:
            quality = (
                f"{100 * m['success']:.0f} % | {m['psnr_y']:.2f} | {m['ssim_y']:.4f} | "
                f"{m['psnr_lstar']:.2f} | {m['delta_e00']:.2f} |"
            )
            timing = f"{m['embed_s']:.1f} | {m['extract_s']:.1f} |"
        stats = f" {s['chi2_all']:.3f} | {s['chi2_first10']:.3f} | {s['rs_rate']:.3f} |"
        lines.append(f"| {name} | {quality}{stats} {timing}")
    return head + "\n".join(lines)


def save_picture(cover_path: Path, stego: np.ndarray, target: Path, side: int = 256) -> None:
    """Cover and stego centre crops side by side (PNG)."""
    cover = as_uint8(np.asarray(read_image(cover_path).pixels))
    h, w = cover.shape[:2]
    top, left = (h - side) // 2, (w - side) // 2
    crop = (slice(top, top + side), slice(left, left + side))
    strip = np.concatenate((cover[crop], np.full((side, 8, 3), 255, np.uint8), stego[crop]), 1)
    target.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(target, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", help="Folder of cover images.")
    parser.add_argument(
        "--merge", type=Path, nargs="+", help="Combine reports of runs over parts of a folder."
    )
    parser.add_argument("--model", default="steg-cinn")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--password", default="benchmark password")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="Skip the first START images.")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--no-lsb", action="store_true")
    parser.add_argument(
        "--fallback",
        default="0.9,0.8,0.7,0.6,0.5,0.4,0.3,0.2,0.1",
        help="Fractions of capacity to try, in order, when a cover fails at capacity.",
    )
    parser.add_argument("--picture", type=Path, default=None, help="Cover|stego crops of image 1.")
    parser.add_argument("--card", type=Path, default=None, help="Model card to get the headline.")
    parser.add_argument("--label", default="512", help="Prefix of the card's metric names.")
    args = parser.parse_args()
    if args.merge:
        merge(args.merge, args.out)
        return
    files = image_files([args.data])[args.start :][: args.limit]
    rows = []
    started = time.perf_counter()
    for i, path in enumerate(files):
        fractions = tuple(float(f) for f in args.fallback.split(",") if f)
        row, stego = evaluate_image(
            path, args.model, args.password, args.seed, not args.no_lsb, fractions
        )
        rows.append(row)
        partial = args.out.with_suffix(".partial.json")
        partial.write_text(json.dumps(rows, indent=1, default=str) + "\n")
        ours = row["steg_cinn"]
        detail = (
            f"raw errors {ours['raw_sign_error_rate']:.4f}, margin {ours['margin_bytes']}, "
            f"corrections {ours['corrections']} (before: raw errors "
            f"{ours['uncorrected_sign_error_rate']:.4f}, "
            f"margin {ours['uncorrected_margin_bytes']}), "
            f"ΔE00 {ours['delta_e00']:.2f}, embed {ours['embed_s']:.1f}s"
            if stego is not None
            else ours["error"]
        )
        print(f"{path.name}: {row['net_bpp']:.3f} bpp, success={ours['success']}, {detail}")
        if not ours["success"] and ours.get("fallback"):
            print(f"  works at {ours['fallback']['net_bpp']:.3f} bpp", flush=True)
        if i == 0 and args.picture is not None and stego is not None:
            save_picture(path, stego, args.picture)
    summary = summarise(rows)
    report = {
        "protocol": PROTOCOL,
        "data": str(args.data),
        "model": args.model,
        "hardware": f"{platform.processor() or platform.machine()}, 1 thread (OMP_NUM_THREADS=1)",
        "seconds": time.perf_counter() - started,
        "summary": summary,
        "rows": rows,
        "markdown": markdown(summary, str(args.data)),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    args.out.with_suffix(".partial.json").unlink(missing_ok=True)  # superseded by the report
    if args.card is not None:
        record_in_card(args.card, args.label, summary, str(args.data))
    print(report["markdown"])


def merge(parts: list[Path], out: Path) -> None:
    """One report from several (``--start``/``--limit`` runs over the same folder)."""
    reports = [json.loads(p.read_text()) for p in parts]
    rows = [row for report in reports for row in report["rows"]]
    summary = summarise(rows)
    merged = {
        **reports[0],
        "seconds": sum(r["seconds"] for r in reports),
        "summary": summary,
        "rows": rows,
        "markdown": markdown(summary, reports[0]["data"]),
        "parts": [str(p) for p in parts],
    }
    out.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    print(merged["markdown"])


def record_in_card(card: Path, label: str, summary: dict[str, Any], data: str) -> None:
    """Put the headline numbers in the model card (the weights and their sha256 are untouched)."""
    content = json.loads(card.read_text())
    metrics = content.get("metrics") or {}
    ours = summary["steg_cinn"]
    values = dict(metrics.get("values", {}))
    values.update(
        {
            f"{label}_net_bpp": round(summary["net_bpp"], 4),
            f"{label}_extracted": ours["success"],
            f"{label}_raw_sign_error_rate": round(ours["raw_sign_error_rate"], 5),
            f"{label}_psnr_y": round(ours["psnr_y"], 2),
            f"{label}_delta_e00": round(ours["delta_e00"], 2),
        }
    )
    sets = dict(metrics.get("data", {})) if isinstance(metrics.get("data"), dict) else {}
    sets[label] = f"{summary['images']} held-out images of {data} (benchmarks/holdout20.txt)"
    content["metrics"] = {"protocol": PROTOCOL, "data": sets, "values": values}
    card.write_text(json.dumps(content, indent=2) + "\n")


if __name__ == "__main__":
    main()
