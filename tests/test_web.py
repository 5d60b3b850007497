"""The web page's handlers, options and layout, in-process (no server, no browser).

The handlers are what the page's buttons call, so these tests check what a
user of the page gets: results identical to the library's, PNG metadata the
CLI reads, numbers from invimg.metrics, and one clear message for every bad
input. ``test_web_browser.py`` drives the same page through a real browser.
"""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("gradio", reason="the web page needs gradio (pip install 'invimg[web]')")

import gradio as gr

import invimg
from invimg.errors import UsageError
from invimg.hiding.deepmih import DeepMIH
from invimg.interfaces.cli import _register_commands, app
from invimg.interfaces.web import (
    Limits,
    ServeOptions,
    check_host,
    check_options,
    check_port,
    hiding_tab,
    page,
    parts,
    rescaling_tab,
    server,
)
from invimg.interfaces.web.options import private_temp_dir
from invimg.interfaces.web.server import launch_options
from invimg.io import read_png_metadata
from invimg.metrics import quality_report
from invimg.rescaling.color import IRNColor
from invimg.zoo import save_pretrained

# Outside a running page, gr.Warning falls back to Python warnings: expected here.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:gradio.helpers")

ASSETS = Path(invimg.__file__).parent / "assets"
LIMITS = Limits()

_register_commands()


@pytest.fixture(autouse=True)
def gradio_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Results go where a server's would: into Gradio's cache (here a private folder)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    return cache


def crop(name: str, path: Path, size: tuple[int, int] = (128, 128), left: int = 0) -> str:
    """A crop of a bundled photo (``c``over or ``s``ecret), saved where an upload would be."""
    w, h = size
    name = {"c": "cover", "s": "secret"}.get(name, name)
    Image.open(ASSETS / f"{name}.png").crop((left, 0, left + w, h)).save(path)
    return str(path)


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def table_row(report: str, label: str) -> list[float]:
    """The numbers of the report's table row that starts with ``label``."""
    row = next(line for line in report.splitlines() if line.startswith(f"| {label}"))
    return [float(cell) for cell in re.findall(r"\| ([0-9.]+)", row)]


def page_error(call: Callable[[], Any]) -> str:
    """The one-line message a handler shows on the page."""
    with pytest.raises(gr.Error) as caught:
        call()
    message = str(caught.value.message)
    assert "\n" not in message and "Traceback" not in message
    return message


# -- hiding ------------------------------------------------------------------------------


def test_hide_then_reveal_gives_the_library_results_and_its_numbers(tmp_path: Path) -> None:
    cover, secret = crop("cover", tmp_path / "cover.png"), crop("secret", tmp_path / "s.png")
    stego, check, *empty, summary, files = hiding_tab.hide_images(
        LIMITS, "hinet-small", cover, [secret, None, None]
    )
    assert empty == [None, None] and files == [stego] and Path(stego).name == "cover-stego.png"
    expected = invimg.hide(pixels(cover), pixels(secret))
    np.testing.assert_array_equal(pixels(stego), expected)
    np.testing.assert_array_equal(pixels(check), invimg.reveal(expected)[0])
    assert read_png_metadata(stego)["invimg:model"] == "hinet-small"  # `invimg reveal` reads it
    measured = quality_report(pixels(cover), expected)
    assert table_row(summary, "stego vs cover")[0] == pytest.approx(measured["psnr_rgb"], abs=0.01)

    outs = hiding_tab.reveal_images(LIMITS, hiding_tab.RECORDED, stego, [secret])
    revealed, *_, summary, files = outs
    assert files == [revealed] and Path(revealed).name == "cover-secret.png"
    np.testing.assert_array_equal(pixels(revealed), pixels(check))
    psnr = quality_report(pixels(secret), pixels(revealed))["psnr_rgb"]
    assert table_row(summary, "revealed secret 1")[0] == pytest.approx(psnr, abs=0.01)
    assert psnr > 20 and "⚠" not in summary  # recorded model found: no warning


