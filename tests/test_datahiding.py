"""Steg-cINN: colour conversion, the cINN, embed → PNG → extract, the training task, the CLI.

The end-to-end tests use the shipped ``steg-cinn`` model on small crops of
the bundled cover photo; the CLI error tests need no model at all (every
check that needs none runs before the model is loaded).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.color import rgb2lab
from typer.testing import CliRunner

import invimg
from invimg.datahiding import api
from invimg.datahiding.color import lab_to_rgb, rgb_to_lab
from invimg.datahiding.crypto import AuthenticationError
from invimg.datahiding.embedding import correct_latent
from invimg.datahiding.model import StegCINN
from invimg.datahiding.task import DataHidingTask
from invimg.errors import PayloadError
from invimg.interfaces.cli import _register_commands, app
from invimg.io import read_image, write_png
from invimg.training import load_config

_register_commands()
ASSETS = Path(invimg.__file__).parent / "assets"


@pytest.fixture(scope="module")
def cover() -> np.ndarray:
    pixels = np.asarray(Image.open(ASSETS / "cover.png").convert("RGB"))
    return pixels[40:136, 60:156]  # 96×96


@pytest.fixture(scope="module")
def shipped() -> StegCINN:
    return api.resolve_model(api.DEFAULT_MODEL)


# -- colour and model --------------------------------------------------------------


def test_lab_matches_scikit_image_and_inverts() -> None:
    rgb = np.random.default_rng(0).random((9, 11, 3))
    t = torch.from_numpy(rgb).permute(2, 0, 1)[None]
    lab = rgb_to_lab(t)
    np.testing.assert_allclose(lab[0].permute(1, 2, 0).numpy(), rgb2lab(rgb), atol=1e-6)
    np.testing.assert_allclose(lab_to_rgb(lab).numpy(), t.numpy(), atol=1e-9)


def test_cinn_is_exactly_invertible_with_the_right_log_det() -> None:
    torch.manual_seed(0)
    config = StegCINN.Config(
        blocks1=1, blocks2=1, hidden1=8, hidden2=8, cond_width=8, gamut_map=True
    )
    net = StegCINN(config)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))  # leave the identity the init starts at
    net = net.double()
    lightness = 10 + 80 * torch.rand(1, 1, 8, 8).double()
    generated = net.inverse(torch.randn(1, 32, 2, 2).double(), lightness)
    rgb = lab_to_rgb(torch.cat((lightness, generated), 1))
    assert rgb.min() >= -1e-6 and rgb.max() <= 1 + 1e-6  # the gamut map: nothing to clip
    ab = generated.detach()
    z, log_det = net.forward_and_log_det(ab, lightness)
    assert z.shape == (1, 32, 2, 2)
    assert torch.allclose(net.inverse(z, lightness), ab, atol=1e-10)
    jac = torch.autograd.functional.jacobian(lambda x: net(x, lightness), ab).reshape(128, 128)
    assert torch.allclose(log_det[0], torch.linalg.slogdet(jac)[1], atol=1e-8)


def test_training_step_runs_both_stages(tmp_path: Path) -> None:
    config = load_config(
        {
            "task": "datahiding",
            "model": {"blocks1": 1, "blocks2": 1, "hidden1": 8, "hidden2": 8, "gamut_map": True},
            "loss": {"robust_from": 1},
            "data": {"train": [str(ASSETS)], "crop": 16},
        }
    )
    task = DataHidingTask(config)
    net = task.build_model()
    batch = torch.rand(2, 3, 16, 16)
    loss0, terms0 = task.training_step(net, batch, 0)
    loss1, terms1 = task.training_step(net, batch, 1)
    assert set(terms0) == {"nll"} and {"robust", "gamut", "ber"} <= set(terms1)
    loss1.backward()
    assert torch.isfinite(loss0) and all(p.grad is not None for p in net.parameters())


# -- embed and extract with the shipped model -------------------------------------


@pytest.fixture(scope="module")
def full(cover: np.ndarray, shipped: StegCINN) -> tuple[bytes, np.ndarray]:
    """Half as many random bytes as the cover holds, and their stego (password ``pw``).

    Half: a 96² crop at full capacity sometimes needs a second latent draw to
    pass embed's self-check; the benchmarks measure full capacity.
    """
    payload = np.random.default_rng(1).bytes(api.capacity(cover) // 2)
    return payload, api.embed(cover, payload, "pw", model=shipped, seed=0)


def test_embed_png_extract_is_bit_exact(
    cover: np.ndarray, full: tuple[bytes, np.ndarray], shipped: StegCINN, tmp_path: Path
) -> None:
    payload, stego = full
    assert stego.dtype == np.uint8 and stego.shape == cover.shape
    path = write_png(tmp_path / "stego.png", stego)
    back = np.asarray(read_image(path).pixels)
    assert api.extract(back, "pw", model=shipped) == payload
    lightness = rgb2lab(cover / 255)[..., 0] - rgb2lab(stego / 255)[..., 0]
    assert np.abs(lightness).mean() < 3.0  # the cover's lightness, but for gamut clipping


def test_odd_sizes_and_tiles_round_trip(cover: np.ndarray, shipped: StegCINN) -> None:
    odd = cover[:70, :83]
    stego = api.embed(odd, "odd sides", model=shipped, tile=32, seed=0)
    np.testing.assert_array_equal(
        stego[68:], odd[68:]
    )  # rows past the multiple of 4 keep the cover
    assert api.extract(stego, model=shipped, tile=32) == b"odd sides"


def test_wrong_password_and_tampering_are_errors(
    cover: np.ndarray, full: tuple[bytes, np.ndarray], shipped: StegCINN
) -> None:
    stego = full[1]
    with pytest.raises(AuthenticationError):
        api.extract(stego, "wrong", model=shipped)
    with pytest.raises(AuthenticationError):
        api.extract(stego, model=shipped)
    tampered = stego.copy()
    tampered[:48, :48] = cover[:48, :48]  # a quarter of the image gets its own colours back
    with pytest.raises(PayloadError, match="modified"):
        api.extract(tampered, "pw", model=shipped)
    with pytest.raises(PayloadError):
        api.extract(cover, "pw", model=shipped)  # a photo with nothing in it


def test_correction_moves_only_the_latents_read_back_wrong_or_too_close_to_zero() -> None:
    intended = np.array([1.2, -0.7, 0.05, -1.5], np.float32)
    read_back = np.array([1.1, 0.4, 0.02, -1.4], np.float32)  # 2nd flipped, 3rd too weak
    corrected = correct_latent(intended, read_back, intended)
    np.testing.assert_array_equal(corrected[[0, 3]], intended[[0, 3]])
    assert corrected[1] < intended[1] and corrected[2] > intended[2]


def test_a_dark_cover_holds_a_full_payload_thanks_to_closed_loop_correction(
    cover: np.ndarray, shipped: StegCINN, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dark = np.round(cover * 0.15).astype(np.uint8)  # little sRGB gamut left for colour
    payload = np.random.default_rng(3).bytes(api.capacity(dark))
    stego, report = api.embed_with_report(dark, payload, "pw", model=shipped, seed=0)
    assert report.corrections >= 1
    back = np.asarray(read_image(write_png(tmp_path / "dark.png", stego)).pixels)
    assert api.extract(back, "pw", model=shipped) == payload
    monkeypatch.setattr(api, "CORRECTION_PASSES", 0)
    with pytest.raises(PayloadError, match="reliably"):
        api.embed(dark, payload, "pw", model=shipped, seed=0)


def test_too_large_payload_is_refused_before_the_model_runs(cover: np.ndarray) -> None:
    payload = bytes(api.capacity(cover) + 1)
    with pytest.raises(PayloadError, match="carries at most"):
        api.embed(cover, np.random.default_rng(2).bytes(len(payload)), model="no-such-model")


# -- command line ---------------------------------------------------------------------


def run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def expect_error(result: object, code: int, fragment: str) -> None:
    assert result.exit_code == code, (result.exit_code, result.stderr)  # type: ignore[attr-defined]
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]  # type: ignore[attr-defined]
    assert len(lines) == 1 and lines[0].startswith("error:") and fragment in lines[0], lines


@pytest.fixture
def folder(cover: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    Image.fromarray(cover).save(tmp_path / "cover.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INVIMG_PASSWORD", raising=False)
    return tmp_path


def test_cli_round_trip_with_file_and_message(folder: Path) -> None:
    (folder / "notes.txt").write_bytes(b"\x00binary\xffdata" * 3)
    result = run("embed", "cover.png", "-f", "notes.txt", "-p", "pw", "-o", "s.png")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    result = run("extract", "s.png", "-p", "pw", "-o", "out.bin")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    assert (folder / "out.bin").read_bytes() == (folder / "notes.txt").read_bytes()
    expect_error(run("extract", "s.png", "-p", "pw"), 2, "pass -o FILE")
    expect_error(run("extract", "s.png", "-p", "pw", "-o", "out.bin"), 4, "already exists")
    expect_error(run("extract", "s.png", "-p", "nope"), 7, "password")
    run("embed", "cover.png", "-m", "héllo", "-o", "m.png")
    result = run("extract", "m.png")
    assert result.stdout == "héllo\n"  # type: ignore[attr-defined]
    assert "bytes" in run("capacity", "cover.png").stdout  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["embed", "cover.png", "-o", "s.png"], 2, "exactly one of"),
        (["embed", "cover.png", "-m", "a", "-f", "cover.png", "-o", "s.png"], 2, "exactly one"),
        (["embed", "cover.png", "-m", "a", "-o", "s.jpg"], 4, ".png"),
        (["embed", "cover.png", "-f", "missing.bin", "-o", "s.png"], 7, "cannot read payload"),
        (["embed", "missing.png", "-m", "a", "-o", "s.png"], 3, "missing.png"),
        (["embed", "cover.png", "-m", "a", "-o", "cover.png"], 4, "cover.png"),
        (["extract", "missing.png"], 3, "missing.png"),
    ],
)
def test_cli_bad_inputs_leave_nothing(
    folder: Path, args: list[str], code: int, fragment: str
) -> None:
    before = sorted(p.name for p in folder.iterdir())
    expect_error(run(*args), code, fragment)
    assert sorted(p.name for p in folder.iterdir()) == before


def test_cli_refuses_a_payload_over_capacity_before_writing(folder: Path) -> None:
    (folder / "big.bin").write_bytes(np.random.default_rng(3).bytes(2000))
    expect_error(run("embed", "cover.png", "-f", "big.bin", "-o", "s.png"), 7, "does not fit")
    assert not (folder / "s.png").exists()
