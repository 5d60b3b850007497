"""Write images so that no failure leaves a clobbered or half-written file behind.

Why: invimg's outputs (stego images, rescaled images) are often written next to
the user's only copy of an input. A crash, a full disk or a typo must never
cost the user that input or leave a truncated file that looks like a result.

Rules:

* The suffix picks the format: ``.png`` is an 8-bit RGB PNG whose metadata goes
  into tEXt chunks (iTXt when a value is not latin-1); ``.jpg``/``.jpeg`` is a
  JPEG with ``jpeg_quality`` and 4:2:0 chroma by default (``jpeg_subsampling``):
  the layout cameras, browsers and libjpeg use, and the one the JPEG-aware
  models (compression-aware rescaling, robust hiding) are trained against, so a
  JPEG written here is the JPEG they expect. Its metadata goes into a comment
  segment as JSON. Any other suffix is refused.
* Pixels: float H x W x 3 in [0, 1] (rounded by :func:`quantize_8bit`) or uint8.
* Text (:func:`write_text`, e.g. a JSON report) follows every rule below; only
  the suffix rule is the images' own.
* Atomic: the image is encoded into a hidden temporary file in the target's
  directory, flushed and fsynced, then renamed over the target; on any failure
  the temporary file is removed and the target is untouched.
* No clobbering: an existing file, or any of ``inputs`` (same path after
  resolving symlinks, or the same file via hard link), is only replaced with
  ``force=True``. Without ``force`` the final step is a hard link, which fails
  atomically if a file appeared meanwhile.
* A missing parent directory is an error, never created: a typo in a directory
  name should not silently grow a new tree.
* A symlinked output path is followed: its target is replaced, as shell
  redirection does. A new file gets ``0o666 & ~umask``; a replaced file keeps
  its permissions.

Errors: :class:`~invimg.errors.OutputExistsError` for would-be overwrites, plain
:class:`~invimg.errors.OutputPathError` for unusable output paths and failed
writes; ``ValueError``/``TypeError`` for programming errors (bad pixel arrays,
bad metadata keys).
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
from PIL import Image, PngImagePlugin

from invimg.errors import InputImageError, OutputExistsError, OutputPathError
from invimg.io.arrays import quantize_8bit
from invimg.io.images import (
    _DECODE_ERRORS,
    DEFAULT_MAX_PIXELS,
    PathLike,
    _check_input_file,
    _check_pixel_count,
    _opened,
    _reason,
    show_path,
)

OUTPUT_FORMATS: Final = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
JPEG_METADATA_PREFIX: Final = b"invimg-metadata:"
_MAX_JPEG_COMMENT: Final = 65533


def check_output_path(
    path: PathLike, *, force: bool = False, inputs: Sequence[PathLike] = ()
) -> Path:
    """Validate an output path before any expensive work; return the path to write.

    Called first by commands, so that a bad output path fails in milliseconds
    rather than after a model has run. :func:`write_image` checks again.
    """
    if os.path.isdir(path):  # before the suffix: "out/" has none, but that is not the problem
        raise OutputPathError(
            f"cannot write {show_path(path)}: it is a directory; give a file name such as "
            f"{show_path(os.path.join(path, 'result.png'))}"
        )
    suffix = Path(os.path.realpath(path)).suffix
    if suffix.lower() not in OUTPUT_FORMATS:
        raise OutputPathError(
            f"cannot write {show_path(path)}: unsupported output type {suffix or '(no suffix)'}; "
            "use .png or .jpg"
        )
    return check_output_file(path, force=force, inputs=inputs)


def check_output_file(
    path: PathLike, *, force: bool = False, inputs: Sequence[PathLike] = ()
) -> Path:
    """:func:`check_output_path` for any file (a JSON report, a model card): no suffix rule."""
    shown = show_path(path)
    target = Path(os.path.realpath(path))
    _check_directory(target.parent, shown)
    if not force:
        _check_not_an_input(target, inputs, shown)
    _check_existing(target, force, shown)
    return target


def write_bytes(
    path: PathLike, data: bytes, *, force: bool = False, inputs: Sequence[PathLike] = ()
) -> Path:
    """Write bytes with the same guarantees as :func:`write_image` (atomic, no clobbering)."""
    target = check_output_file(path, force=force, inputs=inputs)
    _atomic_write(target, lambda fh: fh.write(data), force=force, shown=show_path(path))
    return target


def write_text(
    path: PathLike, text: str, *, force: bool = False, inputs: Sequence[PathLike] = ()
) -> Path:
    """Write UTF-8 text with the guarantees of :func:`write_bytes` (e.g. a JSON report)."""
    return write_bytes(path, text.encode("utf-8"), force=force, inputs=inputs)


def write_image(
    path: PathLike,
    pixels: np.ndarray,
    *,
    force: bool = False,
    inputs: Sequence[PathLike] = (),
    metadata: Mapping[str, str] | None = None,
    jpeg_quality: int = 95,
    jpeg_subsampling: str = "4:2:0",
) -> Path:
    """Write pixels atomically as PNG or JPEG (by suffix); return the path written."""
    target = check_output_path(path, force=force, inputs=inputs)
    image = _to_pil(pixels)
    fmt = OUTPUT_FORMATS[target.suffix.lower()]
    if fmt == "PNG":
        options = _png_options(metadata)
    else:
        options = _jpeg_options(metadata, jpeg_quality, jpeg_subsampling)
    _atomic_write(
        target,
        lambda fh: image.save(fh, format=fmt, **options),
        force=force,
        shown=show_path(path),
    )
    return target


def write_png(
    path: PathLike,
    pixels: np.ndarray,
    *,
    force: bool = False,
    inputs: Sequence[PathLike] = (),
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """:func:`write_image` restricted to ``.png``, for results that must be lossless."""
    if Path(path).suffix.lower() != ".png":
        raise OutputPathError(f"cannot write {show_path(path)}: expected a .png file name")
    return write_image(path, pixels, force=force, inputs=inputs, metadata=metadata)


def read_png_metadata(path: PathLike) -> dict[str, str]:
    """Text chunks (tEXt, zTXt, iTXt) of a PNG, e.g. the model and scale that made it."""
    file = _check_input_file(path)
    with _opened(file) as im:
        if not isinstance(im, PngImagePlugin.PngImageFile):
            raise InputImageError(f"{show_path(file)} is a {im.format} file, not a PNG")
        _check_pixel_count(im.size, DEFAULT_MAX_PIXELS, file)
        try:
            text = im.text  # decodes the image, to reach chunks stored after the pixels
        except _DECODE_ERRORS as exc:
            raise InputImageError(
                f"cannot decode input image {show_path(file)} (truncated or corrupt?): "
                f"{_reason(exc)}"
            ) from exc
    return {str(key): str(value) for key, value in text.items()}


def read_metadata(path: PathLike) -> dict[str, str]:
    """Metadata written by :func:`write_image`: PNG text chunks or invimg's JPEG comment."""
    file = _check_input_file(path)
    with _opened(file) as im:
        fmt = im.format
        comment = im.info.get("comment", b"")
    if fmt == "PNG":
        return read_png_metadata(file)
    if fmt in ("JPEG", "MPO") and isinstance(comment, bytes):
        return _parse_jpeg_comment(comment, file)
    return {}


