"""Read images into float RGB arrays, stating every conversion made on the way.

Why this module exists: every model in invimg consumes 3-channel RGB floats in
[0, 1], and a user must be able to trust that what the model saw is what is in
their file — no silent truncation of 16-bit data, no alpha quietly turned black,
no sideways photos, no half-decoded truncated file, no decompression bomb.

Supported inputs (the content decides, never the suffix): PNG, JPEG, WebP,
TIFF, BMP. Anything else (GIF, HEIC, PDF, ...) is refused.

Conversion rules. Each rule marked *note* adds a line to
:attr:`LoadedImage.notes` so that a caller can warn the user:

* Bit depth: 8-bit samples are divided by 255, 16-bit samples by 65535, so the
  full 16-bit precision survives (``bit_depth`` says which). 16-bit grayscale
  PNG/TIFF is read by Pillow. 16-bit-per-channel colour PNG/TIFF (48/64-bit),
  which Pillow would truncate to 8 bits, is decoded with the optional
  ``imagecodecs`` package; without it such files are refused, never truncated.
* Grayscale (``L``, ``I;16``, ``I``, 1-bit): replicated to 3 channels (*note*).
  1-bit images are read as 0/255 grayscale (*note*).
* Palette (``P``, ``PA``): expanded to RGBA, then the alpha rule applies (*note*).
* Alpha (RGBA, LA, palette or colour-key transparency): if every pixel is fully
  opaque the alpha channel is dropped silently; otherwise the image is
  composited over white (*note*, with the number of non-opaque pixels).
* CMYK and YCbCr: converted to RGB by Pillow, without colour management (*note*).
* EXIF orientation is honoured, so pixels come out the way image viewers show
  them (no note: that is what the user already sees).
* Multi-frame files (animated WebP/PNG, multi-page TIFF): the first frame is
  used (*note*). Multi-picture JPEGs (MPO) are read as plain JPEGs.
* Embedded ICC profiles are not applied.

Refused with :class:`~invimg.errors.InputImageError` (one line naming the file):
missing file, directory, empty file, unsupported format, unsupported pixel mode
(float ``F``, integers beyond 16 bits, LAB, HSV, ...), more pixels than
``max_pixels`` (checked from the header before any pixel is decoded), and
truncated or corrupt data.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Final

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from invimg.errors import InputImageError, InvimgError

PathLike = str | os.PathLike[str]

SUPPORTED_INPUT_FORMATS: Final = ("PNG", "JPEG", "WEBP", "TIFF", "BMP")
DEFAULT_MAX_PIXELS: Final = 8192 * 8192  # 64 Mi pixels: 8192 x 8192 passes, a bomb does not

_SUPPORTED_TEXT: Final = "PNG, JPEG, WebP, TIFF, BMP"
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_GRAY16_MODES: Final = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_WIDE_COLOUR_MODES: Final = frozenset({"RGB", "RGBA"})
_DIRECT_MODES: Final = frozenset({"L", "LA", "RGB", "RGBA"})
_CONVERT_TO: Final = {
    "1": "L",
    "P": "RGBA",
    "PA": "RGBA",
    "RGBX": "RGB",
    "RGBa": "RGBA",
    "La": "LA",
    "CMYK": "RGB",
    "YCbCr": "RGB",
}
_MODE_NOTES: Final = {
    "1": "1-bit image read as black-and-white grayscale",
    "P": "palette (indexed-colour) image expanded to RGB",
    "PA": "palette (indexed-colour) image expanded to RGB",
    "CMYK": "CMYK image converted to RGB without colour management; colours may shift",
    "YCbCr": "YCbCr image converted to RGB",
}
_SNIFFED: Final = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"%PDF", "PDF"),
    (b"8BPS", "Photoshop PSD"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"\x00\x00\x01\x00", "ICO"),
)


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """An image as the models see it, plus what it took to get there.

    ``pixels`` is read-only so that the record stays true to the file; copy it
    (``to_tensor`` does) before changing it.
    """

    pixels: np.ndarray  # float32, H x W x 3, RGB, in [0, 1]
    bit_depth: int  # 8 or 16: the precision of the samples in the file
    source_mode: str  # Pillow's mode for the file, e.g. "RGB", "I;16", "P"
    format: str  # "PNG", "JPEG", "WEBP", "TIFF" or "BMP"
    notes: tuple[str, ...]  # one line per conversion a user may want to hear about
    path: Path

    @property
    def height(self) -> int:
        """Rows, after EXIF orientation."""
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        """Columns, after EXIF orientation."""
        return int(self.pixels.shape[1])


#: File suffixes taken as images when a folder is listed (the formats read above).
IMAGE_SUFFIXES: Final = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def list_images(
    folder: str | os.PathLike[str],
    *,
    recursive: bool = False,
    suffixes: tuple[str, ...] = IMAGE_SUFFIXES,
) -> list[Path]:
    """The image files in ``folder`` (or below it, ``recursive``), sorted by path.

    One lister for training data, evaluations and benchmarks, so that which
    files count as images is decided in one place.
    """
    root = Path(folder)
    found = root.rglob("*") if recursive else root.iterdir()
    return sorted(p for p in found if p.suffix.lower() in suffixes and p.is_file())


def show_path(path: PathLike) -> str:
    """Render a path for a one-line message, escaping newlines and other controls."""
    text = os.fspath(path)
    return text if text.isprintable() else repr(text)


def read_image(path: PathLike, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read an image file as float32 RGB in [0, 1], following the module's rules.

    ``max_pixels=None`` lifts invimg's limit; Pillow's own hard limit (about
    179 megapixels) still applies.
    """
    file = _check_input_file(path)
    with _opened(file, max_pixels) as im:
        fmt = "JPEG" if im.format == "MPO" else str(im.format)
        _check_pixel_count(im.size, max_pixels, file)
        source_mode = im.mode
        notes = _frame_notes(im)
        samples, bit_depth = _decode(im, file)
    pixels, conversion_notes = _samples_to_rgb(samples, bit_depth)
    pixels.flags.writeable = False
    mode_note = _MODE_NOTES.get(source_mode)
    all_notes = ([mode_note] if mode_note else []) + notes + conversion_notes
    return LoadedImage(pixels, bit_depth, source_mode, fmt, tuple(all_notes), file)


