"""Ship a trained run: export fp16 weights + card, measure on held-out photos, record it.

    python benchmarks/ship_model.py runs/hinet-small-cpu hinet-small --hardware "2-core CPU"

1. ``invimg export`` of the run's last checkpoint into ``src/invimg/zoo/weights``;
2. ``evaluate_hiding`` / ``evaluate_rescaling`` on ``data/holdout256`` (the
   8 held-out photos of ``benchmarks/holdout.txt``, never trained on);
3. the card gets ``metrics`` (headline values + protocol) and ``training``
   (data, steps, command, hardware); a rescaling card also gets
   ``inference.z``, the better latent of the two measured (what ``invimg
   upscale`` uses unless told); the full report goes to
   ``benchmarks/results/NAME.json``.

The weights' sha256 does not change in step 3: only the card is rewritten.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from invimg.training.export import export_run
from invimg.zoo.cards import WEIGHTS_DIR

HERE = Path(__file__).resolve().parent
DATA_NOTE = (
    "22 photos/artworks of ../shared/data (free licences, see SOURCES.tsv), long side "
    "resized to 1024 px (benchmarks/prepare_data.py); the 8 of benchmarks/holdout.txt held out"
)


def headline(task: str, report: dict[str, Any]) -> dict[str, float]:
    """The few numbers `invimg models` shows."""
    if task == "hiding":
        model = report["summary"]["model"]
        values = {"stego_psnr_rgb": model["stego"]["psnr_rgb"]}
        for part, scores in model.items():
            if part.startswith("secret") and "gaussian" not in part:  # the default z
                values[f"{part.split('[')[0]}_psnr_rgb"] = scores["psnr_rgb"]
        return values
    rows = report["rows"]
    values = {f"{k}_psnr_y": v["psnr_y"] for k, v in rows.items() if "psnr_y" in v}
    for k, v in rows.items():  # IRN-Color: the colour (RGB) and the grey against the luma
        values.update({f"{k}_{m}": v[m] for m in ("psnr_rgb", "grey_psnr") if m in v})
    values.update({k: v for k, v in rows.get("irn_z0", {}).items() if k == "lr_psnr_y"})
    return values


def better_z(values: dict[str, float]) -> dict[str, str] | None:
    """``{"z": ...}``: the latent whose restoration scored higher, if both were measured."""
    zero, gauss = values.get("irn_z0_psnr_y"), values.get("irn_zgauss_psnr_y")
    if zero is None or gauss is None:
        return None
    return {"z": "gaussian" if gauss > zero else "zeros"}


def evaluate(task: str, card_path: Path, folder: Path) -> dict[str, Any]:
    if task == "hiding":
        from invimg.hiding.evaluation import evaluate_hiding

        return evaluate_hiding(card_path, folder, size="256", zs=("zeros", "gaussian"))
    from invimg.rescaling.evaluation import evaluate_rescaling

    return evaluate_rescaling(card_path, folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("name")
    parser.add_argument("--hardware", default="2-core AMD EPYC CPU, 1 thread")
    parser.add_argument("--command", help="The command that reproduces the run (for the card).")
    parser.add_argument("--holdout", type=Path, default=HERE.parent / "data" / "holdout256")
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    args = parser.parse_args()
    recipe = json.dumps(str(args.run / "config.yaml"))
    card = export_run(
        args.run,
        args.name,
        args.out,
        {
            "training": {
                "data": DATA_NOTE,
                "hardware": args.hardware,
                "command": args.command or f"invimg train <task> --config {recipe}",
            },
        },
    )
    report = evaluate(card.task, card.path, args.holdout)
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / f"{args.name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    data = json.loads(card.path.read_text())
    data["metrics"] = {
        "protocol": report["protocol"],
        "data": f"{report.get('images')} held-out images of {args.holdout.name}",
        "values": headline(card.task, report),
    }
    if (choice := better_z(data["metrics"]["values"])) is not None:
        data["inference"] = choice
    card.path.write_text(json.dumps(data, indent=2) + "\n")
    print(report["markdown"])


if __name__ == "__main__":
    main()
