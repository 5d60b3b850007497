"""What is hidden: a message, a file or raw bytes, compressed when that helps.

The packed form (which is then encrypted) is::

    method (1 byte: 0 stored, 1 zlib) ‖ body
    body = kind (1 byte: 0 text, 1 file, 2 bytes) ‖ name length (1) ‖ name (UTF-8) ‖ data

``body`` is zlib-compressed when that makes it shorter. Only the base name
of a file is kept (never a folder), and extraction never trusts it as a path.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Literal

from ..errors import PayloadError

Kind = Literal["text", "file", "bytes"]
_KINDS: tuple[Kind, ...] = ("text", "file", "bytes")
STORED, ZLIB = 0, 1
#: Bytes the packing adds to the data when stored uncompressed and unnamed.
OVERHEAD = 3
#: Refuse to inflate beyond this (a crafted payload must not exhaust memory).
MAX_UNPACKED = 256 * 1024 * 1024


@dataclass(frozen=True)
class Payload:
    """Hidden content and how to give it back (as text, or as a file named ``name``)."""

    data: bytes
    kind: Kind = "bytes"
    name: str | None = None

    @property
    def text(self) -> str:
        """The data as UTF-8 text (a text payload always decodes)."""
        return self.data.decode("utf-8", errors="replace")

    @classmethod
    def from_text(cls, message: str) -> Payload:
        return cls(message.encode("utf-8"), "text")


def stored_name(name: str | None) -> bytes:
    """The bytes of ``name`` that the payload keeps: its base name, at most 255 bytes."""
    if not name:
        return b""
    encoded = name.replace("\\", "/").rsplit("/", 1)[-1].encode("utf-8")[:255]
    return encoded.decode("utf-8", errors="ignore").encode("utf-8")


def pack(payload: Payload) -> bytes:
    """The bytes to encrypt (see the module docstring)."""
    name = stored_name(payload.name)
    body = bytes([_KINDS.index(payload.kind), len(name)]) + name + payload.data
    compressed = zlib.compress(body, 9)
    if len(compressed) < len(body):
        return bytes([ZLIB]) + compressed
    return bytes([STORED]) + body


def unpack(blob: bytes) -> Payload:
    """Inverse of :func:`pack`; a malformed blob is a :class:`PayloadError`."""
    if not blob or blob[0] not in (STORED, ZLIB):
        raise PayloadError("the hidden data is malformed (unknown packing)")
    body = blob[1:] if blob[0] == STORED else _inflate(blob[1:])
    if len(body) < 2 or body[0] >= len(_KINDS) or len(body) < 2 + body[1]:
        raise PayloadError("the hidden data is malformed (bad header)")
    name = body[2 : 2 + body[1]].decode("utf-8", errors="replace") or None
    return Payload(body[2 + body[1] :], _KINDS[body[0]], name)


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_UNPACKED)
    except zlib.error:
        raise PayloadError("the hidden data is malformed (bad compression)") from None
    if inflater.unconsumed_tail:
        raise PayloadError(f"the hidden data inflates beyond {MAX_UNPACKED >> 20} MiB")
    return out