def _samples_to_rgb(samples: np.ndarray, bit_depth: int) -> tuple[np.ndarray, list[str]]:
    """Turn H x W x C integer samples (C = 1..4) into float32 RGB, with notes.

    Alpha is handled before grayscale replication so compositing touches one
    channel instead of three.
    """
    maxval = (1 << bit_depth) - 1
    channels = samples.shape[2]
    colour = samples[..., : 1 if channels < 3 else 3]
    pixels = colour.astype(np.float32) / np.float32(maxval)
    notes: list[str] = []
    if channels in (2, 4):
        pixels = _composite_over_white(pixels, samples[..., -1], maxval, notes)
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
        notes.append("grayscale image replicated to 3 RGB channels")
    return pixels, notes


def _composite_over_white(
    pixels: np.ndarray, alpha: np.ndarray, maxval: int, notes: list[str]
) -> np.ndarray:
    """Drop an all-opaque alpha silently; otherwise blend over white and say so.

    White, not black: a transparent logo or scan then looks as it does on a page.
    """
    see_through = int(np.count_nonzero(alpha < maxval))
    if see_through == 0:
        return pixels
    weight = (alpha.astype(np.float32) / np.float32(maxval))[..., None]
    blended = pixels * weight + (np.float32(1.0) - weight)
    notes.append(
        f"{see_through} of {alpha.size} pixels are transparent or translucent; "
        "composited over white"
    )
    return np.clip(blended, 0.0, 1.0, out=blended)


