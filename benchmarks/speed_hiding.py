"""Speed and memory of hiding: CPU seconds to hide / reveal one image, peak memory.

1. CPU time of ``invimg.hide`` and ``invimg.reveal`` on one ``--size``² image
   (512 by default), median of ``--repeat`` runs, with ``--threads`` threads.
2. Peak memory of one-piece and tiled processing at ``--memory-sizes``
   (each in its own subprocess: peak RSS during the call minus RSS before).
   Under ``torch.no_grad`` activations are freed block by block, so the
   peak does not depend on the number of coupling blocks; ``--memory-blocks``
   (default 1) measures it on a shallower copy of the architecture to save
   minutes on a small CPU.
3. With CUDA: images per second at batch ``--gpu-batch``.

The model is a card / shipped name, or ``random:hinet`` / ``random:deepmih2`` /
``random:deepmih3`` for untrained weights (speed and memory do not depend on
the weights)::

    python benchmarks/speed_hiding.py --model random:hinet --size 512 --threads 2
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import torch

import invimg
from invimg.hiding import DeepMIH, HidingModel, HiNet
from invimg.hiding.api import resolve_model


def build(spec: str, blocks: int | None = None) -> HidingModel:
    """A model from a name/card, or a random one for ``random:ARCH``."""
    if not spec.startswith("random:"):
        return resolve_model(spec)
    torch.manual_seed(0)
    arch = spec.removeprefix("random:")
    depth = {"num_blocks": blocks} if blocks else {}
    if arch == "hinet":
        return HiNet(HiNet.Config(**depth)).eval()
    if arch in ("deepmih2", "deepmih3"):
        return DeepMIH(DeepMIH.Config(num_secrets=int(arch[-1]), **depth)).eval()
    raise SystemExit(f"unknown model {spec!r}")


def images(model: HidingModel, size: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(0)
    make = lambda: rng.integers(0, 256, (size, size, 3), dtype=np.uint8)  # noqa: E731
    return make(), [make() for _ in range(model.num_secrets)]


def cpu_times(model: HidingModel, size: int, repeat: int) -> dict[str, float]:
    cover, secrets = images(model, size)
    hide_s, reveal_s = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        stego = invimg.hide(cover, secrets, model=model)
        t1 = time.perf_counter()
        invimg.reveal(stego, model=model)
        hide_s.append(t1 - t0)
        reveal_s.append(time.perf_counter() - t1)
    return {"hide_s": statistics.median(hide_s), "reveal_s": statistics.median(reveal_s)}


def peak_memory_child(spec: str, size: int, tile: int, blocks: int) -> dict[str, Any]:
    """Run in a subprocess: MiB of peak RSS growth while hiding and while revealing."""
    model = build(spec, blocks or None)
    cover, secrets = images(model, size)
    tile_arg = tile if tile > 0 else size + 2  # > size: one piece
    out: dict[str, Any] = {"size": size, "tile": tile or None}
    for name in ("hide", "reveal"):
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if name == "hide":
            stego = invimg.hide(cover, secrets, model=model, tile=tile_arg)
        else:
            invimg.reveal(stego, model=model, tile=tile_arg)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out[f"{name}_peak_mib"] = round((peak - base) / 1024, 1)
    return out


def peak_memory(spec: str, size: int, tile: int, blocks: int) -> dict[str, Any]:
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); import speed_hiding as s; "
        f"print(json.dumps(s.peak_memory_child({spec!r}, {size}, {tile}, {blocks})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        return {"size": size, "tile": tile, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def gpu_throughput(model: HidingModel, size: int, batch: int) -> dict[str, float]:
    net = model.cuda()
    x = torch.rand(batch, 3, size, size, device="cuda")
    secrets = [torch.rand_like(x) for _ in range(net.num_secrets)]
    with torch.no_grad():
        for _ in range(2):
            net.reveal(net.hide(x, secrets).stego)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(5):
            net.reveal(net.hide(x, secrets).stego)
        torch.cuda.synchronize()
    return {"gpu_pairs_per_s": 5 * batch / (time.perf_counter() - t0)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="random:hinet")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--memory-sizes", type=int, nargs="*", default=[1024, 2048])
    p.add_argument("--memory-tile", type=int, default=0, help="0: the model's default")
    p.add_argument("--memory-blocks", type=int, default=1)
    p.add_argument("--skip-time", action="store_true")
    p.add_argument("--gpu-batch", type=int, default=8)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = build(args.model)
    result: dict[str, Any] = {"model": args.model, "threads": args.threads, "size": args.size}
    if not args.skip_time:
        result.update(cpu_times(model, args.size, args.repeat))
    tile = args.memory_tile or model.max_piece or 0
    result["memory"] = [
        peak_memory(args.model, s, t, args.memory_blocks)
        for s in args.memory_sizes for t in sorted({0, tile})
    ]
    if torch.cuda.is_available():
        result.update(gpu_throughput(model, args.size, args.gpu_batch))
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