def _parse_jpeg_comment(comment: bytes, file: Path) -> dict[str, str]:
    """Decode invimg's JSON comment; other programs' comments are not metadata."""
    if not comment.startswith(JPEG_METADATA_PREFIX):
        return {}
    try:
        data = json.loads(comment[len(JPEG_METADATA_PREFIX) :].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputImageError(f"{show_path(file)}: malformed invimg metadata: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputImageError(f"{show_path(file)}: malformed invimg metadata")
    return {str(key): value for key, value in data.items()}


def _check_directory(directory: Path, shown: str) -> None:
    """The parent must already exist and accept new files."""
    if not directory.exists():
        raise OutputPathError(
            f"cannot write {shown}: directory {show_path(directory)} does not exist"
        )
    if not directory.is_dir():
        raise OutputPathError(f"cannot write {shown}: {show_path(directory)} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise OutputPathError(
            f"cannot write {shown}: directory {show_path(directory)} is not writable"
        )


def _check_not_an_input(target: Path, inputs: Sequence[PathLike], shown: str) -> None:
    """Never let a typo turn an output into the destruction of an input."""
    for item in inputs:
        if _same_file(target, item):
            raise OutputExistsError(
                f"refusing to overwrite input image {shown} with the output; "
                "choose another output path or pass --force"
            )


def _same_file(target: Path, other: PathLike) -> bool:
    """Same path after resolving, or the same inode (hard links, case-folding file systems)."""
    resolved = os.path.realpath(other)
    if os.path.normcase(resolved) == os.path.normcase(str(target)):
        return True
    try:
        return os.path.samefile(target, resolved)
    except OSError:
        return False


def _check_existing(target: Path, force: bool, shown: str) -> None:
    """An existing regular file needs ``force``; anything else in the way is an error."""
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutputPathError(f"cannot write {shown}: {_reason(exc)}") from exc
    if stat.S_ISDIR(info.st_mode):
        raise OutputPathError(f"cannot write {shown}: a directory is in the way")
    if not stat.S_ISREG(info.st_mode):
        raise OutputPathError(f"cannot write {shown}: it exists and is not a regular file")
    if not force:
        raise OutputExistsError(f"output {shown} already exists; pass --force to overwrite it")


def _to_pil(pixels: np.ndarray) -> Image.Image:
    """Validate and quantize before any file is created, so bad input leaves no trace."""
    if not isinstance(pixels, np.ndarray):
        raise TypeError(f"pixels must be a NumPy array, got {type(pixels).__name__}")
    if pixels.ndim != 3 or pixels.shape[2] != 3 or 0 in pixels.shape:
        raise ValueError(f"pixels must be H x W x 3 with H, W > 0, got shape {pixels.shape}")
    if pixels.dtype == np.uint8:
        data = pixels
    elif np.issubdtype(pixels.dtype, np.floating):
        data = quantize_8bit(pixels)
    else:
        raise TypeError(f"pixels must be float in [0, 1] or uint8, got {pixels.dtype}")
    return Image.fromarray(np.ascontiguousarray(data))


def _checked_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """PNG keywords are 1-79 printable latin-1 characters; values may not hold NUL."""
    checked: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"metadata keys and values must be str, got {key!r}: {value!r}")
        ok_key = 0 < len(key) < 80 and key.isprintable() and key == key.strip()
        if not ok_key or not all(ord(c) < 256 for c in key):
            raise ValueError(f"metadata key {key!r} must be 1-79 printable latin-1 characters")
        if "\0" in value:
            raise ValueError(f"metadata value for {key!r} contains a NUL character")
        checked[key] = value
    return checked


def _png_options(metadata: Mapping[str, str] | None) -> dict[str, Any]:
    """Pillow save options for PNG, carrying metadata as text chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in _checked_metadata(metadata).items():
        info.add_text(key, value)  # falls back to iTXt for non-latin-1 values
    return {"pnginfo": info}


#: Chroma layouts a JPEG may be written with (Pillow's names).
JPEG_SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")


def _jpeg_options(
    metadata: Mapping[str, str] | None, quality: int, subsampling: str = "4:2:0"
) -> dict[str, Any]:
    """Pillow save options for JPEG, carrying metadata as a JSON comment."""
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"jpeg_quality must be an integer from 1 to 100, got {quality!r}")
    if subsampling not in JPEG_SUBSAMPLINGS:
        raise ValueError(
            f"jpeg_subsampling must be one of {JPEG_SUBSAMPLINGS}, got {subsampling!r}"
        )
    options: dict[str, Any] = {"quality": quality, "subsampling": subsampling}
    checked = _checked_metadata(metadata)
    if checked:
        comment = JPEG_METADATA_PREFIX + json.dumps(checked, ensure_ascii=False).encode("utf-8")
        if len(comment) > _MAX_JPEG_COMMENT:
            raise ValueError(
                f"metadata is {len(comment)} bytes; a JPEG comment holds at most 65533"
            )
        options["comment"] = comment
    return options


def _atomic_write(
    target: Path, write: Callable[[BinaryIO], object], *, force: bool, shown: str
) -> None:
    """Write to a temporary sibling, fsync, then move it into place; clean up always."""
    try:
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{target.name[:100]}.", suffix=".partial", dir=target.parent
        )
    except OSError as exc:
        raise OutputPathError(f"cannot write {shown}: {_reason(exc)}") from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temp, _final_mode(target))
        _publish(temp, target, force=force, shown=shown)
    except OSError as exc:
        raise OutputPathError(f"cannot write {shown}: {_reason(exc)}") from exc
    finally:
        with suppress(OSError):
            temp.unlink()  # already gone after a rename; still there after a hard link


def _publish(temp: Path, target: Path, *, force: bool, shown: str) -> None:
    """Put the finished file in place; without ``force``, never over an existing one."""
    if force:
        os.replace(temp, target)
    else:
        try:
            os.link(temp, target)
        except FileExistsError:
            raise OutputExistsError(
                f"output {shown} already exists; pass --force to overwrite it"
            ) from None
        except OSError:  # a file system without hard links: check, then rename
            if target.exists():
                raise OutputExistsError(
                    f"output {shown} already exists; pass --force to overwrite it"
                ) from None
            os.replace(temp, target)
    _fsync_directory(target.parent)


def _final_mode(target: Path) -> int:
    """Keep a replaced file's permissions; give a new one the usual umask-based mode."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; best effort, and POSIX only."""
    if os.name != "posix":
        return
    with suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
