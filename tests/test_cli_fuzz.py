"""Fuzzing every command that reads an image: damaged files never escape the rules.

Hypothesis draws valid PNG / JPEG / WebP / TIFF files of any size from 1×1 up (grey,
colour, with alpha), then damages them (truncation, flipped bytes, edits of the header
that the format's decoder reads first, with the PNG checksum fixed half the time) and
feeds them to each command in the place of one input; masks are drawn the same way,
with random content. The property, whatever happens:

* the exit code is a documented one (0, 2–7), never 1 and never a traceback;
* a failure is exactly one ``error:`` line (after any ``warning:`` lines);
* no partial output: on failure nothing is written and no temporary file remains; on
  success the output exists and decodes completely.

By default each command gets a few derandomized examples (repeatable, about a minute
in all on a 2-core CPU). ``INVIMG_FUZZ_EXAMPLES=500`` runs a longer, random campaign
(failures are then reproducible with ``--hypothesis-seed``).
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from cli_checks import expect_one_line_outcome, leftovers, run
from invimg.datahiding.model import StegCINN
from invimg.hiding.hinet import HiNet
from invimg.inpainting.pdgan import PDGAN
from invimg.rescaling import IRN, IRNColor
from invimg.zoo import save_pretrained

LONG_RUN = int(os.environ.get("INVIMG_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=LONG_RUN or 5,
    derandomize=not LONG_RUN,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FORMATS = {"PNG": ("RGB", "L", "RGBA", "P"), "JPEG": ("RGB", "L"), "WEBP": ("RGB", "RGBA")}
FORMATS["TIFF"] = ("RGB", "L", "RGBA")
MAX_SIDE = 40


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny untrained models of every task: the commands run in milliseconds."""
    d = tmp_path_factory.mktemp("fuzz-models")
    torch.manual_seed(0)
    save_pretrained(HiNet(HiNet.Config(num_blocks=1, growth=4)), d, "hinet", {"task": "hiding"})
    save_pretrained(IRN(IRN.Config(scale=2, blocks=1, growth=4)), d, "irn", {"task": "rescaling"})
    save_pretrained(IRNColor(IRNColor.Config(blocks=1, growth=4)), d, "color", {"task": "color"})
    steg = StegCINN(StegCINN.Config(blocks1=1, blocks2=1, hidden1=8, hidden2=8, cond_width=8))
    save_pretrained(steg, d, "steg", {"task": "datahiding"})
    prior = {"width": 4, "max_width": 8, "levels": 3}
    pdgan = PDGAN(PDGAN.Config(widths=[8, 8, 8], z_dim=4, hidden=8, prior=prior))
    save_pretrained(pdgan, d, "pdgan", {"task": "inpainting"})
    return d


# -- files: valid, then damaged ---------------------------------------------------------


def _encode(pixels: np.ndarray, mode: str, fmt: str) -> bytes:
    image = Image.fromarray(pixels[..., 0] if mode in ("L", "P") else pixels[..., :3])
    if mode == "RGBA":
        image = Image.fromarray(pixels, "RGBA")
    elif mode == "P":
        image = image.convert("P")
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _header(data: bytes, fmt: str) -> range:
    """The bytes a decoder reads first: PNG's IHDR, JPEG's frame header, WebP's chunk
    headers, TIFF's byte order and first directory."""
    if fmt == "PNG":
        return range(16, 29)
    if fmt == "JPEG":
        start = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"), 2)
        return range(start, min(start + 19, len(data)))
    if fmt == "WEBP":
        return range(4, min(30, len(data)))
    order: Literal["little", "big"] = "little" if data[:2] == b"II" else "big"
    ifd = int.from_bytes(data[4:8], order)
    entries = int.from_bytes(data[ifd : ifd + 2], order) if ifd + 2 <= len(data) else 0
    return range(0, min(ifd + 2 + 12 * entries, len(data)))


def _fix_png_crc(data: bytearray) -> None:
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))


@st.composite
def image_files(draw: st.DrawFn, channels_seen: str = "image") -> bytes:
    """A valid image file of random size, mode and format, damaged or not."""
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(FORMATS[fmt]))
    width, height = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    pixels = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    if channels_seen == "mask":  # masks: all black, all white, a blob or noise
        style = draw(st.sampled_from(["black", "white", "blob", "noise"]))
        pixels = _mask_pixels(style, pixels)
    data = bytearray(_encode(pixels, mode, fmt))
    damage = draw(st.sampled_from(["none", "truncate", "flip", "header"]))
    if damage == "truncate":
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif damage == "flip":
        for at in draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=8)):
            data[at] ^= draw(st.integers(1, 255))
    elif damage == "header":
        region = _header(bytes(data), fmt)
        for at in draw(st.lists(st.sampled_from(region), min_size=1, max_size=4)):
            data[at] = draw(st.integers(0, 255))
        if fmt == "PNG" and draw(st.booleans()):
            _fix_png_crc(data)  # otherwise the edit is caught by the checksum alone
    return bytes(data)


