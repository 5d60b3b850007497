"""Speed and memory of hiding: CPU seconds to hide / reveal one image, peak memory.

1. CPU time of ``invimg.hide`` and ``invimg.reveal`` on one ``--size``² image
   (512 by default), median of ``--repeat`` runs, with ``--threads`` threads.
2. Peak memory of one-piece and tiled processing at ``--memory-sizes``
   (each hide and each reveal in its own subprocess: peak RSS during the
   call minus RSS before; the process's own threads count with
   ``--threads``).
   Under ``torch.no_grad`` activations are freed block by block, so the
   peak does not depend on the number of coupling blocks; ``--memory-blocks``
   (default 1) measures it on a shallower copy of the architecture to save
   minutes on a small CPU.
3. With CUDA: images per second at batch ``--gpu-batch``.

The model is a card / shipped name, or ``random:hinet`` / ``random:deepmih2`` /
``random:deepmih3`` for untrained weights (speed and memory do not depend on
the weights)::

    python benchmarks/speed_hiding.py --model random:hinet --size 512 --threads 2

Measured on the project's 2-core CPU while other jobs shared it (one thread):
HiNet 512²: hide 35 s, reveal 41 s. Peak memory (1 block, no_grad): HiNet
1024² one piece 0.56 GB hide / 0.58 GB reveal; 2048² one piece 2.0 GB, in
1024² tiles 0.78 GB; DeepMIH-2 1024² one piece 4.8 GB hide, in 512² tiles
1.4 GB hide / 0.27 GB reveal.
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
    depth = blocks or 16
    if arch == "hinet":
        return HiNet(HiNet.Config(num_blocks=depth)).eval()
    if arch in ("deepmih2", "deepmih3"):
        return DeepMIH(DeepMIH.Config(num_secrets=int(arch[-1]), num_blocks=depth)).eval()
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


def peak_memory_child(spec: str, size: int, tile: int, blocks: int, what: str) -> float:
    """In a subprocess: MiB of peak RSS growth during one hide or one reveal."""
    model = build(spec, blocks or None)
    cover, secrets = images(model, size)
    tile_arg = tile if tile > 0 else size + 2  # larger than the image: one piece
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if what == "hide":
        invimg.hide(cover, secrets, model=model, tile=tile_arg)
    else:  # the values of a stego do not change the memory needed to reveal it
        invimg.reveal(cover, model=model, tile=tile_arg)
    return round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024, 1)


def peak_memory(spec: str, size: int, tile: int, blocks: int) -> dict[str, Any]:
    out: dict[str, Any] = {"size": size, "tile": tile or None}
    for what in ("hide", "reveal"):
        code = (
            "import sys; sys.path.insert(0, 'benchmarks'); import speed_hiding as s; "
            f"print(s.peak_memory_child({spec!r}, {size}, {tile}, {blocks}, {what!r}))"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        lines = (done.stdout if done.returncode == 0 else done.stderr).strip().splitlines()
        out[f"{what}_peak_mib"] = float(lines[-1]) if done.returncode == 0 else lines[-1:]
    return out


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
        for s in args.memory_sizes
        for t in sorted({0, tile})
    ]
    if torch.cuda.is_available():
        result.update(gpu_throughput(model, args.size, args.gpu_batch))
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