def test_hide_with_refine_steps_gives_the_library_refined_stego(tmp_path: Path) -> None:
    cover, secret = crop("cover", tmp_path / "cover.png"), crop("secret", tmp_path / "s.png")
    stego, *_, summary, _ = hiding_tab.hide_images(LIMITS, "hinet-small", cover, [secret], 2)
    expected = invimg.hide(pixels(cover), pixels(secret), refine=2)
    np.testing.assert_array_equal(pixels(stego), expected)
    assert "refined for 2 steps" in summary


def test_a_resized_secret_is_noted_once_and_measured_at_the_cover_size(tmp_path: Path) -> None:
    cover = crop("cover", tmp_path / "cover.png")
    secret = crop("secret", tmp_path / "small.png", (96, 80))
    *_, summary, _ = hiding_tab.hide_images(LIMITS, "hinet-small", cover, [secret])
    assert summary.count("resized to the cover") == 1
    assert len(table_row(summary, "secret 1 revealed")) == 4


def test_reveal_without_the_original_asks_for_it(tmp_path: Path) -> None:
    stego = crop("cover", tmp_path / "plain.png")  # no metadata: the page says so
    *_, summary, _ = hiding_tab.reveal_images(LIMITS, hiding_tab.RECORDED, stego, [None])
    assert "Give the original secret" in summary and "no `invimg hide` metadata" in summary


def test_the_secret_slots_follow_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A two-secret DeepMIH (tiny, untrained) gets two secret inputs, results and files."""
    config = DeepMIH.Config(num_secrets=2, num_blocks=1, growth=4, map_width=4, map_growth=4)
    card = str(save_pretrained(DeepMIH(config), tmp_path, "two", {"task": "hiding"}).path)
    monkeypatch.setattr(hiding_tab, "models", lambda: ["hinet-small", card])
    demo = page.build_page(ServeOptions())
    (show_slots,) = [fn.fn for fn in demo.fns.values() if fn.name == "show_slots"]
    assert [u["visible"] for u in show_slots(card)] == [True, True, False] * 2
    images = [crop(n, tmp_path / f"{i}.png", (64, 64), 8 * i) for i, n in enumerate("css")]
    message = page_error(lambda: hiding_tab.hide_images(LIMITS, card, images[0], [images[1]]))
    assert "no secret 2 image" in message
    stego, *checks, _, files = hiding_tab.hide_images(LIMITS, card, *images[:1], images[1:])
    assert checks[2] is None and all(Path(c).is_file() for c in checks[:2])
    *secrets, _, _, files = hiding_tab.reveal_images(LIMITS, "recorded", stego, [None])
    assert (
        [Path(f).name for f in files]
        == ["0-secret-1.png", "0-secret-2.png"]
        == [Path(p).name for p in secrets]
    )


# -- rescaling -----------------------------------------------------------------------------


def test_downscale_then_upscale_restores_the_original_size(tmp_path: Path) -> None:
    image = crop("cover", tmp_path / "photo.png", (127, 125))  # odd sides: padded, cropped back
    small, restored, summary, files = rescaling_tab.downscale_image(LIMITS, "irn-x2-small", image)
    assert files == [small] and pixels(small).shape == (63, 64, 3)
    np.testing.assert_array_equal(
        pixels(small), invimg.downscale(pixels(image), model="irn-x2-small")
    )
    assert read_png_metadata(small)["invimg:size"] == "127x125"
    measured = quality_report(pixels(image), pixels(restored), crop_border=2)
    assert table_row(summary, "restored")[2] == pytest.approx(measured["psnr_y"], abs=0.01)

    big, summary, files = rescaling_tab.upscale_image(LIMITS, rescaling_tab.RECORDED, small, image)
    assert files == [big] and pixels(big).shape == (125, 127, 3)
    np.testing.assert_array_equal(pixels(big), pixels(restored))
    assert table_row(summary, "result vs original")[2] == pytest.approx(measured["psnr_y"], 0.01)


def test_upscale_refuses_a_result_over_the_pixel_limit(tmp_path: Path) -> None:
    small = crop("cover", tmp_path / "small.png", (64, 64))
    limits = Limits(max_pixels=100 * 100)  # the 64² input fits, its ×2 result does not
    message = page_error(lambda: rescaling_tab.upscale_image(limits, "irn-x2-small", small, None))
    assert "128×128" in message and "--max-pixels" in message


@pytest.fixture
def colour_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A tiny untrained IRN-Color model, offered by the page as if it were shipped."""
    save_pretrained(IRNColor(IRNColor.Config(blocks=1, growth=4)), tmp_path, "colour", {})
    card = str(tmp_path / "colour.json")
    monkeypatch.setattr(rescaling_tab, "colour_models", lambda: [card])
    return card


