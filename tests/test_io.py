"""Tests for invimg.io: faithful reading, honest conversions, safe atomic writing."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps, JpegImagePlugin

from invimg.errors import InputImageError, InvimgError, OutputExistsError
from invimg.io import (
    DEFAULT_MAX_PIXELS,
    as_image_tensor,
    check_output_path,
    quantize_8bit,
    read_image,
    read_metadata,
    read_png_metadata,
    to_numpy,
    to_tensor,
    write_image,
    write_png,
)
from invimg.io import images as images_module
from invimg.io import writing as writing_module

RNG = np.random.default_rng(1234)


# ---------------------------------------------------------------- helpers


def rgb8(height: int = 12, width: int = 16) -> np.ndarray:
    """Random 8-bit RGB samples."""
    return RNG.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def save(image: Image.Image, path: Path, **options: Any) -> Path:
    """Save with Pillow and return the path, to keep tests short."""
    image.save(path, **options)
    return path


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk with its CRC."""
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png16_bytes(samples: np.ndarray, extra: bytes = b"") -> bytes:
    """A 16-bit PNG written by hand, since Pillow cannot write 48/64-bit PNGs."""
    height, width, channels = samples.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = b"".join(b"\x00" + samples[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + extra
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def declared_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size: the shape of a decompression bomb."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def assert_one_line(exc: BaseException, path: Path | str) -> None:
    """User-facing errors are one line and name the file."""
    message = str(exc)
    assert "\n" not in message and "\r" not in message, message
    assert str(path) in message, message


def listing(directory: Path) -> list[str]:
    """Names in a directory, hidden temporary files included."""
    return sorted(os.listdir(directory))


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize(
    ("suffix", "options"),
    [(".png", {}), (".tif", {}), (".bmp", {}), (".webp", {"lossless": True})],
)
def test_lossless_formats_round_trip_exactly(
    tmp_path: Path, suffix: str, options: dict[str, object]
) -> None:
    samples = rgb8()
    path = save(Image.fromarray(samples), tmp_path / f"img{suffix}", **options)
    loaded = read_image(path)
    assert loaded.pixels.dtype == np.float32
    assert loaded.pixels.shape == (12, 16, 3)
    assert np.array_equal(np.rint(loaded.pixels * 255).astype(np.uint8), samples)
    assert loaded.bit_depth == 8
    assert loaded.source_mode == "RGB"
    assert loaded.notes == ()
    assert loaded.path == path


def test_format_is_reported(tmp_path: Path) -> None:
    for suffix, expected in [(".png", "PNG"), (".tif", "TIFF"), (".bmp", "BMP"), (".jpg", "JPEG")]:
        path = save(Image.fromarray(rgb8()), tmp_path / f"img{suffix}")
        assert read_image(path).format == expected


def test_jpeg_round_trip_is_close(tmp_path: Path) -> None:
    ramp = np.linspace(0, 1, 32, dtype=np.float32)
    pixels = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 0.5 * ramp[None, :]), -1)
    path = write_image(tmp_path / "out.jpg", pixels, jpeg_quality=95)
    loaded = read_image(path)
    assert loaded.format == "JPEG"
    assert np.abs(loaded.pixels - pixels).mean() < 0.01
    assert np.abs(loaded.pixels - pixels).max() < 0.08


@pytest.mark.parametrize(("asked", "pillow_code"), [(None, 2), ("4:4:4", 0), ("4:2:2", 1)])
def test_jpeg_chroma_layout_is_the_one_asked_for(
    tmp_path: Path, asked: str | None, pillow_code: int
) -> None:
    """4:2:0 by default (what the JPEG-aware models train on); others on request."""
    path = tmp_path / "out.jpg"
    options = {} if asked is None else {"jpeg_subsampling": asked}
    write_image(path, rgb8(), **options)
    with Image.open(path) as img:
        assert JpegImagePlugin.get_sampling(img) == pillow_code


def test_unknown_jpeg_subsampling_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="jpeg_subsampling"):
        write_image(tmp_path / "out.jpg", rgb8(), jpeg_subsampling="4:1:1")
    assert listing(tmp_path) == []


