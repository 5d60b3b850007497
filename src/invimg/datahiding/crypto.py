"""Keys, authenticated encryption and keystreams for hidden payloads (``cryptography``).

Why encrypt even without a password: Steg-cINN writes bits as the *signs* of
a standard-normal latent, and the latent is exactly N(0, I) only if the bits
are uniform and independent. Ciphertext and keystream-whitened code bits are
(computationally) exactly that. Without a password the key comes from the
empty password: the payload is then integrity-checked and looks random, but
anyone with invimg can read it.

* Password → 32-byte master key with **scrypt** (n = 2¹⁵, r = 8, p = 1,
  about 32 MiB and 0.1 s), salted with a fixed, versioned label. The label is
  fixed so that *nothing* readable without the password is stored in the
  image (a stored random salt would itself be a detectable structure); the
  per-message randomness is a 16-byte salt inside the encrypted header,
  mixed in with HKDF, so no two messages share a key.
* Sub-keys (HKDF-SHA256 with a label each): header whitening, header MAC,
  and per message the AEAD key and the body whitening key.
* Body: **ChaCha20-Poly1305** (the header is the associated data, so
  changing a length or a code parameter fails authentication too).
* Keystreams: ChaCha20 over zeros; XOR-ing code bits with them keeps bit
  errors in place (a flipped latent sign flips one code bit), which is why
  error correction can come *after* encryption and still be whitened.
"""

from __future__ import annotations

import unicodedata

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import constant_time, hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ..errors import PayloadError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
KDF_LABEL = b"invimg/steg-cinn/v1"
TAG_BYTES = 16
MAC_BYTES = 8
# Every message key is used once (fresh salt), so a fixed nonce is safe.
_ZERO_NONCE_AEAD = bytes(12)
_ZERO_NONCE_STREAM = bytes(16)


class AuthenticationError(PayloadError):
    """Wrong or missing password, no payload, or a stego changed beyond repair."""


def password_bytes(password: str | None) -> bytes:
    """UTF-8 of the NFC form: the same typed password gives the same key on every system."""
    return unicodedata.normalize("NFC", password or "").encode("utf-8")


def master_key(password: str | None) -> bytes:
    """The 32-byte key every other key is derived from (scrypt; see the module docstring)."""
    kdf = Scrypt(salt=KDF_LABEL, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return kdf.derive(password_bytes(password))


def subkey(master: bytes, label: str, salt: bytes | None = None, length: int = 32) -> bytes:
    """A key for one purpose (HKDF-SHA256; ``salt`` makes it per message)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=label.encode())
    return hkdf.derive(master)


def keystream_bytes(key: bytes, count: int) -> bytes:
    """``count`` pseudo-random bytes: ChaCha20 under ``key`` over zeros."""
    encryptor = Cipher(algorithms.ChaCha20(key, _ZERO_NONCE_STREAM), mode=None).encryptor()
    return encryptor.update(bytes(count))


def keystream_bits(key: bytes, count: int) -> np.ndarray:
    """``count`` pseudo-random bits (uint8 0/1) from :func:`keystream_bytes`."""
    stream = keystream_bytes(key, (count + 7) // 8)
    return np.unpackbits(np.frombuffer(stream, dtype=np.uint8))[:count]


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """Encrypt and authenticate; the result is ``TAG_BYTES`` longer."""
    return ChaCha20Poly1305(key).encrypt(_ZERO_NONCE_AEAD, plaintext, associated)


def unseal(key: bytes, ciphertext: bytes, associated: bytes) -> bytes:
    """Decrypt, or raise :class:`AuthenticationError` if anything was changed."""
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE_AEAD, ciphertext, associated)
    except InvalidTag:
        raise AuthenticationError(
            "the hidden data failed authentication: the stego was modified, or the password "
            "is wrong"
        ) from None


def mac(key: bytes, data: bytes) -> bytes:
    """A ``MAC_BYTES`` HMAC-SHA256 tag."""
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()[:MAC_BYTES]


def mac_matches(key: bytes, data: bytes, tag: bytes) -> bool:
    return constant_time.bytes_eq(mac(key, data), tag)