def test_the_colour_tab_appears_only_with_a_colour_model(colour_card: str, tmp_path: Path) -> None:
    titles = [cap.title for cap in page.capabilities()]
    assert {"Hide images", "Rescale", "Colour"} <= set(titles)
    image = crop("cover", tmp_path / "photo.png", (64, 64))
    grey, restored, summary, _ = rescaling_tab.decolorize_image(LIMITS, colour_card, image)
    grey_pixels = pixels(grey)
    assert (grey_pixels[..., 0] == grey_pixels[..., 2]).all()
    assert read_png_metadata(grey)["invimg:task"] == "decolorization"
    colour, summary, _ = rescaling_tab.colorize_image(LIMITS, rescaling_tab.RECORDED, grey, image)
    np.testing.assert_array_equal(pixels(colour), pixels(restored))
    assert len(table_row(summary, "result vs original")) == 4


def test_shipped_models_decide_which_tabs_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = [cap.title for cap in page.capabilities()]
    assert ("Colour" in shown) == bool(rescaling_tab.colour_models())
    monkeypatch.setattr(hiding_tab, "models", lambda: [])
    assert "Hide images" not in [cap.title for cap in page.capabilities()]


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "limits", "fragments"),
    [
        (None, LIMITS, ("no cover image",)),
        ("text", LIMITS, ("cover (cover.png)", "not a recognised image")),
        ("photo", Limits(max_pixels=1000), ("cover (cover.png) is 128×128", "--max-pixels")),
        ("photo", Limits(max_upload_bytes=1000), ("cover (cover.png) is", "--max-upload-mb")),
        ("gone", LIMITS, ("cover upload has expired",)),
    ],
)
def test_bad_uploads_are_one_clear_message(
    tmp_path: Path, make: str | None, limits: Limits, fragments: tuple[str, ...]
) -> None:
    secret = crop("secret", tmp_path / "secret.png")
    upload = tmp_path / "upload" / "cover.png"
    upload.parent.mkdir()
    if make == "text":
        upload.write_text("not an image\n")
    elif make == "photo":
        crop("cover", upload)
    message = page_error(
        lambda: hiding_tab.hide_images(
            limits, "hinet-small", str(upload) if make else None, [secret]
        )
    )
    assert all(f in message for f in fragments), message
    assert str(tmp_path) not in message  # the user's file name, not the server's path


def test_a_stego_from_another_task_is_refused(tmp_path: Path) -> None:
    image = crop("cover", tmp_path / "photo.png", (64, 64))
    small, *_ = rescaling_tab.downscale_image(LIMITS, "irn-x2-small", image)
    message = page_error(lambda: hiding_tab.reveal_images(LIMITS, "recorded", small, [None]))
    assert "'rescaling', not hiding" in message and str(tmp_path) not in message


def test_button_inputs_arrive_raw_and_are_checked() -> None:
    """Events skip Gradio's preprocessing: uploads come as file records, choices unchecked."""
    assert parts.upload_path({"path": "/cache/x/cover.png", "orig_name": "c.png"}) == (
        "/cache/x/cover.png"
    )
    assert parts.upload_path(None) is None and parts.upload_path("/a.png") == "/a.png"
    assert parts.pick("hinet-small", ["hinet-small"]) == "hinet-small"
    assert "unknown choice '/etc/card.json'" in page_error(
        lambda: parts.pick("/etc/card.json", ["hinet-small"])
    )


def test_an_internal_error_is_one_line_without_a_traceback() -> None:
    @parts.on_page
    def broken() -> None:
        raise RuntimeError("a bug\nover two lines")

    assert page_error(broken).startswith("internal error (RuntimeError)")