def test_write_png_then_read_is_exact_8bit_quantization(tmp_path: Path) -> None:
    pixels = RNG.random((9, 7, 3), dtype=np.float32)
    path = write_png(tmp_path / "out.png", pixels)
    loaded = read_image(path)
    assert np.array_equal(np.rint(loaded.pixels * 255).astype(np.uint8), quantize_8bit(pixels))


def test_loaded_pixels_are_read_only_and_tensor_is_a_copy(tmp_path: Path) -> None:
    path = save(Image.fromarray(rgb8()), tmp_path / "a.png")
    loaded = read_image(path)
    with pytest.raises(ValueError):
        loaded.pixels[0, 0, 0] = 0.5
    tensor = to_tensor(loaded.pixels)
    tensor.zero_()
    assert loaded.pixels.max() > 0


# ---------------------------------------------------------------- 16-bit


def ramp16() -> np.ndarray:
    """Values one 1/65535 step apart, at the bottom, middle and top of the range."""
    values = np.array([0, 1, 2, 3, 32767, 32768, 32769, 65533, 65534, 65535], dtype=np.uint16)
    return np.tile(values, (3, 1))


def assert_exact16(pixels: np.ndarray, samples: np.ndarray) -> None:
    """Every 16-bit level survives the float conversion."""
    assert np.array_equal(np.rint(pixels.astype(np.float64) * 65535).astype(np.uint16), samples)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_grayscale_keeps_full_precision(tmp_path: Path, suffix: str) -> None:
    samples = ramp16()
    path = save(Image.fromarray(samples), tmp_path / f"gray16{suffix}")
    loaded = read_image(path)
    assert loaded.bit_depth == 16
    assert loaded.source_mode.startswith("I")
    for channel in range(3):
        assert_exact16(loaded.pixels[..., channel], samples)
    assert any("grayscale" in note for note in loaded.notes)


