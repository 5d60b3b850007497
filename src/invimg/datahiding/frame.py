"""The frame: packed payload ↔ the signs of every latent value of one image.

Layout over the ``n`` latent values of an image (positions shuffled by a
public permutation, so a damaged region costs a few bits of many codewords
instead of whole codewords)::

    header: 36 bytes = fields (28) ‖ HMAC tag (8); Reed–Solomon 28 parity bytes;
            × 8 copies; whitened with the password's header keystream  → 4096 values
    body:   ChaCha20-Poly1305(packed payload, associated data = header fields);
            Reed–Solomon + repetition as chosen by ecc.plan_code;
            whitened with the message's body keystream
    rest:   random signs

    fields = version (1) ‖ message salt (16) ‖ repeat (1) ‖ codeword length (1)
             ‖ data bytes per codeword (1) ‖ codewords (4) ‖ ciphertext length (4)

Every sign is a keystream-whitened bit, so all ``n`` signs are uniform and
independent to anyone without the password, and the latent drawn from them
(magnitudes from the half-normal) is exactly N(0, I). The price of storing
nothing in the clear: a wrong password and "no payload here" look the same.
"""

from __future__ import annotations

import functools
import hashlib
import os
import struct
from dataclasses import dataclass

import numpy as np

from ..errors import PayloadError
from . import ecc
from .crypto import (
    MAC_BYTES,
    TAG_BYTES,
    AuthenticationError,
    keystream_bits,
    keystream_bytes,
    mac,
    mac_matches,
    master_key,
    seal,
    subkey,
    unseal,
)

VERSION = 1
_FIELDS = struct.Struct(">B16sBBBII")
HEADER_BYTES = _FIELDS.size + MAC_BYTES
HEADER_PARITY = 28
HEADER_REPEAT = 8
HEADER_CODE = ecc.Code(HEADER_REPEAT, HEADER_BYTES + HEADER_PARITY, HEADER_BYTES, 1)
HEADER_SLOTS = HEADER_CODE.slots


@functools.lru_cache(maxsize=2)
def positions(n: int) -> np.ndarray:
    """The public shuffle of the ``n`` latent positions (same for every image of that size).

    Sorting ChaCha20 output rather than drawing from NumPy's generator keeps
    the format independent of NumPy versions (NumPy does not promise stable
    streams for ``Generator``); ties are broken by the stable sort.
    """
    key = hashlib.sha256(f"invimg/steg-cinn/positions/{n}".encode()).digest()
    keys = np.frombuffer(keystream_bytes(key, 8 * n), dtype="<u8")
    order = np.argsort(keys, kind="stable")
    order.setflags(write=False)  # cached: shared by every caller
    return order


def capacity(n: int) -> int:
    """Bytes of packed payload that fit in ``n`` latent values (after encryption and codes)."""
    return max(0, ecc.max_data_bytes(n - HEADER_SLOTS) - TAG_BYTES)


