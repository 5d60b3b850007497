"""HOG, HOGb, dense SIFT and the torch-layer wrapper: the numbers a user gets from Φ.

The fast implementations (angles and scattered votes) are checked against a
direct transcription of the authors' networks (``hog_net.m``, ``dsift_net.m``:
2·O directional-derivative filters, argmax or ``acos`` binning, a depthwise
2b×2b triangle convolution, block normalisation by explicit loops).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from invimg.errors import UsageError
from invimg.inversion import HOG, DenseSIFT, TorchFeatures
from invimg.inversion.specs import expand, representation


def reference_cells(grey: Tensor, cell: int, orientations: int, soft: bool, hog: bool) -> Tensor:
    """Cell histograms as the published networks compute them (conv, argmax/acos, conv)."""
    dx = torch.zeros(3, 3, dtype=torch.float64)
    dx[1, 0], dx[1, 2] = -0.5, 0.5
    filters = [
        math.cos(math.pi * k / orientations) * dx + math.sin(math.pi * k / orientations) * dx.t()
        for k in range(2 * orientations)
    ]
    x = grey.double() * 255
    x = F.pad(x, (1, 1, 1, 1), mode="replicate") if hog else x
    resp = F.conv2d(x, torch.stack(filters).unsqueeze(1))
    n = (resp.pow(2).sum(1, keepdim=True) / orientations).sqrt()
    if soft:
        cs = (resp / n.clamp_min(1e-10)).clamp(-1, 1)
        w = (1 - (2 * orientations) / (2 * math.pi) * torch.acos(cs)).clamp_min(0)
    else:
        w = torch.zeros_like(resp).scatter_(1, resp.argmax(1, keepdim=True), 1.0)
    a = 1 - ((torch.arange(1, 2 * cell + 1).double() - (2 * cell + 1) / 2) / cell).abs()
    kernel = (a[:, None] * a[None, :]).expand(2 * orientations, 1, 2 * cell, 2 * cell)
    pad = cell // 2 if hog else 0
    return F.conv2d(n * w, kernel, stride=cell, padding=pad, groups=2 * orientations)


def reference_hog(grey: Tensor, cell: int, soft: bool) -> Tensor:
    h = reference_cells(grey, cell, 9, soft, hog=True)[0]  # (18, rows, cols)
    per_cell = torch.cat((h, h[:9] + h[9:]))
    rows, cols = h.shape[-2:]
    out = torch.zeros_like(per_cell)
    for i in range(rows):
        for j in range(cols):
            for bi in (i - 1, i):
                for bj in (j - 1, j):
                    if 0 <= bi < rows - 1 and 0 <= bj < cols - 1:
                        block = per_cell[18:, bi : bi + 2, bj : bj + 2]
                        norm = max(float(block.pow(2).sum().sqrt()), 1e-6)
                        out[:, i, j] += (per_cell[:, i, j] / norm).clamp(max=0.2)
    return 0.5 * out


@pytest.mark.parametrize(("cell", "binning"), [(8, "hard"), (8, "soft"), (4, "hard")])
def test_hog_equals_the_published_network(cell: int, binning: str) -> None:
    grey = torch.rand(1, 1, 37, 45, dtype=torch.float64)
    ours = HOG(cell, binning=binning).double()(grey)[0]  # type: ignore[arg-type]
    ref = reference_hog(grey, cell, soft=binning == "soft")
    assert ours.shape == ref.shape == (27, (37 - cell) // cell + 1, (45 - cell) // cell + 1)
    torch.testing.assert_close(ours, ref, rtol=1e-6, atol=1e-7)


def test_dense_sift_equals_the_published_network() -> None:
    grey = torch.rand(1, 1, 64, 72, dtype=torch.float64)
    ours = DenseSIFT(5).double()(grey)[0]
    cells = reference_cells(grey, 5, 4, soft=True, hog=False)[0]  # (8, h, w)
    offsets = torch.arange(4.0, dtype=torch.float64) - 1.5
    weights = torch.exp(-0.5 * (offsets[:, None] ** 2 + offsets[None, :] ** 2) / 1.5**2)
    rows, cols = (cells.shape[1] - 4) // 3 + 1, (cells.shape[2] - 4) // 3 + 1
    assert ours.shape == (128, rows, cols)
    for r in range(rows):
        for c in range(cols):
            block = cells[:, 3 * r : 3 * r + 4, 3 * c : 3 * c + 4] * weights
            desc = block.reshape(-1) / (block.pow(2).sum() + 1e-6).sqrt()
            torch.testing.assert_close(ours[:, r, c], desc.clamp(max=0.2), rtol=1e-6, atol=1e-7)


def test_hog_ignores_brightness_and_contrast() -> None:
    grey = torch.rand(2, 1, 64, 64)
    hog = HOG()
    torch.testing.assert_close(hog(0.5 * grey + 0.3), hog(grey), atol=1e-5, rtol=1e-4)
    assert hog(torch.rand(1, 1, 256, 256)).shape == (1, 27, 32, 32)


@pytest.mark.parametrize(
    ("rep", "side"), [(HOG(2, binning="soft"), 8), (DenseSIFT(2), 12), (HOG(2), 8)]
)
def test_gradients_match_finite_differences(rep: nn.Module, side: int) -> None:
    grey = torch.rand(1, 1, side, side, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda x: rep.double()(x), (grey,), eps=1e-6, atol=1e-5, fast_mode=True
    )


def test_a_torch_layer_is_hooked_and_the_rest_of_the_network_never_runs() -> None:
    class Boom(nn.Module):
        def forward(self, x: Tensor) -> Tensor:
            raise AssertionError("the layers after the hooked one must not run")

    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2), Boom()
    )
    phi = TorchFeatures(net, "1", mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(phi(x), net[1](net[0]((x - 0.5) / 0.25)))
    assert phi.centre == (0.5, 0.5, 0.5)
    assert all(not p.requires_grad for p in net.parameters())
    assert TorchFeatures(net, "2").measure_stride(32, 32) == 4


def test_an_unknown_layer_names_the_available_ones() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    with pytest.raises(UsageError, match=r"no layer 'conv9'.*0, 1"):
        TorchFeatures(net, "conv9")


def test_specs_name_every_representation() -> None:
    assert isinstance(representation("hog"), HOG)
    hogb = representation("hogb:4")
    assert isinstance(hogb, HOG) and (hogb.cell_size, hogb.binning) == (4, "soft")
    assert isinstance(representation("dsift:5"), DenseSIFT)
    identity = representation("torch:torch.nn.Identity:")
    assert isinstance(identity, TorchFeatures) and isinstance(identity.net, nn.Identity)
    assert expand("torch:a.b:conv1,conv3") == ["torch:a.b:conv1", "torch:a.b:conv3"]
    assert expand("hog,dsift") == ["hog", "dsift"]
    bad_specs = [
        ("sift", "unknown features"),
        ("hog:1", "cell size"),
        ("torch:nope.nothing.here:x", "cannot import"),
        ("torch:torch.nn.functional.relu:", "not an nn.Module|failed"),
    ]
    for bad, message in bad_specs:
        with pytest.raises(Exception, match=message):
            representation(bad)