def _check_input_file(path: PathLike) -> Path:
    """Fail on what is plainly not an image file before Pillow sees it."""
    file = Path(path)
    shown = show_path(file)
    try:
        info = file.stat()
    except FileNotFoundError:
        raise InputImageError(f"input image {shown} does not exist") from None
    except OSError as exc:
        raise InputImageError(f"cannot access input image {shown}: {_reason(exc)}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise InputImageError(f"input image {shown} is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputImageError(f"input image {shown} is not a regular file")
    if info.st_size == 0:
        raise InputImageError(f"input image {shown} is empty (0 bytes)")
    return file


@contextmanager
def _opened(file: Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Iterator[Image.Image]:
    """Open with the supported decoders only, mapping every failure to one line.

    Pillow's bomb *warning* is silenced because :func:`_check_pixel_count`
    applies invimg's own, stricter limit from the header; Pillow's *error*
    (far beyond that limit) is reworded to quote ``max_pixels`` too.
    """
    shown = show_path(file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(file, formats=SUPPORTED_INPUT_FORMATS)
        except UnidentifiedImageError:
            raise InputImageError(_unsupported_message(file)) from None
        except Image.DecompressionBombError as exc:
            raise _bomb_error(file, exc, max_pixels) from None
        except _DECODE_ERRORS as exc:
            raise InputImageError(f"cannot read input image {shown}: {_reason(exc)}") from exc
        with im:
            yield im


def _unsupported_message(file: Path) -> str:
    """Name the format when it is a common one, so the user knows what to convert."""
    with open(file, "rb") as fh:
        head = fh.read(16)
    kind = next((name for magic, name in _SNIFFED if head.startswith(magic)), None)
    if kind is None and head[4:8] == b"ftyp":
        kind = "AVIF" if head[8:12] in (b"avif", b"avis") else "HEIF/HEIC"
    what = f"is a {kind} file" if kind else "is not a recognised image"
    return f"input image {show_path(file)} {what}; supported formats: {_SUPPORTED_TEXT}"


def _check_pixel_count(size: tuple[int, int], max_pixels: int | None, file: Path) -> None:
    """Refuse from the header alone, before a single pixel is decoded."""
    width, height = size
    if width <= 0 or height <= 0:
        raise InputImageError(f"input image {show_path(file)} has no pixels ({width}x{height})")
    if max_pixels is not None and width * height > max_pixels:
        raise InputImageError(
            f"refusing input image {show_path(file)}: {width}x{height} = "
            f"{width * height:,} pixels exceeds the limit of {max_pixels:,} "
            "(possible decompression bomb)"
        )


def _bomb_error(
    file: Path, exc: Image.DecompressionBombError, max_pixels: int | None
) -> InputImageError:
    """Pillow's hard limit, met before invimg's check could run, in invimg's words.

    Pillow refuses an image beyond twice its own warning size while reading
    the header, with its own limit and wording; a user should see one
    message and one limit whatever the size, as :func:`_check_pixel_count` gives.
    """
    found = re.search(r"\((\d+) pixels\)", str(exc))
    count = f"{int(found.group(1)):,} pixels" if found else "its size"
    limit = max_pixels if max_pixels is not None else 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return InputImageError(
        f"refusing input image {show_path(file)}: {count} exceeds the limit of {limit:,} "
        "(possible decompression bomb)"
    )


def _frame_notes(im: Image.Image) -> list[str]:
    """Say so when frames or pages beyond the first are ignored."""
    frames = int(getattr(im, "n_frames", 1))
    if frames > 1 and im.format != "MPO":
        return [f"file has {frames} frames or pages; only the first is used"]
    return []


def _decode(im: Image.Image, file: Path) -> tuple[np.ndarray, int]:
    """Decode to H x W x C integer samples and their bit depth, upright."""
    shown = show_path(file)
    try:
        bits = _sample_bits(im)
        if bits > 16 or (bits > 8 and im.mode not in _GRAY16_MODES | _WIDE_COLOUR_MODES):
            raise InputImageError(
                f"input image {shown}: {bits}-bit {im.mode} samples are not supported"
            )
        if bits > 8 and im.mode in _WIDE_COLOUR_MODES:
            return _decode_wide(im, file), 16
        im.load()
        return _pillow_samples(ImageOps.exif_transpose(im), file)
    except InvimgError:
        raise
    except Image.DecompressionBombError as exc:
        raise InputImageError(f"refusing input image {shown}: {_reason(exc)}") from exc
    except _DECODE_ERRORS as exc:
        raise InputImageError(
            f"cannot decode input image {shown} (truncated or corrupt?): {_reason(exc)}"
        ) from exc


def _sample_bits(im: Image.Image) -> int:
    """Bits per sample in the file, which Pillow's mode alone does not reveal."""
    if im.format == "TIFF":
        bits = getattr(im, "tag_v2", {}).get(258, 8)
        return max(bits) if isinstance(bits, tuple) else int(bits)
    tiles = getattr(im, "tile", None)  # the PNG rawmode, e.g. "RGB;16B", holds the depth
    if im.format == "PNG" and tiles:
        rawmode = tiles[0].args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    return 8


def _pillow_samples(im: Image.Image, file: Path) -> tuple[np.ndarray, int]:
    """Samples of an already upright Pillow image, in one of the supported layouts."""
    key = im.info.get("transparency")
    if im.mode in _GRAY16_MODES:
        return _with_colour_key(_gray16(im, file)[..., None], key), 16
    if im.mode in _CONVERT_TO:
        im = im.convert(_CONVERT_TO[im.mode])
        key = None  # the conversion to an alpha mode has already applied it
    if im.mode not in _DIRECT_MODES:
        raise InputImageError(
            f"input image {show_path(file)}: pixel mode {im.mode} is not supported"
        )
    samples = np.asarray(im)
    if samples.ndim == 2:
        samples = samples[..., None]
    return _with_colour_key(samples, key), 8


def _gray16(im: Image.Image, file: Path) -> np.ndarray:
    """16-bit grayscale as native uint16; 32-bit ``I`` only when it holds 16-bit data."""
    samples = np.asarray(im)
    if im.mode != "I":
        return samples.astype(np.uint16)
    if samples.size and (samples.min() < 0 or samples.max() > 0xFFFF):
        raise InputImageError(
            f"input image {show_path(file)}: 32-bit integer samples beyond the "
            "16-bit range are not supported"
        )
    return samples.astype(np.uint16)


def _with_colour_key(samples: np.ndarray, key: object) -> np.ndarray:
    """Turn a PNG colour-key (tRNS) into an alpha channel, which NumPy would ignore."""
    channels = samples.shape[2]
    if channels == 1 and isinstance(key, int):
        target: tuple[int, ...] = (key,)
    elif channels == 3 and isinstance(key, tuple) and len(key) == 3:
        target = tuple(int(v) for v in key)
    else:
        return samples
    maxval = np.iinfo(samples.dtype).max
    hit = np.all(samples == np.asarray(target, dtype=samples.dtype), axis=2)
    alpha = np.where(hit, 0, maxval).astype(samples.dtype)
    return np.concatenate([samples, alpha[..., None]], axis=2)


def _import_imagecodecs() -> ModuleType | None:
    """The optional decoder for 16-bit colour; a function so tests can hide it."""
    try:
        import imagecodecs
    except ImportError:
        return None
    return imagecodecs


def _decode_wide(im: Image.Image, file: Path) -> np.ndarray:
    """Decode 48/64-bit colour at full precision, or refuse rather than truncate."""
    shown = show_path(file)
    codecs = _import_imagecodecs()
    if codecs is None:
        raise InputImageError(
            f"input image {shown} has 16-bit colour; reading it at full precision needs "
            "the optional 'imagecodecs' package (pip install imagecodecs), and invimg "
            "will not truncate it to 8 bits"
        )
    data = file.read_bytes()
    try:
        if im.format == "PNG":
            samples = codecs.png_decode(data)
        else:
            samples = _tiff_samples(codecs, data, im, shown)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputImageError(
            f"cannot decode input image {shown} (truncated or corrupt?): {_reason(exc)}"
        ) from exc
    return _orient(_check_layout(samples, im, shown), im.getexif().get(0x0112, 1))


def _stored_size(im: Image.Image) -> tuple[int, int]:
    """Height and width as stored, before orientation (Pillow's TIFF size is upright)."""
    tags = getattr(im, "tag_v2", None)
    if im.format == "TIFF" and tags is not None and 256 in tags and 257 in tags:
        return int(tags[257]), int(tags[256])
    return im.height, im.width


def _tiff_samples(codecs: ModuleType, data: bytes, im: Image.Image, shown: str) -> np.ndarray:
    """First TIFF page as H x W x C, whatever the planar configuration."""
    tags = getattr(im, "tag_v2", {})
    extra = tags.get(338, ())
    if 1 in (extra if isinstance(extra, tuple) else (extra,)):
        raise InputImageError(
            f"input image {shown}: 16-bit TIFF with premultiplied alpha is not supported"
        )
    samples = np.asarray(codecs.tiff_decode(data))
    if tags.get(284, 1) == 2 and samples.ndim == 3:
        samples = np.moveaxis(samples, 0, -1)
    return samples


def _check_layout(samples: np.ndarray, im: Image.Image, shown: str) -> np.ndarray:
    """Insist the decoder agreed with the header, so nothing is silently misread."""
    if samples.ndim == 2:
        samples = samples[..., None]
    ok = (
        samples.dtype == np.uint16
        and samples.shape[:2] == _stored_size(im)
        and samples.shape[2] in (1, 2, 3, 4)
    )
    if not ok:
        height, width = _stored_size(im)
        raise InputImageError(
            f"input image {shown}: decoder returned {samples.dtype} {samples.shape}, "
            f"expected 16-bit samples for {width}x{height} pixels"
        )
    return samples


def _orient(samples: np.ndarray, orientation: object) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to H x W x C samples, as exif_transpose does."""
    transforms = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, k=-1),
        7: lambda a: np.rot90(a, k=2).transpose(1, 0, 2),
        8: lambda a: np.rot90(a, k=1),
    }
    transform = transforms.get(orientation) if isinstance(orientation, int) else None
    return np.ascontiguousarray(transform(samples) if transform else samples)


def _reason(exc: BaseException) -> str:
    """The first line of an exception's text, for one-line messages."""
    text = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first if first.isprintable() else repr(first)
