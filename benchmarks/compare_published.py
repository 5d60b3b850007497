"""CPU speed of invimg's HiNet (and IRN ×4) against the published code, same weights.

The published implementations are NOT part of this repository: check them out
elsewhere and point the script at them; it imports their modules through
``sys.path`` and contains only measuring code::

    git --git-dir=<HiNet mirror> archive HEAD -- '*.py' | tar -x -C /tmp/published-hinet
    git --git-dir=<IRN mirror> archive HEAD | tar -x -C /tmp/published-irn
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/compare_published.py \\
        --hinet-src /tmp/published-hinet --irn-src /tmp/published-irn/codes

What is timed (``torch.no_grad``, float32, CPU, one thread), for both sides:

* HiNet hide: DWT(cover), DWT(secret) → 16 couplings → IWT(first 12 channels)
  (the stego) and the last 12 channels (``r``). invimg: ``HiNet.hide``.
* HiNet reveal: DWT(stego) ‖ z → inverse couplings → IWT(secret), IWT(cover).
  invimg: ``HiNet.reveal_with`` (both outputs, as the published test does).
* IRN ×4 downscale: the network's forward on the HR image (full output);
  upscale: the inverse on cat(8-bit LR, z) (full output).
* invimg's user API ``invimg.hide`` / ``invimg.reveal`` (uint8 arrays in and
  out: conversion, padding, 8-bit rounding) with the same HiNet, to show the
  API's overhead over the bare network pass.

Implementations run alternately (published, invimg, then invimg, published on
the next repetition, …) so a background job slows both alike; medians are
reported. Running the published code on a CPU-only PyTorch needs one shim:
HiNet's ``iwt_init`` allocates its output with ``torch.zeros(...).cuda()``;
while a published pass runs, ``Tensor.cuda`` returns the tensor unchanged
(there is no CUDA, so it could not mean anything else). Their IRN is built as
``define_G`` builds it for the ×4 options (``networks.py`` itself imports
torchvision, which this environment lacks, for a discriminator).

``--profile`` prints torch.profiler tables (one pass of each) instead of timing.

Note on this VM: with glibc's default malloc, first-touch page faults on the
large activation buffers cost about a third of every pass, for both sides
(HiNet 256²: 3.4 s → 2.3 s with ``MALLOC_MMAP_THRESHOLD_=4294967296
MALLOC_TRIM_THRESHOLD_=17179869184 MALLOC_TOP_PAD_=536870912``). invimg's
dense blocks use an out-of-place LeakyReLU where the published ones use
``inplace=True``; that means ~10 % more faults per IRN pass, which is the whole
of IRN's default-allocator gap (gone with the allocator settings above, or with
in-place LeakyReLU).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

import invimg
from invimg.hiding.published import load_hinet_checkpoint
from invimg.rescaling.published import load_published_irn

#: The published checkpoints beside this checkout (``../shared/reference``).
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


@contextlib.contextmanager
def cuda_is_identity() -> Iterator[None]:
    """While active, ``tensor.cuda()`` returns the tensor (CPU-only build, no CUDA)."""
    if torch.cuda.is_available():
        yield
        return
    original = torch.Tensor.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda = original  # type: ignore[method-assign]


# -- the published code, imported from its own checkout ---------------------------------


def published_hinet(src: Path, checkpoint: Path) -> tuple[torch.nn.Module, Any, Any, Any]:
    """Their ``Model`` with the checkpoint loaded (``module.`` stripped), DWT, IWT, config."""
    sys.path.insert(0, str(src))
    try:
        import config as c  # their hyper-parameters (clamp 2, channels_in 3)
        import modules.Unet_common as common
        from model import Model
    finally:
        sys.path.remove(str(src))
    net = Model()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["net"]
    state = {k.removeprefix("module."): v for k, v in state.items() if "tmp_var" not in k}
    net.load_state_dict(state, strict=True)
    return net.eval(), common.DWT(), common.IWT(), c


def published_irn(src: Path, checkpoint: Path) -> torch.nn.Module:
    """Their ``InvRescaleNet`` as ``define_G`` builds it for test_IRN_x4.yml."""
    sys.path.insert(0, str(src))
    try:
        from models.modules.Inv_arch import InvRescaleNet
        from models.modules.Subnet_constructor import subnet
    finally:
        sys.path.remove(str(src))
    # define_G: subnet(subnet_type, init, gc=gc), block_num, down_num=log2(scale),
    # use_ConvDownsampling=False, down_first=False, down_scale=scale.
    net = InvRescaleNet(
        3,
        3,
        subnet("DBNet", "xavier", gc=32),
        [8, 8],
        2,
        use_ConvDownsampling=False,
        down_first=False,
        down_scale=4,
    )
    net.load_state_dict(torch.load(checkpoint, map_location="cpu", weights_only=True), strict=True)
    return net.eval()


# -- timing ---------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Result, wall seconds, process CPU seconds."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def max_abs(a: torch.Tensor | np.ndarray, b: torch.Tensor | np.ndarray) -> float:
    ta, tb = torch.as_tensor(a).double(), torch.as_tensor(b).double()
    return float((ta - tb).abs().max())


def summary(times: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    return {
        name: {
            "runs": len(t["wall"]),
            "median_s": statistics.median(t["wall"]),
            "wall_s": [round(x, 3) for x in t["wall"]],
            "median_cpu_s": statistics.median(t["cpu"]),
            "cpu_s": [round(x, 3) for x in t["cpu"]],
        }
        for name, t in times.items()
    }


def run_alternating(
    passes: dict[str, Callable[[], Any]], groups: list[list[str]], repeat: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, Any]]:
    """Each group's passes one after another, order flipped every repetition."""
    times: dict[str, dict[str, list[float]]] = {k: {"wall": [], "cpu": []} for k in passes}
    last: dict[str, Any] = {}
    for rep in range(repeat):
        for group in groups:
            order = group if rep % 2 == 0 else list(reversed(group))
            for name in order:
                last[name], wall, cpu = timed(passes[name])
                times[name]["wall"].append(wall)
                times[name]["cpu"].append(cpu)
                print(f"  rep {rep + 1} {name:28s} {wall:8.2f} s wall {cpu:8.2f} s cpu", flush=True)
    return times, last


