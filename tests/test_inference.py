"""Inference backends agree: the exported ONNX graphs in ONNX Runtime against eager PyTorch.

Random models (their last convolutions made non-zero, so every coupling
does something) at sizes other than the export's example, so the dynamic
height and width are exercised. The bars are issue #18's: float outputs
within 1e-5, 8-bit outputs identical in at least 99.99 % of values,
Steg-cINN's payload exact whichever backend wrote or reads it. Timing is
the benchmarks' business (benchmarks/speed_backends.py), not the tests'.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import invimg
from invimg.errors import UsageError
from invimg.hiding.deepmih import DeepMIH
from invimg.hiding.hinet import HiNet
from invimg.inference import (
    choose_backend,
    clear_sessions,
    export_onnx,
    graph_for,
    kinds_of,
    run_graph,
)
from invimg.inference import runtime as runtime_module
from invimg.rescaling.irn import IRN

pytest.importorskip("onnxruntime")

FLOAT_TOL = 1e-5
MIN_SAME_8BIT = 0.9999


def _randomised(model: nn.Module, std: float = 0.05) -> nn.Module:
    """``model`` with every weight drawn afresh (the zero-initialised layers too)."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * std)
    return model.eval()


def _rand(*shape: int, seed: int = 0) -> Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def _max_diff(a: list[Tensor], b: list[Tensor]) -> float:
    assert [t.shape for t in a] == [t.shape for t in b]
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def _same_fraction(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    return float(np.mean(a == b))


def _both(model: nn.Module, kind: str, inputs: list[Tensor]) -> float:
    """Max-abs difference between eager and ONNX Runtime on one graph, in units of the
    output's range where that exceeds 1 (float32 rounding grows with the values: a
    random IRN's inverse of a unit Gaussian z reaches beyond the [0, 1] of images)."""
    eager = run_graph(model, kind, inputs, "torch")
    onnx = run_graph(model, kind, inputs, "onnxruntime")
    scale = max(1.0, max(float(t.abs().max()) for t in eager))
    return _max_diff(eager, onnx) / scale


@pytest.fixture(scope="module")
def hinet() -> HiNet:
    return _randomised(HiNet(HiNet.Config(num_blocks=2, growth=8)), 0.03)  # type: ignore[return-value]


@pytest.fixture(scope="module")
def irn4() -> IRN:
    return _randomised(IRN(IRN.Config(scale=4, blocks=2, growth=8)))  # type: ignore[return-value]


# -- hiding ------------------------------------------------------------------------------


def test_hinet_graphs_match_eager_at_a_new_size(hinet: HiNet) -> None:
    cover, secret = _rand(2, 3, 96, 130, seed=1), _rand(2, 3, 96, 130, seed=2)
    assert _both(hinet, "hide", [cover, secret]) <= FLOAT_TOL
    z = torch.randn(2, 12, 48, 65, generator=torch.Generator().manual_seed(3))
    assert _both(hinet, "reveal", [cover, z]) <= FLOAT_TOL


def test_hide_and_reveal_api_agree_across_backends(hinet: HiNet) -> None:
    cover, secret = _rand(1, 3, 201, 170, seed=4), _rand(1, 3, 201, 170, seed=5)
    stegos = {b: invimg.hide(cover, secret, model=hinet, backend=b) for b in ("torch", "auto")}
    assert _same_fraction(stegos["torch"], stegos["auto"]) >= MIN_SAME_8BIT
    for z in ("zeros", "gaussian"):
        got = {
            b: invimg.reveal(stegos["torch"], model=hinet, z=z, seed=7, backend=b)[0]
            for b in ("torch", "onnxruntime")
        }
        assert _same_fraction(got["torch"], got["onnxruntime"]) >= MIN_SAME_8BIT


def test_tiled_hiding_uses_the_graph_per_tile(hinet: HiNet) -> None:
    cover, secret = _rand(1, 3, 160, 96, seed=6), _rand(1, 3, 160, 96, seed=7)
    whole = invimg.hide(cover, secret, model=hinet, backend="torch", tile=64)
    tiled = invimg.hide(cover, secret, model=hinet, backend="onnxruntime", tile=64)
    assert _same_fraction(whole, tiled) >= MIN_SAME_8BIT


def test_deepmih_graphs_match_eager() -> None:
    config = DeepMIH.Config(num_secrets=2, num_blocks=1, growth=8, map_width=8, map_growth=8)
    net = _randomised(DeepMIH(config), 0.03)
    images = [_rand(1, 3, 64, 80, seed=s) for s in range(3)]
    assert _both(net, "hide", images) <= FLOAT_TOL
    zs = net.make_z(images[0], "gaussian", torch.Generator().manual_seed(0))  # type: ignore[operator]
    assert _both(net, "reveal", [images[0], *zs]) <= FLOAT_TOL


# -- rescaling ---------------------------------------------------------------------------


def test_irn_x4_graphs_match_eager(irn4: IRN) -> None:
    hr = _rand(1, 3, 136, 200, seed=8)
    assert _both(irn4, "down", [hr]) <= FLOAT_TOL
    joint = torch.cat((_rand(1, 3, 34, 50, seed=9), torch.randn(1, 45, 34, 50)), 1)
    assert _both(irn4, "up", [joint]) <= FLOAT_TOL


def test_downscale_and_upscale_api_agree_across_backends(irn4: IRN) -> None:
    photo = _rand(1, 3, 203, 250, seed=10)
    lr = {b: invimg.downscale(photo, model=irn4, backend=b, tile=32) for b in ("torch", "auto")}
    assert lr["torch"].shape == (51, 63, 3)
    assert _same_fraction(lr["torch"], lr["auto"]) >= MIN_SAME_8BIT
    hr = {
        b: invimg.upscale(lr["torch"], model=irn4, z="gaussian", backend=b, tile=32)
        for b in ("torch", "onnxruntime")
    }
    assert _same_fraction(hr["torch"], hr["onnxruntime"]) >= MIN_SAME_8BIT


# -- the other shipped graphs ------------------------------------------------------------


def test_steg_cinn_payload_is_exact_whichever_backend_wrote_or_reads_it() -> None:
    cover = _rand(1, 3, 64, 96, seed=11)
    message = b"backends agree"
    for writer in ("torch", "onnxruntime"):
        stego = invimg.embed(cover, message, seed=0, backend=writer)
        for reader in ("torch", "onnxruntime"):
            assert invimg.extract(stego, backend=reader) == message


def test_steg_cinn_latent_signs_are_identical() -> None:
    net = invimg.load("steg-cinn").eval()
    lab = torch.cat((100 * _rand(1, 1, 64, 96, seed=12), 60 * torch.randn(1, 2, 64, 96)), 1)
    eager, onnx = (
        run_graph(net, "extract", [lab[:, 1:], lab[:, :1]], b)[0] for b in ("torch", "onnxruntime")
    )
    assert torch.equal(torch.sign(eager), torch.sign(onnx))


@pytest.mark.parametrize("name", ["pdgan-small", "hog-decoder"])
def test_generator_and_decoder_graphs_match_eager(name: str) -> None:
    net = invimg.load(name).eval()
    (kind,) = kinds_of(net)
    graph = graph_for(net, kind)
    assert graph is not None
    doubled = [torch.cat((t, t.flip(-1)), -1) if t.dim() == 4 else t for t in graph.example()]
    assert _both(net, kind, doubled) <= FLOAT_TOL


def test_inpaint_api_agrees_across_backends() -> None:
    image = (255 * _rand(1, 3, 40, 56, seed=17)).squeeze(0).permute(1, 2, 0).numpy()
    hole = np.zeros((40, 56), dtype=bool)
    hole[10:26, 14:40] = True
    fills = {
        b: invimg.inpaint(image.astype(np.uint8), hole, n=2, seed=3, backend=b)
        for b in ("torch", "onnxruntime")
    }
    for eager, onnx in zip(fills["torch"], fills["onnxruntime"]):
        assert _same_fraction(eager, onnx) >= MIN_SAME_8BIT
        assert int(np.abs(eager.astype(int) - onnx.astype(int)).max()) <= 1


def test_hog_decoder_inversion_agrees_across_backends() -> None:
    from invimg.inversion.api import run_inversion

    image = _rand(1, 3, 64, 72, seed=18)
    results = {
        b: run_inversion(image, "hog", method="decoder", backend=b)
        for b in ("torch", "onnxruntime")
    }
    assert _max_diff([results["torch"].raw], [results["onnxruntime"].raw]) <= FLOAT_TOL
    assert _same_fraction(results["torch"].image, results["onnxruntime"].image) >= MIN_SAME_8BIT


# -- export, choice and fallback ---------------------------------------------------------------


def test_exported_file_is_valid_onnx_with_dynamic_sides(hinet: HiNet, tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    import onnxruntime as ort

    path = export_onnx(hinet, "hide", tmp_path / "hide.onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version == 17
    dims = [d.dim_param for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims[2] and dims[3]  # named, i.e. free, height and width
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    cover, secret = _rand(1, 3, 40, 58, seed=13), _rand(1, 3, 40, 58, seed=14)
    (stego,) = session.run(None, {"cover": cover.numpy(), "secret1": secret.numpy()})
    eager = run_graph(hinet, "hide", [cover, secret], "torch")[0]
    assert float(np.abs(stego - eager.numpy()).max()) <= FLOAT_TOL


def test_every_shipped_model_with_a_graph_lists_its_kinds() -> None:
    assert kinds_of(invimg.load("hinet-small")) == ["hide", "reveal"]
    assert kinds_of(invimg.load("irn-x2-small")) == ["down", "up"]
    assert kinds_of(invimg.load("steg-cinn")) == ["embed", "extract"]
    assert kinds_of(invimg.load("riis-small")) == ["hide"]  # its reveal depends on the channel


def test_auto_picks_onnxruntime_and_falls_back_to_eager(
    hinet: HiNet, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert choose_backend(hinet, "hide") == "onnxruntime"
    assert choose_backend(invimg.load("riis-small"), "reveal") == "torch"
    monkeypatch.setattr(runtime_module, "runtime_available", lambda name: False)
    assert choose_backend(hinet, "hide", "auto") == "torch"
    with pytest.warns(UserWarning, match="not installed"):
        assert choose_backend(hinet, "hide", "openvino") == "torch"
    monkeypatch.setenv("INVIMG_BACKEND", "torch")
    monkeypatch.setattr(runtime_module, "runtime_available", lambda name: True)
    assert choose_backend(hinet, "hide") == "torch"


def test_unknown_backend_is_a_usage_error(hinet: HiNet) -> None:
    with pytest.raises(UsageError, match="backend must be one of"):
        invimg.hide(_rand(1, 3, 8, 8), _rand(1, 3, 8, 8), model=hinet, backend="tensorrt")


def test_sessions_are_cached_and_follow_the_weights(hinet: HiNet) -> None:
    clear_sessions()
    x = [_rand(1, 3, 32, 32, seed=15), _rand(1, 3, 32, 32, seed=16)]
    run_graph(hinet, "hide", x, "onnxruntime")
    run_graph(hinet, "hide", [t[..., :16, :24] for t in x], "onnxruntime")  # another size
    assert len(runtime_module._SESSIONS) == 1
    changed = _randomised(HiNet(HiNet.Config(num_blocks=2, growth=8)), 0.03)
    changed.load_state_dict(hinet.state_dict())
    with torch.no_grad():
        next(changed.parameters()).add_(0.5)  # new weights: a new graph, never a stale one
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _both(changed, "hide", x) <= FLOAT_TOL
    assert len(runtime_module._SESSIONS) == 2


# -- command line ------------------------------------------------------------------------


def test_cli_export_onnx_and_backend_option(tmp_path: Path) -> None:
    from PIL import Image
    from typer.testing import CliRunner

    from invimg.interfaces import cli
    from invimg.zoo import save_pretrained

    cli._register_commands()
    runner = CliRunner()
    card = save_pretrained(
        _randomised(HiNet(HiNet.Config(num_blocks=1, growth=8)), 0.03), tmp_path, "tiny", {}
    ).path
    result = runner.invoke(cli.app, ["export", str(card), "--onnx", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "tiny-hide.onnx").is_file() and (tmp_path / "tiny-reveal.onnx").is_file()
    again = runner.invoke(cli.app, ["export", str(card), "--onnx", "--out", str(tmp_path)])
    assert again.exit_code == 4  # an existing output needs --force
    rng = np.random.default_rng(0)
    for name in ("c", "s"):
        Image.fromarray(rng.integers(0, 256, (120, 128, 3), dtype=np.uint8)).save(
            tmp_path / f"{name}.png"
        )
    outputs = {}
    for backend in ("torch", "onnxruntime"):
        out = tmp_path / f"stego-{backend}.png"
        args = ["hide", str(tmp_path / "c.png"), str(tmp_path / "s.png"), "-o", str(out)]
        result = runner.invoke(cli.app, [*args, "--model", str(card), "--backend", backend])
        assert result.exit_code == 0, result.output
        outputs[backend] = np.asarray(Image.open(out))
    assert _same_fraction(outputs["torch"], outputs["onnxruntime"]) >= MIN_SAME_8BIT
    gap = np.abs(outputs["torch"].astype(int) - outputs["onnxruntime"].astype(int))
    assert gap.max() <= 1  # a differing value is a rounding tie, one level off
    bad = runner.invoke(cli.app, ["hide", "x.png", "y.png", "-o", "z.png", "--backend", "nope"])
    assert bad.exit_code == 2 and "backend must be one of" in bad.output


@pytest.mark.parametrize(
    "args",
    [
        ["embed", "c.png", "-o", "x.png", "-m", "hi"],
        ["extract", "c.png"],
        ["inpaint", "c.png", "m.png", "-o", "out"],
        ["invert", "c.png", "-o", "x.png", "--method", "decoder"],
    ],
)
def test_every_model_command_takes_the_backend_option(args: list[str], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from invimg.interfaces import cli

    cli._register_commands()
    bad = CliRunner().invoke(cli.app, [*args, "--backend", "nope"])
    assert bad.exit_code == 2 and "backend must be one of" in bad.output