def test_16bit_colour_png_keeps_full_precision(tmp_path: Path) -> None:
    pytest.importorskip("imagecodecs")
    samples = np.stack([ramp16(), ramp16()[:, ::-1], ramp16() // 3], -1)
    path = tmp_path / "rgb48.png"
    path.write_bytes(png16_bytes(samples))
    loaded = read_image(path)
    assert loaded.bit_depth == 16
    assert loaded.notes == ()
    assert_exact16(loaded.pixels, samples)


@pytest.mark.parametrize("planar", ["contig", "separate"])
def test_16bit_colour_tiff_keeps_full_precision(tmp_path: Path, planar: str) -> None:
    pytest.importorskip("imagecodecs")
    tifffile = pytest.importorskip("tifffile")
    samples = np.stack([ramp16(), ramp16()[:, ::-1], ramp16() // 3], -1)
    data = samples if planar == "contig" else np.ascontiguousarray(samples.transpose(2, 0, 1))
    path = tmp_path / "rgb48.tif"
    tifffile.imwrite(path, data, photometric="rgb", planarconfig=planar)
    loaded = read_image(path)
    assert loaded.bit_depth == 16
    assert_exact16(loaded.pixels, samples)


def test_16bit_colour_png_with_alpha_is_composited(tmp_path: Path) -> None:
    pytest.importorskip("imagecodecs")
    samples = np.zeros((2, 2, 4), dtype=np.uint16)
    samples[..., 3] = 65535
    samples[0, 0, 3] = 0  # a fully transparent black pixel
    path = tmp_path / "rgba64.png"
    path.write_bytes(png16_bytes(samples))
    loaded = read_image(path)
    assert loaded.bit_depth == 16
    assert np.allclose(loaded.pixels[0, 0], 1.0)
    assert np.allclose(loaded.pixels[1, 1], 0.0)
    assert any("white" in note for note in loaded.notes)


def test_16bit_colour_without_imagecodecs_is_refused_not_truncated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images_module, "_import_imagecodecs", lambda: None)
    samples = np.full((2, 3, 3), 1001, dtype=np.uint16)
    path = tmp_path / "rgb48.png"
    path.write_bytes(png16_bytes(samples))
    with pytest.raises(InputImageError) as info:
        read_image(path)
    assert "imagecodecs" in str(info.value)
    assert_one_line(info.value, path)


def test_8bit_colour_is_not_sent_to_the_16bit_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images_module, "_import_imagecodecs", lambda: None)
    path = save(Image.fromarray(rgb8()), tmp_path / "a.png")
    assert read_image(path).bit_depth == 8


# ---------------------------------------------------------------- conversions


def test_grayscale_is_replicated_with_a_note(tmp_path: Path) -> None:
    samples = RNG.integers(0, 256, size=(5, 6), dtype=np.uint8)
    loaded = read_image(save(Image.fromarray(samples), tmp_path / "gray.png"))
    assert loaded.source_mode == "L"
    for channel in range(3):
        assert np.array_equal(np.rint(loaded.pixels[..., channel] * 255), samples)
    assert loaded.notes == ("grayscale image replicated to 3 RGB channels",)


def test_one_bit_image_reads_as_black_and_white(tmp_path: Path) -> None:
    image = Image.new("1", (4, 2), 0)
    image.putpixel((1, 0), 1)
    loaded = read_image(save(image, tmp_path / "bw.png"))
    assert loaded.source_mode == "1"
    assert loaded.pixels[0, 1].tolist() == [1.0, 1.0, 1.0]
    assert loaded.pixels[0, 0].tolist() == [0.0, 0.0, 0.0]


def test_palette_is_expanded_with_a_note(tmp_path: Path) -> None:
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 759)
    image.putdata([0, 1, 2])
    loaded = read_image(save(image, tmp_path / "pal.png"))
    assert loaded.source_mode == "P"
    assert np.array_equal(loaded.pixels[0], np.eye(3, dtype=np.float32))
    assert any("palette" in note for note in loaded.notes)
    assert not any("white" in note for note in loaded.notes)


def test_palette_transparency_is_composited_over_white(tmp_path: Path) -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putdata([0, 1])
    loaded = read_image(save(image, tmp_path / "pal.png", transparency=0))
    assert loaded.pixels[0, 0].tolist() == [1.0, 1.0, 1.0]
    assert loaded.pixels[0, 1].tolist() == [1.0, 0.0, 0.0]
    assert any("1 of 2 pixels" in note and "white" in note for note in loaded.notes)


def test_opaque_alpha_is_dropped_silently(tmp_path: Path) -> None:
    samples = rgb8()
    rgba = np.concatenate([samples, np.full((12, 16, 1), 255, np.uint8)], -1)
    loaded = read_image(save(Image.fromarray(rgba), tmp_path / "rgba.png"))
    assert loaded.source_mode == "RGBA"
    assert loaded.notes == ()
    assert np.array_equal(np.rint(loaded.pixels * 255).astype(np.uint8), samples)


def test_transparency_is_composited_over_white_with_a_note(tmp_path: Path) -> None:
    rgba = np.zeros((1, 3, 4), np.uint8)  # black pixels
    rgba[0, :, 3] = [0, 128, 255]  # transparent, half, opaque
    loaded = read_image(save(Image.fromarray(rgba), tmp_path / "rgba.png"))
    assert loaded.pixels[0, 0].tolist() == [1.0, 1.0, 1.0]
    assert np.allclose(loaded.pixels[0, 1], 1 - 128 / 255)
    assert loaded.pixels[0, 2].tolist() == [0.0, 0.0, 0.0]
    assert loaded.notes == ("2 of 3 pixels are transparent or translucent; composited over white",)


def test_gray_alpha_is_composited_then_replicated(tmp_path: Path) -> None:
    la = np.array([[[0, 0], [0, 255]]], np.uint8)
    loaded = read_image(save(Image.fromarray(la, mode="LA"), tmp_path / "la.png"))
    assert loaded.pixels[0, 0].tolist() == [1.0, 1.0, 1.0]
    assert loaded.pixels[0, 1].tolist() == [0.0, 0.0, 0.0]
    assert len(loaded.notes) == 2


def test_png_colour_key_transparency_is_honoured(tmp_path: Path) -> None:
    samples = np.array([[[10, 20, 30], [40, 50, 60]]], np.uint8)
    path = save(Image.fromarray(samples), tmp_path / "key.png", transparency=(10, 20, 30))
    loaded = read_image(path)
    assert loaded.pixels[0, 0].tolist() == [1.0, 1.0, 1.0]
    assert np.array_equal(np.rint(loaded.pixels[0, 1] * 255), [40, 50, 60])


def test_cmyk_jpeg_is_converted_with_a_note(tmp_path: Path) -> None:
    image = Image.new("CMYK", (8, 8), (0, 255, 255, 0))  # pure red in CMYK
    loaded = read_image(save(image, tmp_path / "cmyk.jpg", quality=95))
    assert loaded.source_mode == "CMYK"
    red, green, blue = loaded.pixels.mean(axis=(0, 1))
    assert red > 0.9 and green < 0.1 and blue < 0.1
    assert any("CMYK" in note for note in loaded.notes)


def test_multi_page_tiff_uses_first_page_with_a_note(tmp_path: Path) -> None:
    first, second = Image.new("RGB", (4, 4), (255, 0, 0)), Image.new("RGB", (4, 4), (0, 0, 255))
    path = tmp_path / "pages.tif"
    first.save(path, save_all=True, append_images=[second])
    loaded = read_image(path)
    assert loaded.pixels[0, 0].tolist() == [1.0, 0.0, 0.0]
    assert any("2 frames" in note for note in loaded.notes)


# ---------------------------------------------------------------- orientation


def halves_jpeg(path: Path, orientation: int) -> Path:
    """A 32x16 JPEG, red left half and blue right half, with an EXIF orientation."""
    samples = np.zeros((16, 32, 3), np.uint8)
    samples[:, :16, 0] = 255
    samples[:, 16:, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    return save(Image.fromarray(samples), path, exif=exif, quality=95)


def test_exif_orientation_6_rotates_clockwise(tmp_path: Path) -> None:
    loaded = read_image(halves_jpeg(tmp_path / "o6.jpg", 6))
    assert loaded.pixels.shape == (32, 16, 3)
    assert loaded.pixels[4, 8, 0] > 0.9  # the left (red) half is now on top
    assert loaded.pixels[28, 8, 2] > 0.9
    assert loaded.notes == ()


def test_exif_orientation_8_rotates_counter_clockwise(tmp_path: Path) -> None:
    loaded = read_image(halves_jpeg(tmp_path / "o8.jpg", 8))
    assert loaded.pixels.shape == (32, 16, 3)
    assert loaded.pixels[4, 8, 2] > 0.9  # the right (blue) half is now on top
    assert loaded.pixels[28, 8, 0] > 0.9


@pytest.mark.parametrize("orientation", range(1, 9))
def test_numpy_orientation_matches_pillow(orientation: int) -> None:
    samples = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    image = Image.fromarray(samples)
    image.getexif()[0x0112] = orientation
    expected = np.asarray(ImageOps.exif_transpose(image))
    assert np.array_equal(images_module._orient(samples, orientation), expected)


def test_16bit_tiff_orientation_is_honoured(tmp_path: Path) -> None:
    pytest.importorskip("imagecodecs")
    tifffile = pytest.importorskip("tifffile")
    samples = (np.arange(2 * 3 * 3).reshape(2, 3, 3) * 1000 + 1).astype(np.uint16)
    path = tmp_path / "o6.tif"
    tifffile.imwrite(path, samples, photometric="rgb", extratags=[(274, "H", 1, 6, True)])
    loaded = read_image(path)
    assert loaded.pixels.shape == (3, 2, 3)
    assert_exact16(loaded.pixels, np.rot90(samples, k=-1))


# ---------------------------------------------------------------- refusals


def test_declared_huge_png_is_refused_from_the_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(declared_png(10_000, 10_000))  # 100 Mpx, above the default limit
    assert path.stat().st_size < 200
    with pytest.raises(InputImageError) as info:
        read_image(path)
    assert "exceeds the limit" in str(info.value)
    assert_one_line(info.value, path)


def test_pillow_bomb_error_is_mapped(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(declared_png(30_000, 30_000))  # beyond Pillow's own hard limit
    with pytest.raises(InputImageError) as info:
        read_image(path, max_pixels=None)
    assert_one_line(info.value, path)


def test_max_pixels_limits_real_images(tmp_path: Path) -> None:
    path = save(Image.fromarray(rgb8(10, 10)), tmp_path / "a.png")
    with pytest.raises(InputImageError) as info:
        read_image(path, max_pixels=99)
    assert_one_line(info.value, path)
    assert read_image(path, max_pixels=100).pixels.shape == (10, 10, 3)
    assert read_image(path, max_pixels=None).pixels.shape == (10, 10, 3)
    assert DEFAULT_MAX_PIXELS >= 8192 * 8192


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_truncated_files_are_refused(tmp_path: Path, suffix: str) -> None:
    noise = RNG.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    path = save(Image.fromarray(noise), tmp_path / f"full{suffix}")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputImageError) as info:
        read_image(path)
    assert_one_line(info.value, path)


def test_corrupt_png_data_is_refused(tmp_path: Path) -> None:
    noise = RNG.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
    path = save(Image.fromarray(noise), tmp_path / "bad.png")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(16)
    path.write_bytes(bytes(data))
    with pytest.raises(InputImageError) as info:
        read_image(path)
    assert_one_line(info.value, path)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.png", b"", "empty"),
        ("notes.png", b"just some text, not an image\n", "not a recognised image"),
        ("anim.gif", None, "GIF"),
        ("doc.pdf", b"%PDF-1.7\n%...\n", "PDF"),
    ],
)
def test_non_images_are_refused(
    tmp_path: Path, name: str, content: bytes | None, expected: str
) -> None:
    path = tmp_path / name
    if content is None:
        Image.new("P", (4, 4)).save(path)
    else:
        path.write_bytes(content)
    with pytest.raises(InputImageError) as info:
        read_image(path)
    assert expected in str(info.value)
    assert_one_line(info.value, path)


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    for path, expected in [(tmp_path / "nope.png", "does not exist"), (tmp_path, "directory")]:
        with pytest.raises(InputImageError) as info:
            read_image(path)
        assert expected in str(info.value)
        assert_one_line(info.value, path)


