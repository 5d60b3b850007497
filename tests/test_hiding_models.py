"""HiNet and DeepMIH: the published reference, exact round trips, checkpoint formats.

Untrained models start with zero last convolutions (each coupling is the
identity), which would make round-trip tests trivially pass; ``randomise``
gives every parameter a non-zero value first.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pytest
import torch
from torch import nn

from invimg.errors import ModelError
from invimg.hiding import DeepMIH, HidingModel, HiNet
from invimg.hiding.published import (
    convert_couplings,
    hinet_from_state,
    load_deepmih_checkpoints,
    load_hinet_checkpoint,
)
from invimg.io import quantize_st as quantize_ste
from invimg.zoo import ARCHITECTURES

M = TypeVar("M", bound=nn.Module)


def randomise(model: M, scale: float = 0.02, seed: int = 0) -> M:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    return model


def tiny_hinet() -> HiNet:
    model = randomise(HiNet(HiNet.Config(num_blocks=2, growth=8)))
    model.eval()
    return model


def tiny_deepmih(n: int) -> DeepMIH:
    config = DeepMIH.Config(num_secrets=n, num_blocks=2, growth=8, map_width=8, map_growth=8)
    model = randomise(DeepMIH(config))
    model.eval()
    return model


def images(n: int, size: int = 16, batch: int = 1) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(1)
    return [torch.rand(batch, 3, size, size, generator=gen) for _ in range(n)]


def test_reproduces_published_hinet_reference(shared_dir: Path) -> None:
    """Our HiNet on the published checkpoint gives the published tensors (max-abs 1e-4)."""
    ref_dir = shared_dir / "reference"
    model = load_hinet_checkpoint(ref_dir / "hinet_official_random.pt")
    ref = torch.load(ref_dir / "hinet_reference.pt", map_location="cpu", weights_only=True)
    with torch.no_grad():
        hidden = model.hide(ref["cover"], [ref["secret"]])
        revealed = model.reveal(ref["steg"], [ref["z"]])
    errors = {
        "steg": (hidden.stego - ref["steg"]).abs().max(),
        "r": (hidden.lost[0] - ref["r"]).abs().max(),
        "secret_rev": (revealed.secrets[0] - ref["secret_rev"]).abs().max(),
        "cover_rev": (revealed.cover - ref["cover_rev"]).abs().max(),
    }
    assert all(float(e) < 1e-4 for e in errors.values()), errors


def test_published_hinet_keys_round_trip() -> None:
    """A state dict in the published naming loads into the same function."""
    model = tiny_hinet()
    names = {"phi": "f", "rho": "r", "eta": "y"}
    published = {}
    for key, value in model.state_dict().items():
        _, _, block, net, rest = key.split(".", 4)
        published[f"module.model.inv{int(block) + 1}.{names[net]}.{rest}"] = value
    assert set(convert_couplings(published, "couplings.")) == set(model.state_dict())
    loaded = hinet_from_state(published)  # depth 2 and growth 8 are inferred
    cover, secret = images(2)
    with torch.no_grad():
        assert torch.equal(loaded.hide(cover, [secret]).stego, model.hide(cover, [secret]).stego)
    published.pop("module.model.inv1.f.conv5.bias")
    with pytest.raises(ModelError, match="checkpoint tensors do not fit HiNet"):
        hinet_from_state(published)


@pytest.mark.parametrize("make", [tiny_hinet, lambda: tiny_deepmih(2), lambda: tiny_deepmih(3)])
def test_reveal_with_true_lost_information_is_exact(make: object) -> None:
    model: HidingModel = make()  # type: ignore[operator]
    cover, *secrets = images(1 + model.num_secrets, batch=2)
    with torch.no_grad():
        hidden = model.hide(cover, secrets)
        back = model.reveal(hidden.stego, hidden.lost)
        guessed = model.reveal(hidden.stego, "zeros")
    for got, want in zip(back.secrets, secrets):
        assert float((got - want).abs().max()) < 1e-4
    assert float((back.cover - cover).abs().max()) < 1e-4
    assert len(hidden.stages) == model.num_secrets
    assert float((guessed.secrets[0] - secrets[0]).abs().max()) > 1e-3  # z matters


def test_deepmih_cascade_shapes_and_importance_map() -> None:
    model = tiny_deepmih(3)
    cover, *secrets = images(4)
    assert [tuple(s) for s in model.lost_shapes(cover)] == [
        (1, 12, 8, 8),
        (1, 24, 8, 8),
        (1, 24, 8, 8),
    ]
    with torch.no_grad():
        with_map = model.hide(cover, secrets).stego
        model.config.use_importance_map = False
        without = model.hide(cover, secrets).stego
    assert float((with_map - without).abs().max()) > 1e-6  # the map is really fed in


def test_deepmih_published_format_loads(tmp_path: Path) -> None:
    """Files in the published naming (``module.model.invN.p.dense.…``) load and match."""
    model = DeepMIH(DeepMIH.Config(num_secrets=2, num_blocks=2))
    randomise(model, 0.01)
    names = {"phi": "f", "psi": "p", "rho": "r", "eta": "y"}
    files: dict[str, dict[str, torch.Tensor]] = {"1": {}, "2": {}, "3": {}}
    for key, value in model.state_dict().items():
        parts = key.split(".")
        if parts[0] == "stages":
            name = f"module.model.inv{int(parts[3]) + 1}.{names[parts[4]]}.dense." + ".".join(
                parts[5:]
            )
            files[str(int(parts[1]) + 1)][name] = value
        else:
            files["3"]["module." + ".".join(parts[2:])] = value
    files["3"]["module.nonlocal_block.g.0.weight"] = torch.zeros(1, 3, 1, 1)  # unused, dropped
    for k, state in files.items():
        torch.save({"net": state, "opt": {}}, tmp_path / f"m_{k}.pt")
    loaded = load_deepmih_checkpoints(
        [tmp_path / "m_1.pt", tmp_path / "m_2.pt"], [tmp_path / "m_3.pt"]
    )
    assert loaded.config.legacy_secret_slot
    cover, s1, s2 = images(3)
    with torch.no_grad():
        assert torch.equal(loaded.hide(cover, [s1, s2]).stego, model.hide(cover, [s1, s2]).stego)


def test_wrong_secret_count_is_refused() -> None:
    cover, s1, s2 = images(3)
    with pytest.raises(ValueError, match="hides 1 secret"):
        tiny_hinet().hide(cover, [s1, s2])
    with pytest.raises(ValueError, match="2 or 3"):
        DeepMIH(DeepMIH.Config(num_secrets=4, num_blocks=1))


def test_quantize_ste_rounds_forward_and_passes_gradient() -> None:
    x = torch.tensor([-0.1, 0.31, 0.5019, 1.2], requires_grad=True)
    y = quantize_ste(x)
    assert torch.allclose(y, torch.tensor([0.0, 79 / 255, 128 / 255, 1.0]))
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones(4))  # type: ignore[arg-type]


def test_architectures_are_registered_and_default_to_published_sizes() -> None:
    assert {"hinet", "deepmih"} <= set(ARCHITECTURES)
    hinet = ARCHITECTURES["hinet"](HiNet.Config())
    assert sum(p.numel() for p in hinet.parameters()) == 4_050_240  # as published
    deepmih = ARCHITECTURES["deepmih"](DeepMIH.Config(num_secrets=3, num_blocks=1))
    assert deepmih.num_secrets == 3


@pytest.mark.parametrize("arch", ["hinet", "deepmih"])
def test_memory_saving_training_gives_the_same_gradients(arch: str) -> None:
    grads = []
    for saving in (False, True):
        if arch == "hinet":
            model: HidingModel = randomise(
                HiNet(HiNet.Config(num_blocks=2, growth=8, memory_saving=saving))
            )
        else:
            model = randomise(
                DeepMIH(
                    DeepMIH.Config(
                        num_blocks=2, growth=8, map_width=8, map_growth=8, memory_saving=saving
                    )
                )
            )
        cover, *secrets = images(1 + model.num_secrets)
        hidden, revealed = model(cover, secrets, generator=torch.Generator().manual_seed(0))
        loss = sum(((r - s) ** 2).sum() for r, s in zip(revealed.secrets, secrets))
        (loss + ((hidden.stego - cover) ** 2).sum()).backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters()]))  # type: ignore[union-attr]
    assert float((grads[0] - grads[1]).abs().max()) <= 1e-5 * float(grads[0].abs().max())