def _mask_pixels(style: str, pixels: np.ndarray) -> np.ndarray:
    if style == "black":
        return np.zeros_like(pixels) | np.array([0, 0, 0, 255], np.uint8)
    if style == "white":
        return np.full_like(pixels, 255)
    if style == "blob":
        out = np.zeros_like(pixels) | np.array([0, 0, 0, 255], np.uint8)
        h, w = pixels.shape[:2]
        out[h // 4 : h // 2 + 1, w // 4 : w // 2 + 1, :3] = 255
        return out
    return np.where(pixels[..., :1] > 127, 255, 0).astype(np.uint8).repeat(4, axis=2)


# -- commands --------------------------------------------------------------------------

#: name -> (arguments with FILE as the fuzzed input and M the models folder, outputs)
COMMANDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "capacity": (("capacity", "FILE"), ()),
    "hide-cover": (
        ("hide", "FILE", "ok.png", "--model", "M/hinet.json", "-o", "s.png"),
        ("s.png",),
    ),
    "hide-secret": (
        ("hide", "ok.png", "FILE", "--model", "M/hinet.json", "-o", "s.png"),
        ("s.png",),
    ),
    "reveal": (("reveal", "FILE", "--model", "M/hinet.json", "-o", "r.png"), ("r.png",)),
    "embed": (("embed", "FILE", "-m", "hi", "--model", "M/steg.json", "-o", "e.png"), ("e.png",)),
    "extract": (("extract", "FILE", "--model", "M/steg.json", "-o", "x.bin"), ("x.bin",)),
    "downscale": (("downscale", "FILE", "--model", "M/irn.json", "-o", "d.png"), ("d.png",)),
    "upscale": (("upscale", "FILE", "--model", "M/irn.json", "-o", "u.png"), ("u.png",)),
    "decolorize": (("decolorize", "FILE", "--model", "M/color.json", "-o", "g.png"), ("g.png",)),
    "colorize": (("colorize", "FILE", "--model", "M/color.json", "-o", "c.png"), ("c.png",)),
    "invert": (
        ("invert", "FILE", "-f", "hog:4", "--iterations", "2", "-q", "-o", "i.png"),
        ("i.png",),
    ),
    "features": (("features", "FILE", "-f", "hog:4", "-o", "f.safetensors"), ("f.safetensors",)),
    "inpaint-image": (
        ("inpaint", "FILE", "mask.png", "-n", "1", "--model", "M/pdgan.json", "-o", "out"),
        ("out",),
    ),
    "inpaint-mask": (
        ("inpaint", "ok.png", "FILE", "-n", "1", "--model", "M/pdgan.json", "-o", "out"),
        ("out",),
    ),
}


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


def _check_outputs(result: object, work: Path, outputs: tuple[str, ...]) -> None:
    """All or nothing: complete files on success, none (and no temporary file) on failure."""
    expect_one_line_outcome(result)
    assert not leftovers(work), leftovers(work)
    if result.exit_code != 0:  # type: ignore[attr-defined]
        assert not [name for name in outputs if (work / name).exists()], outputs
        return
    for name in outputs:
        for path in (work / name).rglob("*.png") if (work / name).is_dir() else [work / name]:
            if path.suffix == ".png":
                with Image.open(path) as image:
                    image.load()  # raises on a partial file
            else:
                assert path.stat().st_size > 0


def _run_fuzzed(models: Path, command: str, files: dict[str, bytes]) -> None:
    args, outputs = COMMANDS[command]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        rng = np.random.default_rng(0)
        Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(work / "ok.png")
        for name, data in files.items():
            (work / name).write_bytes(data)
        argv = [a.replace("M/", f"{models}/") for a in args]
        with _inside(work):
            result = run(*argv)
        _check_outputs(result, work, outputs)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@FUZZ
@given(data=st.data())
def test_damaged_inputs_follow_the_rules(models: Path, command: str, data: st.DataObject) -> None:
    kind = "mask" if command == "inpaint-mask" else "image"
    files = {"FILE": data.draw(image_files(kind), label=kind)}
    if command == "inpaint-image":
        files["mask.png"] = data.draw(image_files("mask"), label="mask")
    _run_fuzzed(models, command, files)


def test_the_fuzzer_damages_every_format() -> None:
    """The header regions exist (a fuzzer that edits nothing would prove nothing)."""
    pixels = np.random.default_rng(0).integers(0, 256, (9, 7, 4), dtype=np.uint8)
    for fmt, modes in FORMATS.items():
        for mode in modes:
            data = _encode(pixels, mode, fmt)
            region = _header(data, fmt)
            assert len(region) >= 8 and region.stop <= len(data), (fmt, mode, region)
            with Image.open(io.BytesIO(data)) as image:
                assert image.size == (7, 9)