def test_float_tiff_is_refused(tmp_path: Path) -> None:
    path = save(Image.fromarray(np.zeros((2, 2), np.float32)), tmp_path / "f.tif")
    with pytest.raises(InputImageError) as info:
        read_image(path)
    assert_one_line(info.value, path)


def test_control_characters_in_names_stay_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "two\nlines.png"
    with pytest.raises(InputImageError) as info:
        read_image(path)
    assert "\n" not in str(info.value)
    assert "two\\nlines.png" in str(info.value)


# ---------------------------------------------------------------- tensors


def test_to_tensor_and_back() -> None:
    pixels = RNG.random((5, 7, 3)).astype(np.float64)
    tensor = to_tensor(pixels)
    assert tensor.shape == (1, 3, 5, 7) and tensor.dtype == torch.float32
    assert torch.equal(tensor[0, 1], torch.from_numpy(pixels[..., 1].astype(np.float32)))
    back = to_numpy(tensor)
    assert back.shape == (5, 7, 3) and back.dtype == np.float32
    assert np.array_equal(back, pixels.astype(np.float32))
    assert np.array_equal(to_numpy(tensor[0]), back)


def test_to_numpy_detaches_and_does_not_clip() -> None:
    tensor = torch.full((1, 3, 2, 2), 1.5, requires_grad=True)
    assert to_numpy(tensor).max() == pytest.approx(1.5)


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((4, 4, 4)), np.zeros((3, 4, 4))])
def test_to_tensor_rejects_wrong_shapes(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        to_tensor(bad)


def test_to_tensor_rejects_integer_pixels() -> None:
    with pytest.raises(TypeError):
        to_tensor(np.zeros((2, 2, 3), np.uint8))


@pytest.mark.parametrize("shape", [(2, 3, 4, 4), (1, 4, 4, 4), (4, 4)])
def test_to_numpy_rejects_wrong_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        to_numpy(torch.zeros(shape))


def test_quantize_8bit_clips_and_rounds() -> None:
    values = np.array([-0.5, 0.0, 0.4 / 255, 0.6 / 255, 0.5, 254.5 / 255, 1.0, 7.0])
    assert quantize_8bit(values).tolist() == [0, 0, 0, 1, 128, 254, 255, 255]
    assert quantize_8bit(values).dtype == np.uint8
    assert quantize_8bit(torch.tensor([0.5, 1.0])).tolist() == [128, 255]


def test_quantize_8bit_refuses_nan() -> None:
    with pytest.raises(ValueError):
        quantize_8bit(np.array([0.5, np.nan]))


# ---------------------------------------------------------------- task inputs


def test_input_types_give_the_same_image(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    ref = as_image_tensor(rgb)
    assert ref.shape == (1, 3, 5, 7) and ref.dtype == torch.float32
    for other in (
        save(Image.fromarray(rgb), tmp_path / "rgb.png"),
        str(tmp_path / "rgb.png"),
        Image.fromarray(rgb),
        Image.fromarray(rgb).convert("RGBA"),
        rgb.astype(np.float32) / 255,
        rgb.astype(np.float64) / 255,
        rgb.astype(np.uint16) * 257,
        (rgb.astype(np.uint16) * 257).astype(">u2"),  # big-endian
        np.ascontiguousarray(rgb[::-1])[::-1],  # negative strides
        torch.from_numpy(rgb).permute(2, 0, 1),
        torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255,
        torch.from_numpy(rgb).permute(2, 0, 1).double() / 255,
    ):
        assert torch.allclose(as_image_tensor(other), ref, atol=1e-6), type(other)


def test_grey_inputs_are_replicated_or_kept() -> None:
    grey = np.random.default_rng(1).integers(0, 256, (5, 7), dtype=np.uint8)
    ref = torch.from_numpy(grey).float()[None, None] / 255
    for other in (
        grey,
        grey[..., None],
        Image.fromarray(grey),
        torch.from_numpy(grey),
        torch.from_numpy(grey)[None],
        torch.from_numpy(grey)[None, None],
        np.repeat(grey[..., None], 3, axis=2),
    ):
        rgb = as_image_tensor(other)
        assert rgb.shape == (1, 3, 5, 7) and torch.equal(rgb, ref.expand(1, 3, 5, 7)), type(other)
        assert torch.equal(as_image_tensor(other, grey=True), ref), type(other)


def test_colour_as_grey_is_its_luma_with_a_warning() -> None:
    rgb = np.zeros((2, 2, 3), np.float32)
    rgb[..., 0] = 1.0
    with pytest.warns(UserWarning, match=r"^lr: .*BT\.601 luma"):
        grey = as_image_tensor(rgb, "lr", grey=True)
    assert grey.shape == (1, 1, 2, 2) and torch.allclose(grey, torch.full_like(grey, 0.299))


def test_sixteen_bit_pil_images_keep_their_precision() -> None:
    samples = np.array([[0, 257, 65535]], dtype=np.uint16)
    for image in (Image.fromarray(samples), Image.fromarray(samples.astype(np.int32))):
        t = as_image_tensor(image)
        assert t[0, 0, 0].tolist() == pytest.approx([0.0, 257 / 65535, 1.0])
    with pytest.raises(InputImageError, match="beyond 16 bits"):
        as_image_tensor(Image.fromarray(np.array([[70000]], dtype=np.int32)))


def test_result_is_a_fresh_contiguous_copy() -> None:
    pixels = np.full((3, 4, 3), 0.5, np.float32)
    pixels.flags.writeable = False  # as read_image returns them: must not warn or alias
    t = as_image_tensor(pixels)
    source = torch.full((1, 3, 3, 4), 0.5)
    u = as_image_tensor(source)
    t += 1
    u += 1
    assert pixels.max() == 0.5 and source.max() == 0.5 and t.is_contiguous()


def test_rounding_noise_outside_the_range_is_clamped() -> None:
    t = as_image_tensor(np.array([[-5e-4, 1 + 5e-4]], np.float32))
    assert t[0, 0, 0].tolist() == [0.0, 1.0]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ([[1, 2]], "got list"),
        (np.full((4, 4, 3), 2.0), r"\[0, 1\], got \[2, 2\]"),
        (np.full((4, 4, 3), -0.5, np.float32), r"\[0, 1\]"),
        (np.full((4, 4, 3), np.nan, np.float32), "NaN"),
        (torch.full((3, 4, 4), float("inf")), "NaN or infinite"),
        (np.zeros((4, 4, 5), np.uint8), "H×W×3"),
        (np.zeros((4, 4, 2), np.uint8), "H×W×3"),
        (np.zeros((1, 4, 4, 3), np.uint8), "got shape"),
        (np.zeros(4, np.uint8), "got shape"),
        (np.zeros((0, 4), np.uint8), "empty"),
        (np.zeros((4, 4, 3), np.int64), "unsupported pixel type int64"),
        (np.zeros((4, 4, 3), np.uint32), "unsupported pixel type uint32"),
        (np.zeros((4, 4, 3), bool), "unsupported pixel type bool"),
        (torch.zeros(2, 3, 4, 4), "tensor"),
        (torch.zeros(4, 4, 3), "tensor"),
        (torch.zeros(1, 3, 4, 4, 1), "tensor"),
        (torch.zeros(3, 4, 4, dtype=torch.int32), "unsupported tensor dtype"),
        (Image.fromarray(np.full((2, 2), 2.0, np.float32)), r"\[0, 1\]"),
    ],
)
def test_bad_inputs_raise_one_line_naming_the_argument(bad: Any, message: str) -> None:
    with pytest.raises(InputImageError, match=message) as info:
        as_image_tensor(bad, "cover")
    text = str(info.value)
    assert text.startswith("cover: ") and "\n" not in text


