"""``invimg invert`` / ``invimg features``, the Python API and the training task, end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from invimg.interfaces import cli
from invimg.inversion import RotNet
from invimg.inversion.api import run_inversion
from invimg.inversion.task import inversion_task
from invimg.io import read_png_metadata
from invimg.training import load_config
from invimg.zoo import save_pretrained

cli._register_commands()
FAST = ("--iterations", "12", "--quiet")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with a 64×48 photo crop and a module holding a tiny network factory."""
    monkeypatch.chdir(tmp_path)
    photo = Image.open(Path(cli.__file__).parents[1] / "assets" / "cover.png").convert("RGB")
    photo.resize((64, 48)).save(tmp_path / "photo.png")
    (tmp_path / "tinynets.py").write_text(
        "import torch\n"
        "def small() -> torch.nn.Module:\n"
        "    torch.manual_seed(0)\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU())\n"
    )
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli.app, list(args))
    return result.exit_code, result.output


def test_invert_writes_the_hog_pre_image_with_metadata(work: Path) -> None:
    code, out = run("invert", "photo.png", "-o", "out.png", "--features", "hog", *FAST)
    assert code == 0, out
    assert "wrote out.png (hog:" in out
    image = np.asarray(Image.open(work / "out.png").convert("RGB"))
    assert image.shape == (48, 64, 3)
    assert (image[..., 0] == image[..., 1]).all()  # HOG sees grey: a grey pre-image
    assert image.min() == 0 and image.max() == 255  # shown stretched, as the paper
    assert read_png_metadata(work / "out.png")["invimg:features"] == "hog"
    code, out = run("invert", "photo.png", "-o", "out.png", *FAST)
    assert code == 4 and out.startswith("error:") and "--force" in out


def test_saved_features_invert_without_the_image(work: Path) -> None:
    code, out = run("features", "photo.png", "-o", "f.safetensors", "--features", "dsift:4")
    assert code == 0, out
    code, out = run("invert", "f.safetensors", "-o", "back.png", *FAST)
    assert code == 0, out
    assert Image.open(work / "back.png").size == (64, 48)
    code, out = run("invert", "f.safetensors", "-o", "x.png", "--features", "hog", *FAST)
    assert code == 2 and "holds 'dsift:4' features" in out
    (work / "broken.safetensors").write_bytes(b"not a tensor file")
    code, out = run("invert", "broken.safetensors", "-o", "y.png", *FAST)
    assert code == 3 and out.count("\n") == 1
    assert not (work / "x.png").exists() and not (work / "y.png").exists()


def test_any_importable_network_layer_can_be_inverted(work: Path) -> None:
    spec = "torch:tinynets.small:0,1"  # two layers: a contact sheet
    code, out = run("invert", "photo.png", "-o", "sheet.png", "--features", spec, *FAST)
    assert code == 0, out
    assert "0:" in out and "1:" in out
    width, height = Image.open(work / "sheet.png").size
    assert width > 3 * 64 and height > 48  # original + two captioned tiles
    code, out = run("invert", "photo.png", "-o", "z.png", "--features", "torch:tinynets.small:9")
    assert code == 2 and "no layer '9'" in out


def test_bad_options_are_one_line_usage_errors(work: Path) -> None:
    for args in (
        ("--features", "sift"),
        ("--preset", "eccv"),
        ("--method", "guess"),
        ("--features", "hog", "--mean", "1,2"),
        ("--features", "dsift", "--method", "decoder"),
    ):
        code, out = run("invert", "photo.png", "-o", "bad.png", *args, *FAST)
        assert code == 2, (args, out)
        assert out.startswith("error:") and out.count("\n") == 1, out
    assert not (work / "bad.png").exists()


def test_the_shipped_decoder_is_the_learned_baseline(work: Path) -> None:
    code, out = run("invert", "photo.png", "-o", "dec.png", "--method", "decoder", "--quiet")
    assert code == 0, out
    assert Image.open(work / "dec.png").size == (64, 48)


def test_python_api_inverts_a_network_object_and_a_feature_tensor(work: Path) -> None:
    from invimg.inversion import TorchFeatures

    net = RotNet(RotNet.Config(width=4, hidden=8))
    rep = TorchFeatures(net, "pool1")
    result = run_inversion(str(work / "photo.png"), rep, iterations=10)
    assert result.image.shape == (48, 64, 3) and result.image.dtype == np.uint8
    assert rep.stride == 4 and 0 < result.relative_error < 200
    again = run_inversion(target=result.target, features=rep, size=(48, 64), iterations=10)
    assert again.image.shape == (48, 64, 3)
    with pytest.raises(Exception, match="do not come from a 64×64 image"):
        run_inversion(target=result.target, features=rep, size=(64, 64), iterations=10)


@pytest.mark.parametrize("kind", ["hog-decoder", "rotnet"])
def test_the_training_task_gives_every_parameter_a_gradient(kind: str) -> None:
    model = {"kind": kind, "width": 8}
    config = load_config(
        {"task": "inversion", "model": model, "data": {"train": ["x"], "augment": False}}
    )
    task = inversion_task(config)
    net = task.build_model()
    loss, terms = task.training_step(net, torch.rand(2, 3, 32, 32), 0)
    loss.backward()
    assert torch.isfinite(loss) and terms
    assert all(p.grad is not None for p in net.parameters())
    net.eval()
    assert task.validation_step(net, torch.rand(2, 3, 32, 32))


def test_the_rotnet_card_loads_through_the_zoo(tmp_path: Path) -> None:
    net = RotNet(RotNet.Config(width=4, hidden=8))
    card = save_pretrained(net, tmp_path, "tiny-rot", {"task": "inversion"})
    from invimg.inversion.specs import representation

    rep = representation(f"torch:{card.path}:conv2")
    assert tuple(rep(torch.rand(1, 3, 32, 32)).shape) == (1, 8, 8, 8)
