"""Benchmark of the invertible core: round-trip error, training memory and step time.

A HiNet-sized composition (orthonormal Haar DWT, 16 HiNet couplings with
dense sub-networks of growth 32, inverse DWT; 6 input channels = cover + secret)
is measured three ways (no timing while other work loads the machine):

1. round-trip error ``max|inverse(forward(x)) - x|`` at 512×512, float32;
2. peak training memory of one step (forward + backward + Adam) at batch 4,
   256×256, with ordinary autograd and with memory-saving backpropagation;
3. the time of that step in both modes.

Each mode runs in its own subprocess so peak memory is not polluted by the
other. On CPU the activation memory is the process's peak RSS during the step
minus its RSS just before it; on CUDA it is ``max_memory_allocated`` minus the
memory held before the step.

    python benchmarks/inn_memory.py [--size 256] [--batch 4] [--steps 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import torch

from invimg.inn import (
    HaarWavelet,
    Inverse,
    InvertibleSequential,
    dense_block_factory,
    hinet_coupling,
)


def build(memory_saving: bool) -> InvertibleSequential:
    torch.manual_seed(0)
    blocks = [
        hinet_coupling(24, 12, dense_block_factory(32, 0.01, "gaussian", 0.01)) for _ in range(16)
    ]
    with torch.no_grad():  # non-zero last layers, as in a trained model
        for b in blocks:
            for p in b.parameters():
                p.add_(torch.randn_like(p) * 0.01)
    chain = InvertibleSequential(*blocks, memory_saving=memory_saving)
    return InvertibleSequential(HaarWavelet(), chain, Inverse(HaarWavelet()))


def round_trip_error(size: int) -> float:
    model = build(False).eval()
    x = torch.rand(1, 6, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return float((model.inverse(model(x)) - x).abs().max())


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def measure_step(memory_saving: bool, size: int, batch: int, steps: int, device: str) -> dict:
    model = build(memory_saving).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=1e-5)
    x = torch.rand(batch, 6, size, size, device=device)

    def step() -> None:
        optim.zero_grad(set_to_none=True)
        y = model(x)
        loss = (y[:, :3] - x[:, :3]).square().mean() + (y[:, 3:] - x[:, 3:]).square().mean()
        loss.backward()
        optim.step()

    # The first step measures memory: its peak includes the activations plus the
    # gradients and Adam state, which both modes allocate alike.
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = _rss_bytes()
    step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times = []
    for _ in range(steps):  # later steps measure time, warm
        start = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return {"activation_mib": (peak - before) / 2**20, "step_s": min(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--round-trip-size", type=int, default=512)
    parser.add_argument("--json")
    parser.add_argument("--child", choices=["plain", "saving"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.child:
        result = measure_step(args.child == "saving", args.size, args.batch, args.steps, device)
        print(json.dumps(result))
        return
    results: dict = {
        "device": torch.cuda.get_device_name()
        if device == "cuda"
        else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "round_trip_max_abs": round_trip_error(args.round_trip_size),
    }
    for mode in ("plain", "saving"):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--size",
            str(args.size),
            "--batch",
            str(args.batch),
            "--steps",
            str(args.steps),
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results[mode] = json.loads(out.strip().splitlines()[-1])
    results["memory_reduction"] = results["plain"]["activation_mib"] / max(
        results["saving"]["activation_mib"], 1e-9
    )
    results["time_ratio"] = results["saving"]["step_s"] / results["plain"]["step_s"]
    print(json.dumps(results, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