def test_warnings_stay_with_the_request_that_raised_them() -> None:
    """Requests run in threads at once; each page shows only its own notes."""
    barrier = threading.Barrier(2)
    reports: dict[str, str] = {}

    @parts.on_page
    def handler(name: str) -> None:
        parts.note(f"note of {name}")
        barrier.wait(timeout=10)  # both requests are now inside, notes recorded
        parts.note(f"second note of {name}")
        barrier.wait(timeout=10)
        reports[name] = parts.report([], "")

    threads = [threading.Thread(target=handler, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reports == {n: f"⚠ note of {n}\n\n⚠ second note of {n}" for n in ("a", "b")}


# -- the page, the server's options, the command ----------------------------------------


def test_the_page_has_a_tab_per_capability_and_one_bounded_queue() -> None:
    demo = page.build_page(ServeOptions(concurrency=2))
    tabs = [b.label for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert {"Hide images", "Hide", "Reveal", "Rescale", "Downscale", "Upscale"} <= set(tabs)
    model_events = [
        fn for fn in demo.fns.values() if fn.api_name in ("hide", "reveal", "downscale", "upscale")
    ]
    assert len(model_events) == 4
    assert {(fn.concurrency_id, fn.concurrency_limit) for fn in model_events} == {
        (page.MODEL_QUEUE, 2)
    }


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    check_host(host, allow_remote=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.2", "example.org", "::"])
def test_other_hosts_need_allow_remote_and_then_warn(host: str) -> None:
    with pytest.raises(UsageError, match="--allow-remote"):
        check_host(host, allow_remote=False)
    with pytest.warns(UserWarning, match="anyone who can reach this port"):
        check_host(host, allow_remote=True)


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(UsageError, match="--keep-files"):
        check_options(ServeOptions(keep_files=0))
    with pytest.raises(UsageError, match="--port"):
        check_options(ServeOptions(port=70000))


def test_serve_with_a_public_host_is_one_error_line_before_anything_starts() -> None:
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: --host 0.0.0.0 would let other machines use this page (it has no login); "
        "add --allow-remote if that is what you want"
    ]


def test_a_port_in_use_is_refused_before_gradio_loads() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"127.0.0.1:{port}: the port is in use"):
            check_port("127.0.0.1", port)


def test_the_server_stays_offline_and_cleans_its_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADIO_TEMP_DIR")
    options = launch_options(ServeOptions())
    assert options["share"] is False and options["server_name"] == "127.0.0.1"
    assert options["quiet"] is True  # Gradio's "set share=True" advice is not for CLI users
    assert options["max_file_size"] == Limits().max_upload_bytes
    with private_temp_dir() as folder:
        assert gr.utils.get_upload_folder() == folder
        assert Path(folder).stat().st_mode & 0o077 == 0  # private to this user
        (Path(folder) / "result.png").write_bytes(b"x")
    assert not Path(folder).exists() and "GRADIO_TEMP_DIR" not in __import__("os").environ


def test_serve_prints_its_own_address_and_stops_on_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line of ours instead of Gradio's banner; Ctrl-C reaches the CLI (exit 130)."""

    class Demo:
        is_running = True
        local_url = "http://127.0.0.1:7860/"

        def __init__(self) -> None:
            self.launched: dict[str, Any] = {}

        def launch(self, **options: Any) -> None:
            self.launched = options

        def close(self, verbose: bool = True) -> None:
            self.is_running = False

    def ctrl_c(demo: object) -> None:
        raise KeyboardInterrupt

    demo = Demo()
    monkeypatch.setattr(server, "build_app", lambda options: demo)
    monkeypatch.setattr(server, "_wait_until_closed", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        server.serve(ServeOptions())
    printed = capsys.readouterr().out
    assert printed == "serving the page on http://127.0.0.1:7860/ (Ctrl-C stops it)\n"
    assert demo.launched["quiet"] is True and demo.launched["prevent_thread_lock"] is True
    assert not demo.is_running  # closed on the way out