@dataclass(frozen=True)
class Frame:
    """Target signs of all latent values, and what a reader must get back to succeed."""

    signs: np.ndarray
    code: ecc.Code
    coded: tuple[bytes, bytes]
    streams: tuple[np.ndarray, np.ndarray]

    def margins(self, values: np.ndarray) -> np.ndarray:
        """Per codeword (header first): how many more wrong bytes it could correct.

        All >= 0 guarantees that :func:`read` recovers the payload from
        ``values``; it is checked with NumPy alone, no decoding needed.
        """
        perm = positions(len(values))
        out = []
        for part, code, coded, stream in zip(
            _parts(perm, self.code), (HEADER_CODE, self.code), self.coded, self.streams
        ):
            got = _hard_bytes(values[part], stream, code.repeat)
            wrong = (got != np.frombuffer(coded, np.uint8)).reshape(code.codewords, code.length)
            out.append(code.parity // 2 - wrong.sum(axis=1))
        return np.concatenate(out)


def _parts(perm: np.ndarray, code: ecc.Code) -> tuple[np.ndarray, np.ndarray]:
    return perm[:HEADER_SLOTS], perm[HEADER_SLOTS : HEADER_SLOTS + code.slots]


def _whiten(bits: np.ndarray, stream: np.ndarray) -> np.ndarray:
    return (1 - 2 * (bits ^ stream)).astype(np.int8)


def _hard_bytes(values: np.ndarray, stream: np.ndarray, repeat: int) -> np.ndarray:
    unwhitened = values * (1 - 2 * stream.astype(np.float32))
    return np.packbits(ecc.hard_bits(ecc.combine_soft(unwhitened, repeat)))


def _coded_signs(coded: bytes, repeat: int, stream: np.ndarray) -> np.ndarray:
    bits = ecc.repeat_bits(np.unpackbits(np.frombuffer(coded, np.uint8)), repeat)
    return _whiten(bits, stream)


def build(
    packed: bytes,
    password: str | None,
    n: int,
    rng: np.random.Generator,
    salt: bytes | None = None,
) -> Frame:
    """The frame of ``packed`` (see :mod:`.payload`) for an image with ``n`` latent values.

    ``salt`` (16 bytes) is fresh from the OS unless given (tests, reproducible runs).
    """
    code = ecc.plan_code(len(packed) + TAG_BYTES, n - HEADER_SLOTS)
    master = master_key(password)
    salt = os.urandom(16) if salt is None else salt
    fields = _FIELDS.pack(
        VERSION, salt, code.repeat, code.length, code.data, code.codewords, len(packed) + TAG_BYTES
    )
    header = fields + mac(subkey(master, "header-mac"), fields)
    aead_key, body_stream_key = _body_keys(master, salt)
    body = seal(aead_key, packed, fields)
    coded = (ecc.rs_encode(header, HEADER_CODE), ecc.rs_encode(body, code))
    streams = (
        keystream_bits(subkey(master, "header-stream"), HEADER_SLOTS),
        keystream_bits(body_stream_key, code.slots),
    )
    signs = (1 - 2 * rng.integers(0, 2, n)).astype(np.int8)
    perm = positions(n)
    for part, c, data, stream in zip(_parts(perm, code), (HEADER_CODE, code), coded, streams):
        signs[part] = _coded_signs(data, c.repeat, stream)
    return Frame(signs, code, coded, streams)


def _body_keys(master: bytes, salt: bytes) -> tuple[bytes, bytes]:
    both = subkey(master, "body", salt=salt, length=64)
    return both[:32], both[32:]


def read(values: np.ndarray, password: str | None) -> bytes:
    """The packed payload hidden in the latent ``values`` (as read back from a stego)."""
    n = len(values)
    if n < HEADER_SLOTS:
        raise PayloadError(f"the image is too small to hold a payload ({n} latent values)")
    master = master_key(password)
    perm = positions(n)
    header_stream = keystream_bits(subkey(master, "header-stream"), HEADER_SLOTS)
    coded = _hard_bytes(values[perm[:HEADER_SLOTS]], header_stream, HEADER_REPEAT).tobytes()
    try:
        header, _ = ecc.rs_decode(coded, HEADER_CODE)
    except PayloadError:
        raise _no_payload() from None
    fields, tag = header[: _FIELDS.size], header[_FIELDS.size :]
    if not mac_matches(subkey(master, "header-mac"), fields, tag):
        raise _no_payload()
    code, salt, size = _parse(fields, n)
    aead_key, body_stream_key = _body_keys(master, salt)
    body_values = values[_parts(perm, code)[1]]
    hard = _hard_bytes(body_values, keystream_bits(body_stream_key, code.slots), code.repeat)
    data, _ = ecc.rs_decode(hard.tobytes(), code)
    return unseal(aead_key, data[:size], fields)


def _no_payload() -> AuthenticationError:
    return AuthenticationError(
        "no payload could be authenticated: the password is wrong or missing, the image "
        "holds no payload, or it was modified beyond repair"
    )


def _parse(fields: bytes, n: int) -> tuple[ecc.Code, bytes, int]:
    version, salt, repeat, length, data, codewords, size = _FIELDS.unpack(fields)
    if version != VERSION:
        raise PayloadError(f"the payload was written by a newer invimg (format {version})")
    code = ecc.Code(repeat, length, data, codewords)
    sane = 1 <= data < length and repeat >= 1 and codewords >= 1 and size <= data * codewords
    if not sane or HEADER_SLOTS + code.slots > n:
        raise PayloadError("the payload header is inconsistent with this image")
    return code, salt, size