def test_missing_path_is_an_input_image_error(tmp_path: Path) -> None:
    with pytest.raises(InputImageError, match=r"^cover: .*missing\.png"):
        as_image_tensor(tmp_path / "missing.png", "cover")


# ---------------------------------------------------------------- writing


def test_existing_output_is_refused_and_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"precious")
    for call in (
        lambda: check_output_path(path),
        lambda: write_image(path, np.zeros((2, 2, 3), np.float32)),
    ):
        with pytest.raises(OutputExistsError) as info:
            call()
        assert "--force" in str(info.value)
        assert_one_line(info.value, path)
    assert path.read_bytes() == b"precious"
    assert listing(tmp_path) == ["out.png"]


def test_force_overwrites_and_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    path.chmod(0o640)
    written = write_image(path, np.ones((2, 2, 3), np.float32), force=True)
    assert written == path.resolve()
    assert read_image(path).pixels.min() == 1.0
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert listing(tmp_path) == ["out.png"]


def test_new_file_gets_umask_permissions(tmp_path: Path) -> None:
    mask = os.umask(0o027)
    try:
        path = write_image(tmp_path / "new.png", np.zeros((1, 1, 3), np.float32))
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_output_equal_to_an_input_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = save(Image.fromarray(rgb8()), tmp_path / "in.png")
    before = source.read_bytes()
    monkeypatch.chdir(tmp_path)
    hard_link = tmp_path / "hard.png"
    os.link(source, hard_link)
    symlink = tmp_path / "soft.png"
    symlink.symlink_to(source)
    outputs: list[str | Path] = ["in.png", f"{tmp_path}/./in.png", hard_link, symlink]
    for output in outputs:
        with pytest.raises(OutputExistsError) as info:
            write_image(output, np.zeros((2, 2, 3), np.float32), inputs=[source], force=False)
        assert "input" in str(info.value) and "--force" in str(info.value)
        assert_one_line(info.value, output)
    assert source.read_bytes() == before