# -- HiNet ----------------------------------------------------------------------------


def hinet_passes(
    args: argparse.Namespace,
) -> tuple[dict[str, Callable[[], Any]], list[list[str]], Callable[[dict], dict], dict]:
    pub, dwt, iwt, c = published_hinet(args.hinet_src, REFERENCE / "hinet_official_random.pt")
    ours = load_hinet_checkpoint(REFERENCE / "hinet_official_random.pt")
    bands = 4 * c.channels_in
    g = torch.Generator().manual_seed(0)
    n = args.size
    # 8-bit levels, so the API's uint8 inputs below hold exactly the same values.
    cover = torch.round(torch.rand(1, 3, n, n, generator=g) * 255) / 255
    secret = torch.round(torch.rand(1, 3, n, n, generator=g) * 255) / 255
    z = torch.randn(1, bands, n // 2, n // 2, generator=g)
    # The revealing side sees an 8-bit stego; computed once, by ours, and fed to both.
    with torch.no_grad():
        stego_q = torch.round(ours.hide(cover, [secret]).stego.clamp(0, 1) * 255) / 255

    def pub_hide() -> tuple[torch.Tensor, torch.Tensor]:
        with cuda_is_identity():
            out = pub(torch.cat((dwt(cover), dwt(secret)), 1))
            return iwt(out.narrow(1, 0, bands)), out.narrow(1, bands, out.shape[1] - bands)

    def ours_hide() -> tuple[torch.Tensor, torch.Tensor]:
        r = ours.hide(cover, [secret])
        return r.stego, r.lost[0]

    def pub_reveal() -> tuple[torch.Tensor, torch.Tensor]:
        with cuda_is_identity():
            back = pub(torch.cat((dwt(stego_q), z), 1), rev=True)
            secret_rev = iwt(back.narrow(1, bands, back.shape[1] - bands))
            return secret_rev, iwt(back.narrow(1, 0, bands))

    def ours_reveal() -> tuple[torch.Tensor, torch.Tensor]:
        r = ours.reveal_with(stego_q, [z])
        return r.secrets[0], r.cover

    cover_u8 = (cover[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    secret_u8 = (secret[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    stego_u8 = (stego_q[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)

    passes: dict[str, Callable[[], Any]] = {
        "published/hide": pub_hide,
        "invimg/hide": ours_hide,
        "published/reveal": pub_reveal,
        "invimg/reveal": ours_reveal,
    }
    groups = [["published/hide", "invimg/hide"], ["published/reveal", "invimg/reveal"]]
    if not args.skip_api:
        passes["invimg.hide (API)"] = lambda: invimg.hide(cover_u8, secret_u8, model=ours)
        passes["invimg.reveal (API)"] = lambda: invimg.reveal(stego_u8, model=ours)
        groups[0].append("invimg.hide (API)")
        groups[1].append("invimg.reveal (API)")

    def diffs(last: dict) -> dict:
        out = {
            "hide_stego": max_abs(last["published/hide"][0], last["invimg/hide"][0]),
            "hide_r": max_abs(last["published/hide"][1], last["invimg/hide"][1]),
            "reveal_secret": max_abs(last["published/reveal"][0], last["invimg/reveal"][0]),
            "reveal_cover": max_abs(last["published/reveal"][1], last["invimg/reveal"][1]),
        }
        if "invimg.hide (API)" in last:
            pub_stego_u8 = (
                (last["published/hide"][0][0].clamp(0, 1).permute(1, 2, 0) * 255)
                .round()
                .to(torch.uint8)
            )
            api = torch.as_tensor(last["invimg.hide (API)"])
            out["api_stego_uint8_vs_published_rounded_levels"] = max_abs(pub_stego_u8, api)
            out["api_stego_uint8_pixels_differing"] = int((pub_stego_u8 != api).sum())
        return out

    # Warm-up at a small size (allocator, oneDNN primitives); not timed.
    small = torch.rand(1, 3, 64, 64)
    with cuda_is_identity():
        pub(torch.cat((dwt(small), dwt(small)), 1))
    ours.hide(small, [small])
    extra = {"clamp": c.clamp, "channels_in": c.channels_in}
    return passes, groups, diffs, extra


# -- IRN ×4 ---------------------------------------------------------------------------


def irn_passes(
    args: argparse.Namespace,
) -> tuple[dict[str, Callable[[], Any]], list[list[str]], Callable[[dict], dict], dict]:
    pub = published_irn(args.irn_src, REFERENCE / "IRN_x4_official_random.pth")
    ours = load_published_irn(REFERENCE / "IRN_x4_official_random.pth")
    g = torch.Generator().manual_seed(1)
    n = args.irn_size
    hr = torch.rand(1, 3, n, n, generator=g)
    with torch.no_grad():
        lr = pub(hr)[:, :3]
    lr_q = torch.round(lr.clamp(0, 1) * 255) / 255
    y = torch.cat((lr_q, torch.randn(1, 45, n // 4, n // 4, generator=g)), 1)
    passes: dict[str, Callable[[], Any]] = {
        "published/downscale": lambda: pub(hr),
        "invimg/downscale": lambda: ours(hr),
        "published/upscale": lambda: pub(y, rev=True),
        "invimg/upscale": lambda: ours.inverse(y),
    }
    groups = [
        ["published/downscale", "invimg/downscale"],
        ["published/upscale", "invimg/upscale"],
    ]

    def diffs(last: dict) -> dict:
        return {
            "downscale_full_output": max_abs(last["published/downscale"], last["invimg/downscale"]),
            "downscale_lr": max_abs(
                last["published/downscale"][:, :3], last["invimg/downscale"][:, :3]
            ),
            "upscale_full_output": max_abs(last["published/upscale"], last["invimg/upscale"]),
            "upscale_hr": max_abs(last["published/upscale"][:, :3], last["invimg/upscale"][:, :3]),
        }

    small = torch.rand(1, 3, 64, 64)
    pub(small)
    ours(small)
    return passes, groups, diffs, {}


# -- profile --------------------------------------------------------------------------


def profile_pass(fn: Callable[[], Any], label: str, top: int = 12) -> str:
    """torch.profiler table of one pass: operators by self CPU time."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fn()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)
    return f"### {label}\n{table}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--hinet-src", type=Path, required=True, help="checkout of TomTomTommi/HiNet")
    ap.add_argument("--irn-src", type=Path, help="…/Invertible-Image-Rescaling/codes")
    ap.add_argument("--hinet-rev", default="", help="commit of the HiNet checkout (recorded)")
    ap.add_argument("--irn-rev", default="", help="commit of the IRN checkout (recorded)")
    ap.add_argument("--size", type=int, default=512, help="HiNet image side")
    ap.add_argument("--irn-size", type=int, default=512, help="IRN HR image side")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--skip-api", action="store_true", help="do not time invimg.hide/reveal")
    ap.add_argument(
        "--profile", action="store_true", help="torch.profiler table of one pass of each (no JSON)"
    )
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/published_speed_cpu.json"))
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(args.threads)
    torch.set_grad_enabled(False)
    result: dict[str, Any] = {
        "command": " ".join(
            [
                f"{k}={os.environ[k]}"
                for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")
                if k in os.environ
            ]
            + ["python", *sys.argv]
        ),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "load_average_at_start": os.getloadavg(),
        "published": {"hinet": args.hinet_rev, "irn": args.irn_rev},
        "dtype": "float32",
        "grad": "torch.no_grad (set_grad_enabled(False))",
    }
    with torch.no_grad():
        if args.profile:
            passes, groups, _, _ = hinet_passes(args)
            if args.irn_src is not None:
                irn, irn_groups, _, _ = irn_passes(args)
                passes, groups = {**passes, **irn}, groups + irn_groups
            for group in groups:
                for name in group[:2]:
                    print(profile_pass(passes[name], name), flush=True)
            return
        print(f"HiNet {args.size}², {args.repeat} alternating runs", flush=True)
        passes, groups, diffs, extra = hinet_passes(args)
        times, last = run_alternating(passes, groups, args.repeat)
        result["hinet"] = {
            "size": args.size,
            "published_config": extra,
            "passes": summary(times),
            "max_abs_diff": diffs(last),
        }
        del passes, last
        if args.irn_src is not None:
            print(f"IRN ×4 {args.irn_size}², {args.repeat} alternating runs", flush=True)
            passes, groups, diffs, _ = irn_passes(args)
            times, last = run_alternating(passes, groups, args.repeat)
            result["irn_x4"] = {
                "size": args.irn_size,
                "passes": summary(times),
                "max_abs_diff": diffs(last),
            }
    result["load_average_at_end"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
