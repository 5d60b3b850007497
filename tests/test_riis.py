"""RIIS: HiNet's invertible part unchanged, CEM and CANP, distortion-guided modulation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from invimg.distortions import JPEG, GaussianNoise
from invimg.hiding import RIIS, HiNet
from invimg.hiding.riis import ModulatedBlock
from invimg.zoo import load, save_pretrained

SMALL = {"features": 8, "enhance_blocks": 1, "project_blocks": 1, "condition_width": 8}


def randomise(model: nn.Module, seed: int = 0, scale: float = 0.02) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model


def tiny_hinet() -> HiNet:
    model = HiNet(HiNet.Config(num_blocks=2, growth=8))
    randomise(model)
    return model.eval()


def images(size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(1, 3, size, size, generator=gen), torch.rand(1, 3, size, size, generator=gen)


def test_invertible_part_is_the_hinet_it_was_made_from() -> None:
    hinet = tiny_hinet()
    riis = RIIS.from_hinet(hinet, **SMALL).eval()
    cover, secret = images()
    with torch.no_grad():
        ours, theirs = riis.hide(cover, [secret]), hinet.hide(cover, [secret])
        assert torch.equal(ours.stego, theirs.stego) and torch.equal(ours.lost[0], theirs.lost[0])
        # fresh CEM = identity, fresh CANP = zeros: reveals exactly as HiNet with z = 0
        assert torch.allclose(
            riis.reveal(ours.stego).secrets[0], hinet.reveal(ours.stego, "zeros").secrets[0]
        )
        randomise(riis.enhance, seed=3)
        randomise(riis.project, seed=4)
        back = riis.flow.reveal_with(ours.stego, ours.lost).secrets[0]
    assert torch.allclose(back, secret, atol=1e-5)  # still an exact inverse underneath
    assert riis.robust and not hinet.robust


def test_load_hinet_refuses_another_shape() -> None:
    riis = RIIS(RIIS.Config(num_blocks=3, growth=8, **SMALL))
    with pytest.raises(ValueError, match="does not match"):
        riis.load_hinet(tiny_hinet())


def test_modulation_carries_the_channel_condition() -> None:
    riis = randomise(RIIS(RIIS.Config(num_blocks=1, growth=8, **SMALL)), scale=0.1)
    assert isinstance(riis, RIIS)
    riis.eval()
    stego, _ = images()
    with torch.no_grad():
        jpeg = riis.reveal(stego, channel="jpeg:75")
        noise = riis.reveal(stego, channel=GaussianNoise(2))
        assert jpeg.channel == "jpeg:75" and noise.channel == "gaussian:2"
        assert float((jpeg.secrets[0] - noise.secrets[0]).abs().max()) > 1e-4
        assert float((jpeg.z - noise.z).abs().max()) > 1e-4  # type: ignore[operator]
        for module in riis.modules():  # without FiLM the condition has no way in
            if isinstance(module, ModulatedBlock):
                nn.init.zeros_(module.film.weight)
                nn.init.zeros_(module.film.bias)
        a = riis.reveal(stego, channel="jpeg:75").secrets[0]
        b = riis.reveal(stego, channel="gaussian:2").secrets[0]
    assert torch.equal(a, b)


def test_training_pass_distorts_and_reaches_every_parameter() -> None:
    riis = randomise(RIIS(RIIS.Config(num_blocks=1, growth=8, **SMALL)), scale=0.05)
    assert isinstance(riis, RIIS)
    riis.train()
    cover, secret = images()
    gen = torch.Generator().manual_seed(0)
    hidden, revealed = riis(cover, [secret], generator=gen, distortion=JPEG(75))
    assert revealed.sent is not None and revealed.received is not None
    assert torch.equal(revealed.received * 255, torch.round(revealed.received * 255))
    assert float((revealed.received - revealed.sent).detach().abs().max()) > 0  # JPEG acted
    loss = (revealed.secrets[0] - secret).pow(2).sum() + (hidden.stego - cover).pow(2).sum()
    loss = loss + (revealed.z - hidden.lost[0]).pow(2).sum()  # type: ignore[operator]
    loss.backward()
    missing = [n for n, p in riis.named_parameters() if p.grad is None]
    assert not missing


def test_saved_riis_loads_from_the_zoo(tmp_path: Path) -> None:
    riis = randomise(RIIS(RIIS.Config(num_blocks=1, growth=8, **SMALL)))
    card = save_pretrained(riis, tmp_path, "tiny-riis", {"task": "hiding"})
    loaded = load(card.path)
    assert isinstance(loaded, RIIS) and loaded.robust
    stego, _ = images()
    with torch.no_grad():
        expected = riis.eval().reveal(stego, channel="jpeg:90").secrets[0]
        got = loaded.reveal(stego, channel="jpeg:90").secrets[0]
    assert torch.allclose(expected, got, atol=1e-2)  # fp16 weights
