"""CPU speed and peak memory of the inference backends against eager PyTorch, same weights.

The published random checkpoints of ``../shared/reference`` (HiNet, IRN ×4)
are loaded into invimg, which reproduces the published forward exactly
(BENCHMARKS.md, "Faithfulness to the published code") and at the same speed
(its "Speed against the published code" table: 0.96-1.03). The eager pass
on the whole image is therefore the published forward's stand-in here; the
invimg rows run the exported graph (:mod:`invimg.inference`) on the same
input. Each measurement runs in a fresh process (peak memory = peak RSS
minus the RSS after loading and opening the session); eager and the runtime
alternate so a background job slows both alike.

    OMP_NUM_THREADS=1 python benchmarks/speed_backends.py --size 512 --threads 1 2 \\
        --json benchmarks/results/backend_speed_512.json
    python benchmarks/speed_backends.py --startup     # the wall time split of `invimg hide`
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"
PASSES = ("hinet-hide", "hinet-reveal", "irn4-down", "irn4-up")


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _model_and_inputs(name: str, size: int) -> tuple[torch.nn.Module, str, list[torch.Tensor]]:
    """The published checkpoint in invimg, the graph kind and one random input set."""
    gen = torch.Generator().manual_seed(0)
    if name.startswith("hinet"):
        from invimg.hiding.published import load_hinet_checkpoint

        net = load_hinet_checkpoint(REFERENCE / "hinet_official_random.pt").eval()
        if name == "hinet-hide":
            images = [torch.rand(1, 3, size, size, generator=gen) for _ in range(2)]
            return net, "hide", images
        z = torch.zeros(1, 12, size // 2, size // 2)
        return net, "reveal", [torch.rand(1, 3, size, size, generator=gen), z]
    from invimg.rescaling.published import load_published_irn

    net = load_published_irn(REFERENCE / "IRN_x4_official_random.pth").eval()
    if name == "irn4-down":
        return net, "down", [torch.rand(1, 3, size, size, generator=gen)]
    lr = torch.round(torch.rand(1, 3, size // 4, size // 4, generator=gen) * 255) / 255
    return net, "up", [torch.cat((lr, torch.randn(1, 45, size // 4, size // 4, generator=gen)), 1)]


def measure_one(name: str, backend: str, size: int, repeat: int) -> dict[str, Any]:
    """Median seconds and peak memory growth of one pass (run in a fresh process)."""
    from invimg.inference import run_graph

    net, kind, inputs = _model_and_inputs(name, size)
    small = [t[..., : t.shape[-2] * 16 // size, : t.shape[-1] * 16 // size] for t in inputs]
    run_graph(net, kind, small, backend)  # export (cached) and open the session
    base = _rss_mib()
    outputs = run_graph(net, kind, inputs, backend)  # warm-up at the size (kernels, arenas)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        outputs = run_graph(net, kind, inputs, backend)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    assert outputs is not None
    torch.save(outputs, f"/tmp/speed_backends_{name}_{backend}.pt")
    return {"seconds": statistics.median(times), "runs": times, "peak_mib": peak}


def _child(name: str, backend: str, size: int, threads: int, repeat: int) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    args = [sys.executable, __file__, "--one", name, backend, str(size), str(repeat)]
    out = subprocess.run(args, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare(sizes: list[int], threads: list[int], repeat: int, passes: list[str]) -> list[dict]:
    """Eager and ONNX Runtime side by side for every pass, size and thread count."""
    rows = []
    for size in sizes:
        for n in threads:
            for name in passes:
                eager = _child(name, "torch", size, n, repeat)
                onnx = _child(name, "onnxruntime", size, n, repeat)
                a = torch.load(f"/tmp/speed_backends_{name}_torch.pt")
                b = torch.load(f"/tmp/speed_backends_{name}_onnxruntime.pt")
                diff = max(float((x - y).abs().max()) for x, y in zip(a, b))
                row = {
                    "pass": name,
                    "size": size,
                    "threads": n,
                    "eager": eager,
                    "onnxruntime": onnx,
                }
                row["speedup"] = eager["seconds"] / onnx["seconds"]
                row["max_abs_diff"] = diff
                rows.append(row)
                print(
                    f"{name:13s} {size}² {n} thr: eager {eager['seconds']:.2f} s "
                    f"{eager['peak_mib']:.0f} MiB | onnxruntime {onnx['seconds']:.2f} s "
                    f"{onnx['peak_mib']:.0f} MiB | {row['speedup']:.2f}x, diff {diff:.1e}",
                    flush=True,
                )
    return rows


def startup(size: int = 256) -> dict[str, float]:
    """Wall time split of what `invimg hide` does on a ``size``² pair (cold and warm cache)."""
    code = f"""
import time, json, numpy as np
t0 = time.perf_counter()
from invimg.interfaces import cli; cli._register_commands()
import invimg.hiding.api as api
from invimg.io import write_image
t1 = time.perf_counter()
net = api.resolve_model("hinet-small")
t2 = time.perf_counter()
from invimg.inference import run_graph
import torch
run_graph(net, "hide", [torch.zeros(1, 3, 8, 8)] * 2)
t3 = time.perf_counter()
rng = np.random.default_rng(0)
cover, secret = (rng.integers(0, 256, ({size}, {size}, 3), dtype=np.uint8) for _ in range(2))
stego = api.hide(cover, secret, model=net)
t4 = time.perf_counter()
write_image("/tmp/speed_backends_stego.png", stego, force=True)
t5 = time.perf_counter()
print(json.dumps(dict(imports=t1-t0, model_load=t2-t1, export_and_session=t3-t2,
                      compute=t4-t3, write=t5-t4)))
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = {}
    for label in ("cold", "warm"):
        if label == "cold":
            env["INVIMG_CACHE_DIR"] = f"/tmp/speed_backends_cache_{time.time_ns()}"
        out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
        result[label] = json.loads(out.stdout.decode().strip().splitlines()[-1])
        print(label, {k: round(v, 3) for k, v in result[label].items()}, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", nargs=4, metavar=("PASS", "BACKEND", "SIZE", "REPEAT"))
    parser.add_argument("--size", type=int, nargs="+", default=[512])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--passes", nargs="+", default=list(PASSES), choices=PASSES)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--startup", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.one:
        name, backend, size, repeat = args.one
        print(json.dumps(measure_one(name, backend, int(size), int(repeat))))
        return
    report: dict[str, Any] = {
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }
    if args.startup:
        report["startup_256"] = startup()
    else:
        report["rows"] = compare(args.size, args.threads, args.repeat, args.passes)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
