"""The classical baseline: least-significant-bit (LSB) substitution.

Each 8-bit cover value keeps its ``8 − k`` most significant bits and carries
the secret's ``k`` most significant bits in its low bits (``k = 4`` by
default, the usual baseline in the deep-hiding papers). Revealing shifts them
back up and fills the lost low bits with the middle of their range (adds
``2^(8−k−1)``), which halves the worst-case error compared with zeros.

No learning and no key: anyone who looks at the low bit planes sees the
secret. Several secrets share the ``k`` low bits (``k // S`` bits each, the first
secret in the highest of them). It is here so that every number a hiding network reports stands next
to what four lines of bit arithmetic achieve on the same images: with k = 4
the stego's error is at most 15 levels (PSNR ≈ 30–34 dB), the secret's at
most 8 levels.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _check(image: np.ndarray, name: str) -> None:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise TypeError(f"{name}: LSB works on uint8 arrays")


def _bits_each(bits: int, count: int) -> int:
    if not 1 <= bits <= 7:
        raise ValueError("bits must be in 1..7")
    each = bits // count
    if each < 1:
        raise ValueError(f"{bits} low bits cannot carry {count} secrets")
    return each


def lsb_hide(
    cover: np.ndarray, secrets: np.ndarray | Sequence[np.ndarray], bits: int = 4
) -> np.ndarray:
    """The stego: ``cover``'s high bits, then each secret's top bits; uint8."""
    items = [secrets] if isinstance(secrets, np.ndarray) else list(secrets)
    each = _bits_each(bits, len(items))
    _check(cover, "cover")
    used = each * len(items)
    stego = cover & np.uint8((0xFF << used) & 0xFF)
    for i, secret in enumerate(items):
        _check(secret, f"secret {i + 1}")
        if secret.shape != cover.shape:
            raise ValueError(f"cover {cover.shape} and secret {secret.shape} differ in shape")
        shift = used - each * (i + 1)
        stego |= (secret >> (8 - each)) << shift
    return stego


def lsb_reveal(stego: np.ndarray, count: int = 1, bits: int = 4) -> list[np.ndarray]:
    """The secret estimates: their bits moved back up, the lost bits set mid-range."""
    _check(stego, "stego")
    each = _bits_each(bits, count)
    used = each * count
    mask = np.uint8((1 << each) - 1)
    fill = np.uint8(1 << (7 - each)) if each < 8 else np.uint8(0)
    return [
        (((stego >> (used - each * (i + 1))) & mask) << (8 - each)) | fill for i in range(count)
    ]
