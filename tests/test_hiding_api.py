"""``invimg.hide`` / ``invimg.reveal``: input types, any size, tiles, errors; LSB baseline."""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import invimg
from invimg.errors import InputImageError
from invimg.hiding import DeepMIH, HiNet
from invimg.hiding.api import SecretCountError
from invimg.hiding.baselines import lsb_hide, lsb_reveal
from invimg.hiding.evaluation import evaluate_hiding, markdown_table


def _randomise(model: torch.nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.02)


@pytest.fixture(scope="module")
def hinet() -> HiNet:
    model = HiNet(HiNet.Config(num_blocks=1, growth=8))
    _randomise(model)
    return model.eval()


@pytest.fixture(scope="module")
def deepmih() -> DeepMIH:
    config = DeepMIH.Config(num_secrets=2, num_blocks=1, growth=8, map_width=8, map_growth=8)
    model = DeepMIH(config)
    _randomise(model)
    return model.eval()


def photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth uint8 test image (gradients and a pattern, not noise)."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(0.05, 0.3, 3)
    img = np.stack([np.sin(a * x + b * y), np.cos(b * x - c * y), np.sin(c * (x + y))], -1)
    return np.rint((img * 0.45 + 0.5) * 255).astype(np.uint8)


def test_odd_size_round_trips_shape_and_dtype(hinet: HiNet) -> None:
    cover, secret = photo(17, 23), photo(17, 23, 1)
    stego = invimg.hide(cover, secret, model=hinet)
    assert stego.dtype == np.uint8 and stego.shape == (17, 23, 3)
    revealed = invimg.reveal(stego, model=hinet)
    assert len(revealed) == 1 and revealed[0].shape == (17, 23, 3)
    assert revealed[0].dtype == np.uint8


def test_pil_numpy_float_and_tensor_inputs_agree(hinet: HiNet) -> None:
    cover, secret = photo(20, 18), photo(20, 18, 1)
    expected = invimg.hide(cover, [secret], model=hinet)
    as_float = invimg.hide(cover / 255.0, [secret.astype(np.float32) / 255], model=hinet)
    as_pil = invimg.hide(Image.fromarray(cover), [Image.fromarray(secret)], model=hinet)
    tensor = torch.from_numpy(cover).permute(2, 0, 1).float() / 255
    as_tensor = invimg.hide(tensor, [torch.from_numpy(secret).permute(2, 0, 1)], model=hinet)
    for other in (as_float, as_pil, as_tensor):
        assert np.abs(other.astype(int) - expected.astype(int)).max() <= 1


def test_secret_of_another_size_is_resized_with_a_warning(hinet: HiNet) -> None:
    cover, secret = photo(16, 16), photo(24, 20, 1)
    with pytest.warns(UserWarning, match="resized to the cover"):
        stego = invimg.hide(cover, secret, model=hinet)
    assert stego.shape == (16, 16, 3)
    with pytest.raises(InputImageError, match="strict"):
        invimg.hide(cover, secret, model=hinet, strict=True)


def test_number_of_secrets_must_match_the_model(hinet: HiNet, deepmih: DeepMIH) -> None:
    cover = photo(16, 16)
    with pytest.raises(SecretCountError, match="exactly 1 secret"):
        invimg.hide(cover, [cover, cover], model=hinet)
    with pytest.raises(SecretCountError, match="exactly 2 secret"):
        invimg.hide(cover, [cover], model=deepmih)
    with pytest.raises(SecretCountError):
        invimg.reveal(cover, n=3, model=deepmih)
    assert SecretCountError.exit_code == 2 and issubclass(SecretCountError, ValueError)


def test_deepmih_hides_and_reveals_two_secrets_of_odd_size(deepmih: DeepMIH) -> None:
    cover, s1, s2 = photo(15, 21), photo(15, 21, 1), photo(15, 21, 2)
    stego = invimg.hide(cover, [s1, s2], model=deepmih)
    revealed = invimg.reveal(stego, n=2, model=deepmih)
    assert [r.shape for r in revealed] == [(15, 21, 3)] * 2


def test_gaussian_z_is_seeded(hinet: HiNet) -> None:
    stego = invimg.hide(photo(16, 16), photo(16, 16, 1), model=hinet)
    a = invimg.reveal(stego, model=hinet, z="gaussian", seed=3)[0]
    b = invimg.reveal(stego, model=hinet, z="gaussian", seed=3)[0]
    c = invimg.reveal(stego, model=hinet, z="gaussian", seed=4)[0]
    zeros = invimg.reveal(stego, model=hinet)[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, zeros)