def test_force_may_overwrite_an_input(tmp_path: Path) -> None:
    source = save(Image.fromarray(rgb8()), tmp_path / "in.png")
    write_image(source, np.zeros((2, 2, 3), np.float32), inputs=[source], force=True)
    assert read_image(source).pixels.shape == (2, 2, 3)


def test_symlinked_output_replaces_its_target(tmp_path: Path) -> None:
    target = tmp_path / "real.png"
    target.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    write_image(link, np.zeros((2, 2, 3), np.float32), force=True)
    assert link.is_symlink()
    assert read_image(target).pixels.shape == (2, 2, 3)


def test_bad_pixels_leave_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_image(tmp_path / "out.png", np.zeros((4, 4, 4), np.float32))
    with pytest.raises(TypeError):
        write_image(tmp_path / "out.png", np.zeros((4, 4, 3), np.int32))
    assert listing(tmp_path) == []


def test_directory_in_the_way_is_refused_even_with_force(tmp_path: Path) -> None:
    (tmp_path / "out.png").mkdir()
    with pytest.raises(InvimgError) as info:
        write_image(tmp_path / "out.png", np.zeros((2, 2, 3), np.float32), force=True)
    assert_one_line(info.value, tmp_path / "out.png")
    assert listing(tmp_path) == ["out.png"]
    assert listing(tmp_path / "out.png") == []


