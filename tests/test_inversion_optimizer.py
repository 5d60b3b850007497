"""The energy, the published optimisers and the papers' error measures."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from invimg.inversion import HOG, PRESETS, Phase, Preset, reconstruct
from invimg.inversion.evaluation import cvpr_error, pairwise_normaliser, relative_error
from invimg.inversion.objective import B, V, alpha_norm, tv_norm
from invimg.inversion.optimizer import _step
from invimg.io import as_image_tensor

ASSETS = Path(__file__).resolve().parents[1] / "src" / "invimg" / "assets"


def test_priors_follow_the_published_formulas() -> None:
    x = torch.randn(1, 3, 4, 5, dtype=torch.float64)
    per_pixel = sum(float(x[0, :, i, j].pow(2).sum()) ** 3 for i in range(4) for j in range(5))
    assert float(alpha_norm(x, 6, per_pixel=True)[0]) == pytest.approx(per_pixel)
    assert float(alpha_norm(x, 6, per_pixel=False)[0]) == pytest.approx(float(x.pow(6).sum()))
    tv = 0.0
    for c in range(3):
        for i in range(4):
            for j in range(5):
                dx = float(x[0, c, i, j + 1] - x[0, c, i, j]) if j < 4 else 0.0
                dy = float(x[0, c, i + 1, j] - x[0, c, i, j]) if i < 3 else 0.0
                tv += (dx * dx + dy * dy) ** 0.5
    assert float(tv_norm(x, 1)[0]) == pytest.approx(tv, rel=1e-5)


def test_the_ijcv_energy_uses_the_published_constants() -> None:
    energy = PRESETS["ijcv2016"].energy(3 * 8 * 8)
    assert (energy.loss_weight, energy.alpha, energy.beta) == (100, 6, 2)
    assert energy.lambda_alpha == pytest.approx(80.0**-6)
    assert energy.lambda_tv == pytest.approx((80 / 6.5) ** -2) and V == B / 6.5
    # per pixel, a norm of B costs 1 and a jump of V to the next row costs 1
    x = torch.zeros(1, 1, 8, 8)
    x[..., ::2, :] = B  # half the pixels at B; 7 of 8 rows jump by B = 6.5 V
    assert float(energy.priors(x)[0]) == pytest.approx(0.5 + (B / V) ** 2 * 7 / 8)


def test_one_step_is_the_published_adagrad_momentum_update() -> None:
    x, grad = torch.tensor([[[[1.0]]]]), torch.tensor([[[[2.0]]]])
    velocity, g_sum = torch.tensor([[[[0.5]]]]), torch.tensor([[[[3.0]]]])
    lr = 10.0
    g = 0.9 * 3.0 + 4.0
    v = 0.9 * 0.5 - 2.0 / (1 / lr + math.sqrt(g))
    _step(x, grad, velocity, g_sum, lr, PRESETS["ijcv2016"])
    assert float(x) == pytest.approx(1.0 + v) and float(g_sum) == pytest.approx(g)
    y = torch.tensor([[[[300.0]], [[400.0]], [[0.0]]]]).view(1, 3, 1, 1)
    _step(y, torch.zeros_like(y), torch.zeros_like(y), torch.zeros_like(y), lr, PRESETS["ijcv2016"])
    assert float(y.pow(2).sum().sqrt()) == pytest.approx(2 * B)  # clamped to 2B = 160


def test_inverting_hog_recovers_the_photo() -> None:
    photo = as_image_tensor(ASSETS / "cover.png")
    rep = HOG()
    grey = rep.prepare(F.interpolate(photo, size=(64, 64), mode="area"))
    target = rep(grey)
    preset = PRESETS["ijcv2016"].scaled(80 / 350)
    losses: list[float] = []
    result = reconstruct(
        rep, target, (64, 64), preset, callback=lambda _, loss: losses.append(float(loss[0]))
    )
    assert result.images.shape == (1, 1, 64, 64) and len(losses) == preset.iterations
    assert losses[-1] < 0.3 * losses[0]
    # HOG keeps each gradient's sign, so the pre-image correlates with the photo itself
    a, b = (t.flatten() - t.mean() for t in (result.images, grey))
    assert float(a @ b / (a.norm() * b.norm())) > 0.25


def test_a_seed_fixes_the_result_and_another_changes_it() -> None:
    rep = HOG(4)
    target = rep(torch.rand(1, 1, 24, 24))
    preset = Preset("tiny", (Phase(5, 50.0), Phase(2, 5.0, jitter=False)))
    a, b = (reconstruct(rep, target, (24, 24), preset, seed=s).images for s in (1, 1))
    c = reconstruct(rep, target, (24, 24), preset, seed=2).images
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_the_cvpr_preset_is_plain_momentum_on_a_size_scaled_energy() -> None:
    preset = PRESETS["cvpr2015"]
    assert [p.iterations for p in preset.phases] == [200] * 4 and preset.bound is None
    assert [p.learning_rate for p in preset.phases] == pytest.approx([4e-3, 4e-4, 4e-5, 4e-6])
    energy = preset.energy(227 * 227 * 3)
    assert energy.loss_weight == pytest.approx(27098.11571533**2)
    assert not energy.per_pixel and energy.lambda_alpha == pytest.approx(4e-10)


def test_error_measures_match_their_definitions() -> None:
    targets = torch.tensor([[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]])
    # squared distances 25, 1, 18 each twice, over 9 ordered pairs
    assert pairwise_normaliser(targets) == pytest.approx(2 * (25 + 1 + 18) / 9)
    found = targets + torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    errors = cvpr_error(found, targets)
    torch.testing.assert_close(errors, 100 * torch.tensor([1.0, 0.0, 4.0]).double() / (88 / 9))
    rel = relative_error(found, targets[:, :] + torch.tensor([[1.0, 1.0], [0, 0], [0, 0]]))
    assert float(rel[2]) == pytest.approx(200.0)
    with pytest.raises(ValueError, match="N >= 2"):
        cvpr_error(found[:1], targets[:1])
