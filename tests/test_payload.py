"""The payload path without a model: packing, encryption, framing, error correction.

A frame is read back from synthetic latent values: the signs the embedder
chose, with half-normal magnitudes, plus Gaussian noise standing in for what
8-bit rounding does to the latent (the shipped model leaves a noise std of
about 0.1-0.2; 0.25 here).
"""

from __future__ import annotations

import numpy as np
import pytest

from invimg.datahiding import ecc, frame
from invimg.datahiding.crypto import AuthenticationError, master_key, password_bytes
from invimg.datahiding.payload import Payload, pack, unpack
from invimg.errors import PayloadError

N = 2 * 128 * 128  # latent values of a 128×128 image


def noisy(signs: np.ndarray, noise: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (signs * np.abs(rng.standard_normal(len(signs)))).astype(np.float32) + (
        noise * rng.standard_normal(len(signs))
    ).astype(np.float32)


@pytest.fixture(scope="module")
def message() -> bytes:
    return pack(Payload(np.random.default_rng(0).bytes(frame.capacity(N) - 3)))


@pytest.fixture(scope="module")
def built(message: bytes) -> frame.Frame:
    return frame.build(message, "s3cret", N, np.random.default_rng(0), salt=bytes(16))


@pytest.mark.parametrize(
    "payload",
    [
        Payload.from_text("meet me at noon " * 20),
        Payload(b"\x00\xff" * 7, "file", "notes/../secret.bin"),
        Payload(b"", "bytes"),
    ],
)
def test_pack_round_trip(payload: Payload) -> None:
    back = unpack(pack(payload))
    assert back.data == payload.data and back.kind == payload.kind
    assert back.name == (payload.name and "secret.bin")  # a folder is never kept


def test_text_is_compressed_and_random_bytes_are_not() -> None:
    text = Payload.from_text("all work and no play " * 50)
    assert len(pack(text)) < len(text.data) / 5
    noise = Payload(np.random.default_rng(1).bytes(500))
    assert len(pack(noise)) == 500 + 3


def test_malformed_packing_is_refused() -> None:
    with pytest.raises(PayloadError):
        unpack(b"\x07abc")
    with pytest.raises(PayloadError):
        unpack(b"\x01not zlib at all")


def test_frame_round_trip_with_noise(built: frame.Frame, message: bytes) -> None:
    values = noisy(built.signs, 0.25)
    assert (np.sign(values) != built.signs).mean() > 0.07  # a hard channel...
    assert built.margins(values).min() >= 0  # ...the embedder's own check predicts success
    assert frame.read(values, "s3cret") == message


def test_latent_signs_look_uniform(built: frame.Frame) -> None:
    assert abs(float(built.signs.mean())) < 0.02
    assert built.code.repeat >= ecc.REPEAT_MIN


def test_wrong_or_missing_password_is_an_authentication_error(built: frame.Frame) -> None:
    values = noisy(built.signs, 0.1)
    for password in ("s3creT", None):
        with pytest.raises(AuthenticationError, match="password"):
            frame.read(values, password)


def test_no_password_still_round_trips() -> None:
    packed = pack(Payload.from_text("hello"))
    built = frame.build(packed, None, N, np.random.default_rng(2))
    assert frame.read(noisy(built.signs, 0.2), None) == packed


def test_damage_beyond_repair_is_an_error_not_garbage(built: frame.Frame) -> None:
    values = noisy(built.signs, 0.05)
    body = frame.positions(N)[frame.HEADER_SLOTS : frame.HEADER_SLOTS + built.code.slots]
    values[body[: len(body) // 3]] *= -1  # a third of the body flipped: too much to correct
    assert built.margins(values).min() < 0
    with pytest.raises(PayloadError, match=r"modified|damaged"):
        frame.read(values, "s3cret")


def test_tampered_ciphertext_fails_authentication(message: bytes) -> None:
    """A change the code 'corrects' into other valid data is still caught by the AEAD tag."""
    built = frame.build(message, "pw", N, np.random.default_rng(3))
    values = noisy(built.signs, 0.0)
    assert frame.read(values, "pw") == message  # untouched, it reads
    body = frame._parts(frame.positions(N), built.code)[1]
    code = built.code
    # rewrite one whole codeword's copies with another valid codeword
    other = ecc.rs_encode(bytes(code.data), ecc.Code(1, code.length, code.data, 1))
    coded = bytearray(built.coded[1])
    coded[: code.length] = other
    signs = frame._coded_signs(bytes(coded), code.repeat, built.streams[1])
    values[body] = signs * np.abs(values[body])
    with pytest.raises(AuthenticationError):
        frame.read(values, "pw")


def test_password_is_normalised_and_keys_differ() -> None:
    assert password_bytes("caf\u00e9") == password_bytes("cafe\u0301")  # NFC: one typed password
    assert master_key("a") != master_key("b") and len(master_key(None)) == 32


def test_ecc_corrects_injected_byte_errors() -> None:
    code = ecc.Code(1, 255, 131, 3)
    data = np.random.default_rng(4).bytes(3 * 131)
    coded = bytearray(ecc.rs_encode(data, code))
    rng = np.random.default_rng(5)
    for start in (0, 255, 510):  # 62 wrong bytes in each codeword: the most it corrects
        for i in rng.choice(255, code.parity // 2, replace=False):
            coded[start + i] ^= int(rng.integers(1, 256))
    decoded, fixed = ecc.rs_decode(bytes(coded), code)
    assert decoded == data and fixed == 3 * 62


def test_capacity_is_exact_and_at_least_half_a_bit_per_pixel() -> None:
    slots = 2 * 512 * 512 - frame.HEADER_SLOTS
    limit = ecc.max_data_bytes(slots)
    assert 8 * (limit - 16 - 3) / 512**2 >= 0.5
    code = ecc.plan_code(limit, slots)
    assert code.slots <= slots and code.repeat >= ecc.REPEAT_MIN
    with pytest.raises(ecc.PayloadTooLargeError):
        ecc.plan_code(limit + 1, slots)
    small = ecc.plan_code(40, slots)
    assert small.repeat == ecc.REPEAT_MAX and small.codewords == 1


@pytest.mark.parametrize("side", [48, 64, 100, 200])
def test_every_size_up_to_capacity_fits(side: int) -> None:
    slots = 2 * (side // 4 * 4) ** 2 - frame.HEADER_SLOTS
    limit = ecc.max_data_bytes(slots)
    for size in sorted({1, limit // 3, limit - 1, limit} - {0}):
        code = ecc.plan_code(size, slots)
        assert code.data * code.codewords >= size and code.slots <= slots
