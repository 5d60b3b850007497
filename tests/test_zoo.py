"""The model zoo: weights travel with their card and are refused when damaged."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from invimg.errors import ModelError
from invimg.inn import InvertibleSequential, dense_block_factory, hinet_coupling
from invimg.zoo import load, register_architecture, save_pretrained, shipped_models


@register_architecture("test-tiny-inn")
class TinyInn(torch.nn.Module):
    @dataclass
    class Config:
        blocks: int = 2
        channels: int = 4

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        fac = dense_block_factory(growth=4)
        self.net = InvertibleSequential(
            *[
                hinet_coupling(config.channels, config.channels // 2, fac)
                for _ in range(config.blocks)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _saved(tmp_path: Path, blocks: int = 2) -> Path:
    model = TinyInn(TinyInn.Config(blocks=blocks))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    card = save_pretrained(
        model, tmp_path, "tiny", {"task": "test", "metrics": {"values": {"psnr": 40.0}}}
    )
    return card.path


def test_round_trip_through_fp16_safetensors(tmp_path: Path) -> None:
    card_path = _saved(tmp_path)
    card = json.loads(card_path.read_text())
    assert card["architecture"] == "test-tiny-inn" and card["dtype"] == "float16"
    assert len(card["sha256"]) == 64 and card["parameters"] > 0
    for written in (card_path, tmp_path / "tiny.safetensors"):  # installable by any user
        assert written.stat().st_mode & 0o044 == 0o044
    model = load(card_path)
    also = load(tmp_path / "tiny.safetensors")
    x = torch.randn(1, 4, 8, 8)
    assert torch.equal(model(x), also(x))
    assert not model.training


def test_corrupted_weights_are_refused(tmp_path: Path) -> None:
    card_path = _saved(tmp_path)
    weights = tmp_path / "tiny.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupted"):
        load(card_path)


def test_weights_of_another_architecture_are_refused(tmp_path: Path) -> None:
    card_path = _saved(tmp_path, blocks=2)
    card = json.loads(card_path.read_text())
    card["config"]["blocks"] = 3  # the card now promises a bigger network
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="do not fit"):
        load(card_path)


def test_truncated_file_with_matching_hash_is_refused(tmp_path: Path) -> None:
    card_path = _saved(tmp_path)
    weights = tmp_path / "tiny.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    card = json.loads(card_path.read_text())
    from invimg.zoo.cards import sha256_of

    card["sha256"] = sha256_of(weights)  # a consistent hash cannot rescue a broken file
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="cannot read weights"):
        load(card_path)


def test_unknown_names_and_missing_files_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model 'nope'"):
        load("nope")
    card_path = _saved(tmp_path)
    (tmp_path / "tiny.safetensors").unlink()
    with pytest.raises(ModelError, match="missing"):
        load(card_path)


def test_every_shipped_model_loads_and_matches_its_hash() -> None:
    from invimg.zoo.cards import scan_shipped

    assert scan_shipped()[1] == []
    for card in shipped_models():
        model = load(card.name)
        assert sum(p.numel() for p in model.parameters()) == card.data["parameters"]


def test_models_command_lists_shipped_models() -> None:
    from invimg.interfaces.cli import _register_commands, app

    _register_commands()
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0
    for card in shipped_models():
        assert card.name in result.output


def test_models_command_lists_the_good_cards_and_warns_of_a_broken_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from invimg.interfaces.cli import _register_commands, app
    from invimg.zoo import cards as registry

    good = shipped_models()[0]
    shutil.copy(good.path, tmp_path / good.path.name)
    shutil.copy(good.weights_path, tmp_path / good.weights_path.name)
    (tmp_path / "aaa-broken.json").write_text("{not json")
    monkeypatch.setattr(registry, "WEIGHTS_DIR", tmp_path)
    _register_commands()
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0
    assert good.name in result.stdout
    assert "warning: cannot read model card" in result.stderr
    assert "aaa-broken.json" in result.stderr


def test_load_typed_caches_refuses_other_tasks_and_sees_a_re_export(tmp_path: Path) -> None:
    import os

    from invimg.errors import WrongModelError
    from invimg.hiding.base import HidingModel
    from invimg.zoo.cards import load_typed

    card_path = _saved(tmp_path)
    first = load_typed(card_path, TinyInn, "tiny")
    assert load_typed(card_path, TinyInn, "tiny") is first  # cached
    assert load_typed(first, TinyInn, "tiny") is first
    with pytest.raises(WrongModelError, match="is not a hiding model"):
        load_typed(card_path, HidingModel, "hiding")
    with pytest.raises(WrongModelError, match="TinyInn is not a hiding model"):
        load_typed(first, HidingModel, "hiding")
    _saved(tmp_path)  # re-exported: other random weights under the same card path
    stamp = card_path.stat().st_mtime_ns + 10**9
    os.utime(card_path, ns=(stamp, stamp))
    again = load_typed(card_path, TinyInn, "tiny")
    assert again is not first
    differs = [not torch.equal(a, b) for a, b in zip(again.parameters(), first.parameters())]
    assert any(differs)