def test_bad_inputs_give_clear_errors(hinet: HiNet) -> None:
    with pytest.raises(InputImageError, match=r"^cover: .*\[0, 1\]"):
        invimg.hide(np.full((8, 8, 3), 2.0), photo(8, 8), model=hinet)
    with pytest.raises(InputImageError, match=r"^cover: .*H×W×3"):
        invimg.hide(np.zeros((8, 8, 5), np.uint8), photo(8, 8), model=hinet)
    with pytest.raises(InputImageError, match=r"^secret 1: .*tensor"):
        invimg.hide(photo(8, 8), torch.zeros(2, 3, 8, 8), model=hinet)
    with pytest.raises(InputImageError, match=r"^stego: .*NaN"):
        invimg.reveal(np.full((8, 8, 3), np.nan, np.float32), model=hinet)


def test_default_models_are_the_shipped_previews_everywhere() -> None:
    """The CLI and the demo must not drift from the API's defaults (one per secret count)."""
    from invimg.hiding.api import DEFAULT_MODEL, DEFAULT_MODELS, SecretCountError, default_model
    from invimg.interfaces import cli_demo, cli_hiding, cli_train

    assert DEFAULT_MODELS == {1: "hinet-small", 2: "deepmih2-small", 3: "deepmih3-small"}
    assert DEFAULT_MODEL == default_model(1) == "hinet-small"
    for command in (cli_demo.demo_command, cli_train.eval_hiding):
        option = inspect.signature(command).parameters["model"].default
        assert option.default == DEFAULT_MODEL, command.__name__
    option = inspect.signature(cli_hiding.hide_command).parameters["model"].default
    assert option.default is None  # chosen by the number of secrets given
    with pytest.raises(SecretCountError, match="no shipped model hides 4 secret images"):
        default_model(4)


def test_tiles_match_one_piece_processing(hinet: HiNet) -> None:
    """With a margin wider than the network sees, tiling changes nothing (stitching is exact)."""
    cover, secret = photo(70, 54), photo(70, 54, 1)
    whole = invimg.hide(cover, secret, model=hinet)
    tiled = invimg.hide(cover, secret, model=hinet, tile=16)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1
    assert (
        np.abs(
            invimg.reveal(whole, model=hinet)[0].astype(int)
            - invimg.reveal(whole, model=hinet, tile=16)[0].astype(int)
        ).max()
        <= 1
    )


def test_lsb_baseline_errors_are_bounded() -> None:
    cover, secret = photo(16, 16), photo(16, 16, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        stego = lsb_hide(cover, secret)
    (back,) = lsb_reveal(stego)
    assert np.abs(stego.astype(int) - cover.astype(int)).max() <= 15
    assert np.abs(back.astype(int) - secret.astype(int)).max() <= 8
    two = lsb_reveal(lsb_hide(cover, [secret, cover]), count=2)
    assert np.abs(two[1].astype(int) - cover.astype(int)).max() <= 32


def test_evaluate_hiding_reports_model_and_lsb(hinet: HiNet, tmp_path: Path) -> None:
    for i in range(3):
        Image.fromarray(photo(24, 30, i)).save(tmp_path / f"{i}.png")
    result = evaluate_hiding(hinet, tmp_path, size="16", zs=("zeros", "gaussian"))
    assert result["images"] == 3 and result["model"] == "hinet"
    assert set(result["summary"]["model"]) == {"stego", "secret1[z=zeros]", "secret1[z=gaussian]"}
    lsb = result["summary"]["lsb4"]
    assert 25 < lsb["stego"]["psnr_rgb"] < 45 and lsb["secret1"]["rmse"] < 10
    table = markdown_table(result)
    assert table.count("\n") == 1 + 3 + 2 and "| hinet | stego |" in table


def test_a_stego_saved_from_the_api_records_its_model_as_the_cli_does(tmp_path: Path) -> None:
    """``save_stego`` writes the CLI's metadata, and ``reveal`` of the file takes that model."""
    from invimg.hiding.api import save_stego
    from invimg.io import read_metadata

    rng = np.random.default_rng(7)
    cover, one, two = (rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(3))
    stego = invimg.hide(cover, [one, two], model="deepmih2-small")
    path = save_stego(tmp_path / "stego.png", stego, "deepmih2-small")
    assert read_metadata(path) == {
        "invimg:task": "hiding",
        "invimg:model": "deepmih2-small",
        "invimg:secrets": "2",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the recorded model: no fallback warning
        from_file = invimg.reveal(path)
    expected = invimg.reveal(stego, model="deepmih2-small")
    assert len(from_file) == 2
    assert all(np.array_equal(a, b) for a, b in zip(from_file, expected))
