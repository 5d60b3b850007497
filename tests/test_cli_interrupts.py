"""Ctrl-C at every stage of a run: exit 130, ``error: interrupted`` alone, no partial file.

Each case runs the console script in a fresh process (``interrupt_driver.py``) that
sends itself a real SIGINT at one fixed point: while torch is imported, while Typer
parses the options, while the weights load, inside the network, with the output
written but not yet in place, right after it is in place, and between the moves of
inpaint's samples into an existing folder. Repeatable: the signal is tied to a call,
not to a delay. ``INVIMG_SIGINT_SWEEP=N`` adds N runs interrupted after delays
spread over a real run (the way the issue found the silent exit).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from invimg.hiding.hinet import HiNet
from invimg.inpainting.pdgan import PDGAN
from invimg.zoo import save_pretrained

DRIVER = Path(__file__).with_name("interrupt_driver.py")
SWEEP = int(os.environ.get("INVIMG_SIGINT_SWEEP", "0"))
HIDE = ("hide", "a.png", "b.png", "--model", "hinet.json", "-o", "s.png")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("interrupts")
    torch.manual_seed(0)
    save_pretrained(HiNet(HiNet.Config(num_blocks=1, growth=4)), d, "hinet", {"task": "hiding"})
    prior = {"width": 4, "max_width": 8, "levels": 3}
    pdgan = PDGAN(PDGAN.Config(widths=[8, 8, 8], z_dim=4, hidden=8, prior=prior))
    save_pretrained(pdgan, d, "pdgan", {"task": "inpainting"})
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)).save(d / name)
    hole = np.zeros((32, 40), np.uint8)
    hole[8:20, 10:30] = 255
    Image.fromarray(hole).save(d / "mask.png")
    return d


def _env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def _interrupted_at(phase: str, args: tuple[str, ...], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(DRIVER), phase, *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _expect_interrupted(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 130, (done.returncode, done.stderr)
    assert done.stderr == "error: interrupted\n", done.stderr
    assert "Traceback" not in done.stdout


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


def _complete(path: Path) -> bool:
    with Image.open(path) as image:
        image.load()  # a partial PNG raises here
    return True


@pytest.fixture
def run_dir(work: Path, tmp_path: Path) -> Path:
    for item in work.iterdir():
        (tmp_path / item.name).write_bytes(item.read_bytes())
    return tmp_path


@pytest.mark.parametrize(
    "phase", ["start-up", "options", "model-load", "compute", "writing", "published"]
)
def test_ctrl_c_at_any_stage_of_hide(run_dir: Path, phase: str) -> None:
    _expect_interrupted(_interrupted_at(phase, HIDE, run_dir))
    assert not _temporaries(run_dir), _temporaries(run_dir)
    stego = run_dir / "s.png"
    if phase == "published":  # in place before the Ctrl-C: it must be whole
        assert _complete(stego)
    else:
        assert not stego.exists()


def test_ctrl_c_between_moves_leaves_all_samples_or_none(run_dir: Path) -> None:
    """Samples go into an existing folder one rename each: never only some of them."""
    (run_dir / "out").mkdir()
    (run_dir / "out" / "mine.txt").write_text("keep")
    args = ("inpaint", "a.png", "mask.png", "-n", "2", "--model", "pdgan.json", "-o", "out")
    _expect_interrupted(_interrupted_at("moving", args, run_dir))
    written = sorted(p.name for p in (run_dir / "out").iterdir())
    everything = ["contact_sheet.png", "mine.txt", "sample_00.png", "sample_01.png"]
    assert written in (["mine.txt"], everything), written
    assert all(_complete(p) for p in (run_dir / "out").glob("*.png"))
    assert not _temporaries(run_dir), _temporaries(run_dir)


@pytest.mark.skipif(not SWEEP, reason="set INVIMG_SIGINT_SWEEP=N for timed Ctrl-Cs")
def test_ctrl_c_after_any_delay(run_dir: Path) -> None:
    """SIGINT from outside after 0.1 s … the run's own length: exit 130 and one line, or done."""
    command = [sys.executable, "-m", "invimg", *HIDE]
    started = time.perf_counter()
    subprocess.run(command, cwd=run_dir, env=_env(), capture_output=True, check=True)
    length = time.perf_counter() - started
    for delay in np.linspace(0.1, length, SWEEP):
        (run_dir / "s.png").unlink(missing_ok=True)
        process = subprocess.Popen(
            command, cwd=run_dir, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(float(delay))
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=300)
        message = (delay, process.returncode, err.decode())
        if process.returncode == 0:  # finished before the signal
            assert _complete(run_dir / "s.png"), message
            continue
        assert process.returncode == 130 and err.decode() == "error: interrupted\n", message
        assert not _temporaries(run_dir), message
        assert not (run_dir / "s.png").exists() or _complete(run_dir / "s.png"), message
