"""Load on ``invimg serve``: N hide requests at once through the page's queue (loopback only).

Starts ``invimg serve`` on a free loopback port (its own private temporary
folder), warms it up with two requests, then sends ``--requests`` hide
requests at once from as many client threads (Gradio's Python client, the
same queue as the page). Each request hides a ``--size``² crop of the bundled
cover/secret photos and the server also reveals the secret from the 8-bit
stego to measure it, as the Hide tab does. Reported: wall time, throughput,
per-request latency (submit to result downloaded), the server's resident
memory (idle after warm-up, peak during the burst, 2 s after it), and whether
every stego is the library's. The run is bounded (one burst) and stops the
server with SIGTERM; nothing leaves 127.0.0.1::

    OMP_NUM_THREADS=1 python benchmarks/load_web.py --requests 20 --size 128 --concurrency 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

import invimg

ASSETS = Path(invimg.__file__).parent / "assets"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+)", status)
    return int(match.group(1)) / 1024 if match else float("nan")


def start_server(port: int, concurrency: int, requests: int, temp: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "invimg", "serve", "--port", str(port)]
    command += ["--concurrency", str(concurrency), "--queue-size", str(requests + 4)]
    env = {**os.environ, "TMPDIR": str(temp), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("invimg serve exited before answering")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):
                return process
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit("invimg serve did not answer in 300 s")


def make_pairs(count: int, size: int, folder: Path) -> list[tuple[Path, Path]]:
    """``count`` different cover/secret crops (so a mix-up of results would show)."""
    cover, secret = (Image.open(ASSETS / f"{n}.png").convert("RGB") for n in ("cover", "secret"))
    room = cover.width - size
    pairs = []
    for i in range(count):
        a, b = (i * 7) % (room + 1), (room - i * 5) % (room + 1)
        pairs.append((folder / f"c{i}.png", folder / f"s{i}.png"))
        cover.crop((a, a, a + size, a + size)).save(pairs[-1][0])
        secret.crop((b, b, b + size, b + size)).save(pairs[-1][1])
    return pairs


def burst(url: str, pairs: list[tuple[Path, Path]], pid: int, downloads: Path) -> dict[str, Any]:
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False, download_files=str(downloads))

    def one(pair: tuple[Path, Path]) -> tuple[float, Any]:
        start = time.perf_counter()
        cover, secret = (handle_file(str(p)) for p in pair)
        out = client.predict("hinet-small", cover, secret, None, None, 0, api_name="/hide")
        return time.perf_counter() - start, out

    with ThreadPoolExecutor(2) as pool:  # warm-up: model loaded, worker threads started
        list(pool.map(one, pairs[:2]))
    time.sleep(1)
    idle = peak = rss_mb(pid)
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_mb(pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(len(pairs)) as pool:
        results = list(pool.map(one, pairs))
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    time.sleep(2)
    latencies = sorted(r[0] for r in results)
    exact = all(
        np.array_equal(
            np.asarray(Image.open(out[0]).convert("RGB")),
            invimg.hide(*(np.asarray(Image.open(p).convert("RGB")) for p in pair)),
        )
        for pair, (_, out) in zip(pairs, results)
    )
    return {
        "wall_s": wall,
        "requests_per_s": len(pairs) / wall,
        "latency_s": {
            "median": statistics.median(latencies),
            "p90": latencies[int(0.9 * (len(latencies) - 1))],
            "max": latencies[-1],
        },
        "rss_mb": {"idle": idle, "peak": peak, "after": rss_mb(pid)},
        "all_stegos_equal_library": exact,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--concurrency", type=int, default=2, help="server's --concurrency")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/load_web.json"))
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="invimg-load-") as tmp:
        temp = Path(tmp)
        port = free_port()
        server = start_server(port, args.concurrency, args.requests, temp)
        try:
            pairs = make_pairs(args.requests, args.size, temp)
            result = burst(f"http://127.0.0.1:{port}/", pairs, server.pid, temp / "downloads")
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=60)
    report = {
        "benchmark": "invimg serve: hide requests at once (Hide tab: hide + reveal check)",
        "requests": args.requests,
        "size": args.size,
        "server_concurrency": args.concurrency,
        "model": "hinet-small",
        "hardware": f"{os.cpu_count()}-core CPU ({platform.machine()}), OMP_NUM_THREADS=1",
        "load_average_before": load_before,  # other jobs on the machine slow every number
        "command": " ".join(["python", *sys.argv]),
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
