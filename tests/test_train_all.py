"""The concurrent, time-bounded training script (for a lent GPU), smoke-tested on the CPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from invimg.training.checkpoint import load_checkpoint
from invimg.training.train_all import train_all
from invimg.zoo import load


def test_trains_hiding_models_concurrently_resumes_and_exports_fp16(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    (tmp_path / "photos").mkdir()
    for i in range(3):
        pixels = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "photos" / f"{i}.png")
    toy = [
        f"data.train=[{tmp_path / 'photos'}]", "data.val=[]", "data.crop=16",
        "data.batch_size=3", "data.num_workers=0", "model.init_from=null", "steps=2",
        "ckpt_every=1", "log_every=1", "amp=auto",
    ]  # fmt: skip
    recipes = ["hinet-sharp-cpu", "deepmih2-small-cpu"]
    runs, shipped = tmp_path / "runs", tmp_path / "shipped"
    first = train_all(recipes, runs, None, minutes=0.0, overrides=toy)  # stops after 1 step
    assert first == {"hinet-sharp-cpu": 0, "deepmih2-small-cpu": 0}
    assert all(load_checkpoint(runs / r / "last.pt")["step"] == 1 for r in recipes)
    assert train_all(recipes, runs, shipped, minutes=5.0, overrides=toy) == first  # resumes
    for name in recipes:
        assert load_checkpoint(runs / name / "last.pt")["step"] == 2
        weights = shipped / f"{name}.safetensors"
        assert weights.stat().st_size < 16 * 2**20
        model = load(str(shipped / f"{name}.json"))
        assert next(model.parameters()).dtype.is_floating_point
