"""``invimg hide`` / ``invimg reveal`` end to end on a tiny model saved with its card."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

import invimg
from invimg.hiding import DeepMIH, HiNet
from invimg.interfaces import cli
from invimg.io import read_metadata
from invimg.zoo import save_pretrained

ASSETS = Path(invimg.__file__).parent / "assets"


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    cli._register_commands()
    return CliRunner()


def _card(directory: Path, model: torch.nn.Module, name: str) -> Path:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    return save_pretrained(model, directory, name, {"task": "hiding"}).path


@pytest.fixture
def card(tmp_path: Path) -> Path:
    return _card(tmp_path / "models", HiNet(HiNet.Config(num_blocks=1, growth=8)), "tiny")


def _png(path: Path, seed: int, size: tuple[int, int] = (19, 24)) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(path)
    return path


def test_hide_then_reveal_end_to_end(runner: CliRunner, card: Path, tmp_path: Path) -> None:
    cover, secret = _png(tmp_path / "c.png", 0), _png(tmp_path / "s.png", 1)
    stego = tmp_path / "stego.png"
    result = runner.invoke(
        cli.app, ["hide", str(cover), str(secret), "-o", str(stego), "--model", str(card)]
    )
    assert result.exit_code == 0, result.output
    meta = read_metadata(stego)
    assert meta["invimg:model"] == str(card.resolve()) and meta["invimg:task"] == "hiding"
    out = tmp_path / "secret.png"
    result = runner.invoke(cli.app, ["reveal", str(stego), "-o", str(out)])  # model from metadata
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == (24, 19)


def test_checkpoint_of_the_published_code_works_as_model(runner: CliRunner, tmp_path: Path) -> None:
    """`--model model.pt`: HiNet weights saved by the published train.py, used as they are."""
    net = HiNet(HiNet.Config(num_blocks=1, growth=8))
    _card(tmp_path / "models", net, "tiny")  # fills the weights with small random values
    names = {"phi": "f", "rho": "r", "eta": "y"}
    published = {}
    for key, value in net.state_dict().items():
        _, _, block, sub, rest = key.split(".", 4)
        published[f"module.model.inv{int(block) + 1}.{names[sub]}.{rest}"] = value
    torch.save({"net": published}, tmp_path / "model.pt")
    cover, secret = _png(tmp_path / "c.png", 0), _png(tmp_path / "s.png", 1)
    stego = tmp_path / "stego.png"
    args = [
        "hide",
        str(cover),
        str(secret),
        "-o",
        str(stego),
        "--model",
        str(tmp_path / "model.pt"),
    ]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    expected = invimg.hide(np.asarray(Image.open(cover)), np.asarray(Image.open(secret)), model=net)
    assert np.array_equal(np.asarray(Image.open(stego)), expected)
    result = runner.invoke(cli.app, ["reveal", str(stego), "-o", str(tmp_path / "r.png")])
    assert result.exit_code == 0, result.output  # the .pt recorded in the metadata
    truncated, garbage = tmp_path / "truncated.pt", tmp_path / "garbage.pt"
    truncated.write_bytes((tmp_path / "model.pt").read_bytes()[:300])
    garbage.write_bytes(b"not a checkpoint" * 8)
    for broken in (truncated, garbage):
        args[-1], args[-3] = str(broken), str(tmp_path / "x.png")
        result = runner.invoke(cli.app, args)
        assert result.exit_code == 5 and result.output.startswith("error: cannot read checkpoint")
        assert result.output.count("\n") == 1 and not (tmp_path / "x.png").exists()


def test_several_secrets_go_to_numbered_files(runner: CliRunner, tmp_path: Path) -> None:
    config = DeepMIH.Config(num_secrets=2, num_blocks=1, growth=8, map_width=8, map_growth=8)
    card = _card(tmp_path / "models", DeepMIH(config), "tiny2")
    imgs = [str(_png(tmp_path / f"{i}.png", i)) for i in range(3)]
    stego = tmp_path / "stego.png"
    assert (
        runner.invoke(cli.app, ["hide", *imgs, "-o", str(stego), "--model", str(card)]).exit_code
        == 0
    )
    result = runner.invoke(
        cli.app, ["reveal", str(stego), "-o", str(tmp_path / "out.png"), "--secrets", "2"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out_1.png").is_file() and (tmp_path / "out_2.png").is_file()
    result = runner.invoke(
        cli.app, ["reveal", str(stego), "-o", str(tmp_path / "o.png"), "--secrets", "1"]
    )
    assert result.exit_code == 2 and "exactly 2" in result.output


def test_jpeg_stego_is_refused(runner: CliRunner, card: Path, tmp_path: Path) -> None:
    cover, secret = _png(tmp_path / "c.png", 0), _png(tmp_path / "s.png", 1)
    result = runner.invoke(
        cli.app,
        ["hide", str(cover), str(secret), "-o", str(tmp_path / "s.jpg"), "--model", str(card)],
    )
    assert result.exit_code == 2
    assert "lossy compression destroys the hidden image" in result.output
    assert not (tmp_path / "s.jpg").exists()


def test_existing_output_is_kept_without_force(
    runner: CliRunner, card: Path, tmp_path: Path
) -> None:
    cover, secret = _png(tmp_path / "c.png", 0), _png(tmp_path / "s.png", 1)
    stego = tmp_path / "stego.png"
    stego.write_bytes(b"precious")
    args = ["hide", str(cover), str(secret), "-o", str(stego), "--model", str(card)]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 4 and stego.read_bytes() == b"precious"
    assert runner.invoke(cli.app, [*args, "--force"]).exit_code == 0
    assert stego.read_bytes() != b"precious"


def test_bad_input_image_exits_3_with_one_line(
    runner: CliRunner, card: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    secret = _png(tmp_path / "s.png", 1)
    result = runner.invoke(
        cli.app,
        ["hide", str(broken), str(secret), "-o", str(tmp_path / "out.png"), "--model", str(card)],
    )
    assert result.exit_code == 3
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:")
    result = runner.invoke(
        cli.app, ["reveal", str(broken), "-o", str(tmp_path / "r.png"), "--model", str(card)]
    )
    assert result.exit_code == 3


def test_wrong_number_of_secret_files(runner: CliRunner, card: Path, tmp_path: Path) -> None:
    imgs = [str(_png(tmp_path / f"{i}.png", i)) for i in range(3)]
    result = runner.invoke(
        cli.app, ["hide", *imgs, "-o", str(tmp_path / "x.png"), "--model", str(card)]
    )
    assert result.exit_code == 2 and "exactly 1 secret" in result.output


def _crop(name: str, path: Path, box: tuple[int, int, int, int]) -> Path:
    Image.open(ASSETS / f"{name}.png").convert("RGB").crop(box).save(path)
    return path


def test_two_secrets_without_a_model_use_the_shipped_deepmih(
    runner: CliRunner, tmp_path: Path
) -> None:
    """`invimg hide COVER S1 S2` needs no --model: the shipped DeepMIH preview takes two."""
    cover = _crop("cover", tmp_path / "c.png", (0, 0, 96, 96))
    first = _crop("secret", tmp_path / "s1.png", (0, 0, 96, 96))
    second = _crop("cover", tmp_path / "s2.png", (100, 100, 196, 196))
    stego = tmp_path / "stego.png"
    result = runner.invoke(cli.app, ["hide", str(cover), str(first), str(second), "-o", str(stego)])
    assert result.exit_code == 0, result.output
    assert read_metadata(stego)["invimg:model"] == "deepmih2-small"
    result = runner.invoke(cli.app, ["reveal", str(stego), "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    for secret, out in ((first, "out_1.png"), (second, "out_2.png")):
        revealed = np.asarray(Image.open(tmp_path / out), np.float64)
        error = np.mean((revealed - np.asarray(Image.open(secret), np.float64)) ** 2)
        assert 10 * np.log10(255**2 / error) > 17  # a swapped or missing secret scores far lower
    four = [str(cover), str(first), str(second), str(first), str(second)]
    result = runner.invoke(cli.app, ["hide", *four, "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "no shipped model hides 4" in result.output


def test_three_secrets_without_a_model_use_the_shipped_three_stage_cascade(
    runner: CliRunner, tmp_path: Path
) -> None:
    """`invimg hide COVER S1 S2 S3`: the 3-secret preview, each secret back in its own file."""
    cover = _crop("cover", tmp_path / "c.png", (0, 0, 96, 96))
    secrets = [
        _crop("secret", tmp_path / "s1.png", (0, 0, 96, 96)),
        _crop("cover", tmp_path / "s2.png", (100, 100, 196, 196)),
        _crop("secret", tmp_path / "s3.png", (150, 150, 246, 246)),
    ]
    stego = tmp_path / "stego.png"
    result = runner.invoke(cli.app, ["hide", str(cover), *map(str, secrets), "-o", str(stego)])
    assert result.exit_code == 0, result.output
    assert read_metadata(stego)["invimg:model"] == "deepmih3-small"
    result = runner.invoke(cli.app, ["reveal", str(stego), "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 0, result.output
    for i, secret in enumerate(secrets, start=1):
        revealed = np.asarray(Image.open(tmp_path / f"out_{i}.png"), np.float64)
        error = np.mean((revealed - np.asarray(Image.open(secret), np.float64)) ** 2)
        assert 10 * np.log10(255**2 / error) > 16.5  # 19-27 dB; another secret's slot: 9-14