def test_failure_while_encoding_leaves_no_temp_and_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")

    def broken_save(self: Image.Image, fp: BinaryIO, *args: object, **kwargs: object) -> None:
        fp.write(b"partial data")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    for name in ("out.png", "new.png"):
        with pytest.raises(InvimgError) as info:
            write_image(tmp_path / name, np.zeros((2, 2, 3), np.float32), force=True)
        assert "No space left" in str(info.value)
        assert_one_line(info.value, tmp_path / name)
    assert path.read_bytes() == b"old"
    assert listing(tmp_path) == ["out.png"]


def test_file_appearing_before_publish_is_not_clobbered(tmp_path: Path) -> None:
    temp, target = tmp_path / ".tmp", tmp_path / "out.png"
    temp.write_bytes(b"new")
    target.write_bytes(b"raced")
    with pytest.raises(OutputExistsError):
        writing_module._publish(temp, target, force=False, shown=str(target))
    assert target.read_bytes() == b"raced"


@pytest.mark.parametrize("name", ["missing/out.png", "out.gif", "out", "out.tif"])
def test_unusable_output_paths_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(InvimgError) as info:
        check_output_path(path)
    assert_one_line(info.value, path)
    assert not isinstance(info.value, OutputExistsError)
    assert listing(tmp_path) == []


def test_check_output_path_creates_nothing(tmp_path: Path) -> None:
    result = check_output_path(tmp_path / "ok.PNG", inputs=[tmp_path / "in.png"])
    assert result == (tmp_path / "ok.PNG").resolve()
    assert listing(tmp_path) == []


def test_write_png_requires_png_suffix(tmp_path: Path) -> None:
    with pytest.raises(InvimgError) as info:
        write_png(tmp_path / "out.jpg", np.zeros((2, 2, 3), np.float32))
    assert_one_line(info.value, tmp_path / "out.jpg")


def test_uint8_pixels_are_written_unchanged(tmp_path: Path) -> None:
    samples = rgb8()
    path = write_image(tmp_path / "out.png", samples)
    assert np.array_equal(np.asarray(Image.open(path)), samples)


# ---------------------------------------------------------------- metadata


def test_png_metadata_round_trip(tmp_path: Path) -> None:
    metadata = {"invimg:model": "hinet-div2k", "invimg:scale": "4", "Comment": "café ✓ 日本"}
    path = write_png(tmp_path / "out.png", np.zeros((2, 2, 3), np.float32), metadata=metadata)
    assert read_png_metadata(path) == metadata
    assert read_metadata(path) == metadata


def test_jpeg_metadata_round_trip(tmp_path: Path) -> None:
    metadata = {"invimg:model": "irn-x4", "note": "ünïcode"}
    path = write_image(tmp_path / "out.jpg", np.zeros((8, 8, 3), np.float32), metadata=metadata)
    assert read_metadata(path) == metadata
    with pytest.raises(InputImageError) as info:
        read_png_metadata(path)
    assert_one_line(info.value, path)


def test_images_without_metadata_give_empty_dicts(tmp_path: Path) -> None:
    png = save(Image.fromarray(rgb8()), tmp_path / "a.png")
    jpg = save(Image.fromarray(rgb8()), tmp_path / "a.jpg", comment=b"from a camera")
    assert read_png_metadata(png) == {}
    assert read_metadata(jpg) == {}


@pytest.mark.parametrize("key", ["", " padded", "x" * 80, "new\nline", "日本"])
def test_bad_metadata_keys_are_rejected_before_writing(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        write_png(tmp_path / "out.png", np.zeros((2, 2, 3), np.float32), metadata={key: "v"})
    assert listing(tmp_path) == []


@pytest.mark.parametrize("quality", [0, 101, True])
def test_bad_jpeg_quality_is_rejected(tmp_path: Path, quality: int) -> None:
    with pytest.raises(ValueError):
        write_image(tmp_path / "out.jpg", np.zeros((2, 2, 3), np.float32), jpeg_quality=quality)
    assert listing(tmp_path) == []
