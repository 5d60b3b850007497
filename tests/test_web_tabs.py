"""The "Invert features", "Hide data" and "Inpaint" tabs' handlers, in-process.

As in ``test_web.py``: what a user of the page gets is what the library
gives (same pixels, same numbers, the CLI's metadata), and every bad input is
one clear line. A tab whose capability or shipped model is missing is
skipped with the reason (the page does not show it either).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason="the web page needs gradio (pip install 'invimg[web]')")

import gradio as gr

import invimg
from invimg.interfaces.web import Limits, ServeOptions, page
from invimg.interfaces.web import datahiding_tab as data_tab
from invimg.interfaces.web import inpainting_tab as inpaint_tab
from invimg.interfaces.web import inversion_tab as invert_tab
from invimg.io import read_png_metadata

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:gradio.helpers")

ASSETS = Path(invimg.__file__).parent / "assets"
LIMITS = Limits()
needs_datahiding = pytest.mark.skipif(
    not data_tab.available(), reason="no steg-cinn model shipped: the Hide data tab is hidden"
)
needs_rotnet = pytest.mark.skipif(
    "rotnet-small" not in invert_tab.networks(), reason="rotnet-small is not shipped"
)


@pytest.fixture(autouse=True)
def gradio_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Results go where a server's would: into Gradio's cache (here a private folder)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(cache))
    return cache


def photo(path: Path, size: tuple[int, int] = (48, 48), top: int = 40, left: int = 60) -> str:
    """A crop of the bundled cover photo, saved where an upload would be."""
    w, h = size
    Image.open(ASSETS / "cover.png").convert("RGB").crop((left, top, left + w, top + h)).save(path)
    return str(path)


def pixels(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def page_error(call: Callable[[], Any]) -> str:
    """The one-line message a handler shows on the page."""
    with pytest.raises(gr.Error) as caught:
        call()
    message = str(caught.value.message)
    assert "\n" not in message and "Traceback" not in message
    return message


# -- invert features ------------------------------------------------------------------------


def test_invert_shows_the_library_result_and_the_clis_error(tmp_path: Path) -> None:
    from invimg.inversion.api import run_inversion

    image = photo(tmp_path / "leaf.png")
    original, result, summary, files = invert_tab.invert_image(
        LIMITS, image, "hog", iterations=10, seed=1
    )
    expected = run_inversion(pixels(image), "hog", iterations=10, seed=1)
    np.testing.assert_array_equal(pixels(result), expected.image)
    np.testing.assert_array_equal(pixels(original), pixels(image))
    assert files == [result] and Path(result).name == "leaf-hog-inverted.png"
    assert read_png_metadata(result) == {"invimg:task": "inversion", "invimg:features": "hog"}
    shown = float(re.search(r"Relative error: ([0-9.]+) %", summary).group(1))  # type: ignore[union-attr]
    assert shown == pytest.approx(expected.relative_error, abs=0.05)


def test_the_hog_decoder_answers_in_one_pass_and_only_for_hog(tmp_path: Path) -> None:
    image = photo(tmp_path / "leaf.png")
    _, result, summary, _ = invert_tab.invert_image(LIMITS, image, "hog", method="decoder")
    assert pixels(result).shape == (48, 48, 3) and "decoder (one pass)" in summary
    message = page_error(lambda: invert_tab.invert_image(LIMITS, image, "dsift", "decoder"))
    assert "cannot invert" in message


@needs_rotnet
def test_a_shipped_networks_layers_are_offered_and_inverted(tmp_path: Path) -> None:
    specs = [spec for _, spec in invert_tab.representations()]
    assert {"hog", "hogb", "dsift", "torch:rotnet-small:conv3"} <= set(specs)
    image = photo(tmp_path / "leaf.png", (64, 64))
    _, result, summary, _ = invert_tab.invert_image(
        LIMITS, image, "torch:rotnet-small:conv2", iterations=4
    )
    assert pixels(result).shape == (64, 64, 3) and "Relative error" in summary
    assert read_png_metadata(result)["invimg:features"] == "torch:rotnet-small:conv2"


def test_invert_bounds_the_work_of_one_request(tmp_path: Path) -> None:
    big = photo(tmp_path / "big.png", (300, 240), top=0, left=0)
    message = page_error(lambda: invert_tab.invert_image(LIMITS, big, "hog", iterations=10))
    assert "300×240" in message and "`invimg invert`" in message and str(tmp_path) not in message
    small = photo(tmp_path / "small.png")
    message = page_error(lambda: invert_tab.invert_image(LIMITS, small, "hog", iterations=5000))
    assert f"from 2 to {invert_tab.MAX_ITERATIONS}" in message


# -- hide data ------------------------------------------------------------------------------


@needs_datahiding
def test_embed_then_extract_a_message_with_a_password(tmp_path: Path) -> None:
    from invimg.datahiding.api import capacity, extract
    from invimg.datahiding.evaluation import fidelity

    cover = photo(tmp_path / "cover.png", (96, 96))
    limit = capacity(pixels(cover))
    assert f"holds **{limit:,} bytes**" in data_tab.cover_capacity(LIMITS, cover)
    stego, summary, files = data_tab.embed_data(
        LIMITS, "steg-cinn", cover, "meet at noon", None, "pw"
    )
    assert files == [stego] and read_png_metadata(stego) == {}  # a stego does not announce itself
    assert extract(pixels(stego), "pw") == b"meet at noon"  # what `invimg extract` reads
    measured = fidelity(pixels(cover), pixels(stego))
    row = next(line for line in summary.splitlines() if line.startswith("| stego vs cover"))
    assert f"| {measured['psnr_y']:.2f} | {measured['ssim_y']:.4f} |" in row
    assert "**12 bytes**" in summary and f"holds {limit:,} bytes" in summary

    text, summary, files = data_tab.extract_data(LIMITS, "steg-cinn", stego, "pw")
    assert text == "meet at noon" and files == []
    message = page_error(lambda: data_tab.extract_data(LIMITS, "steg-cinn", stego, "wrong"))
    assert "password" in message.lower()


@needs_datahiding
def test_a_hidden_file_comes_back_as_a_file_with_its_name(tmp_path: Path) -> None:
    cover = photo(tmp_path / "cover.png", (96, 96))
    secret = tmp_path / "upload" / "notes.bin"
    secret.parent.mkdir()
    secret.write_bytes(bytes(range(40)))
    stego, summary, _ = data_tab.embed_data(LIMITS, "steg-cinn", cover, "", str(secret), "")
    assert "file 'notes.bin' of **40 bytes**" in summary and "No password" in summary
    text, summary, files = data_tab.extract_data(LIMITS, "steg-cinn", stego, None)
    assert text == "" and [Path(f).name for f in files] == ["notes.bin"]
    assert Path(files[0]).read_bytes() == bytes(range(40))


@needs_datahiding
def test_bad_payloads_are_one_clear_line(tmp_path: Path) -> None:
    cover = photo(tmp_path / "cover.png", (96, 96))
    run = data_tab.embed_data
    assert "message or a file" in page_error(lambda: run(LIMITS, "steg-cinn", cover, "", None, ""))
    too_big = tmp_path / "big.bin"
    too_big.write_bytes(np.random.default_rng(0).bytes(5000))
    message = page_error(lambda: run(LIMITS, "steg-cinn", cover, None, str(too_big), "pw"))
    assert "at most" in message and str(tmp_path) not in message
    jpeg = tmp_path / "stego.jpg"
    Image.open(cover).save(jpeg, quality=95)
    message = page_error(lambda: data_tab.extract_data(LIMITS, "steg-cinn", str(jpeg), "pw"))
    assert "JPEG" in message


def test_a_payloads_recorded_name_cannot_leave_the_result_folder() -> None:
    assert data_tab.safe_name("../../etc/passwd") == "passwd"
    assert data_tab.safe_name("..\\win\\evil.exe") == "evil.exe"
    assert data_tab.safe_name("..") == data_tab.safe_name(None) == data_tab.UNNAMED
    assert data_tab.safe_name("a<b>|c.txt") == "a_b__c.txt"


# -- inpaint ----------------------------------------------------------------------------------


@pytest.fixture
def pdgan_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A tiny untrained PD-GAN, offered by the page as if it were shipped."""
    import torch

    from invimg.inpainting.pdgan import PDGAN
    from invimg.zoo import save_pretrained

    torch.manual_seed(0)
    prior = {"width": 4, "max_width": 8, "levels": 3}
    net = PDGAN(PDGAN.Config(widths=[8, 8, 8], z_dim=4, hidden=8, prior=prior))
    torch.nn.init.normal_(net.to_image.weight, std=0.2)  # as if trained: samples vary
    card = str(save_pretrained(net, tmp_path, "pdgan-tiny", {"task": "inpainting"}).path)
    monkeypatch.setattr(inpaint_tab, "models", lambda: [card])
    return card


def painted(path: Path, size: tuple[int, int], box: tuple[int, int, int, int]) -> str:
    """The editor's brush layer: transparent, with white paint over ``box``."""
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    layer.paste((255, 255, 255, 255), box)
    layer.save(path)
    return str(path)


def test_inpaint_gives_the_library_samples_and_the_clis_files(
    pdgan_card: str, tmp_path: Path
) -> None:
    from invimg.inpainting.api import inpaint

    image = photo(tmp_path / "room.png", (40, 36))
    layer = painted(tmp_path / "layer.png", (40, 36), (8, 6, 30, 24))
    samples, sheet, summary, files = inpaint_tab.inpaint_image(
        LIMITS, pdgan_card, image, [layer], None, n=3, seed=5
    )
    hole = np.zeros((36, 40), dtype=bool)
    hole[6:24, 8:30] = True
    expected = inpaint(pixels(image), hole, n=3, seed=5, model=pdgan_card)
    assert len(samples) == 3 and files == [*samples, sheet]
    for got, want in zip(samples, expected):
        np.testing.assert_array_equal(pixels(got), want)
        np.testing.assert_array_equal(pixels(got)[~hole], pixels(image)[~hole])  # kept exactly
    assert [Path(f).name for f in files][::3] == ["sample_00.png", "contact_sheet.png"]
    assert pixels(sheet).shape[1] > 40 * 3
    meta = read_png_metadata(samples[0])
    assert meta["invimg:task"] == "inpainting" and meta["invimg:seed"] == "5"
    assert "hole 27.5% of 40×36" in summary


def test_an_uploaded_mask_wins_over_paint_and_bad_masks_are_one_line(
    pdgan_card: str, tmp_path: Path
) -> None:
    image = photo(tmp_path / "room.png", (40, 36))
    mask = np.zeros((36, 40), dtype=np.uint8)
    mask[:10, :10] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    layer = painted(tmp_path / "layer.png", (40, 36), (20, 20, 30, 30))
    samples, _, summary, _ = inpaint_tab.inpaint_image(
        LIMITS, pdgan_card, image, [layer], str(tmp_path / "mask.png"), n=1
    )
    assert "hole 6.9%" in summary  # the mask's 10×10, not the painted square
    np.testing.assert_array_equal(pixels(samples[0])[20:30, 20:30], pixels(image)[20:30, 20:30])
    run = inpaint_tab.inpaint_image
    assert "no hole" in page_error(lambda: run(LIMITS, pdgan_card, image, [None], None))
    small = painted(tmp_path / "small.png", (20, 20), (0, 0, 5, 5))
    assert "paint on the image again" in page_error(
        lambda: run(LIMITS, pdgan_card, image, [small], None)
    )
    assert "from 1 to 8" in page_error(lambda: run(LIMITS, pdgan_card, image, [layer], None, 9))


def test_the_editor_value_arrives_as_file_records() -> None:
    value = {"background": {"path": "/c/photo.png"}, "layers": [{"path": "/c/l.png"}, None]}
    assert inpaint_tab.editor_paths(value) == ("/c/photo.png", ["/c/l.png", None])
    assert inpaint_tab.editor_paths(None) == (None, [])


# -- the page ---------------------------------------------------------------------------------


def test_new_tabs_follow_their_models_and_share_the_model_queue(pdgan_card: str) -> None:
    titles = [cap.title for cap in page.capabilities()]
    assert {"Invert features", "Inpaint"} <= set(titles)
    assert ("Hide data" in titles) == bool(data_tab.models())
    demo = page.build_page(ServeOptions(concurrency=2))
    names = {"invert", "inpaint"} | ({"embed", "extract"} if data_tab.models() else set())
    events = [fn for fn in demo.fns.values() if fn.api_name in names]
    assert {fn.api_name for fn in events} == names
    assert {(fn.concurrency_id, fn.concurrency_limit) for fn in events} == {(page.MODEL_QUEUE, 2)}


def test_the_inpaint_tab_is_hidden_without_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inpaint_tab, "models", lambda: [])
    assert "Inpaint" not in [cap.title for cap in page.capabilities()]


# -- screenshots (only with INVIMG_WEB_SCREENSHOTS=DIR): the new tabs in a real browser ----------


@pytest.mark.skipif(
    not os.environ.get("INVIMG_WEB_SCREENSHOTS"),
    reason="set INVIMG_WEB_SCREENSHOTS=docs/web to drive the tabs in Chromium and save pictures",
)
def test_screenshots_of_the_new_tabs(tmp_path: Path) -> None:
    """Invert and Embed → Extract through ``invimg serve`` in Chromium, saving each tab."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    folder = Path(os.environ["INVIMG_WEB_SCREENSHOTS"])
    image = Path(photo(tmp_path / "photo.png", (128, 128), top=0, left=0))
    with _serve(tmp_path) as url, sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        web = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
        web.goto(url)
        _click_tab(web, "Invert features")
        web.locator("#invert-image input[type=file]").set_input_files(str(image))
        web.click("#invert-button")
        web.locator("#invert-files a[download]").first.wait_for(timeout=180_000)
        assert "Relative error" in web.inner_text("#invert-report")
        _save(web, folder / "invert.png")
        if data_tab.available():
            _click_tab(web, "Hide data")
            web.locator("#embed-cover input[type=file]").set_input_files(str(image))
            web.locator("#embed-capacity").get_by_text("bytes").wait_for(timeout=60_000)
            web.locator("#embed-message textarea").fill("meet at noon")
            web.locator("#embed-password input").fill("pw")
            web.click("#embed-button")
            link = web.locator("#embed-files a[download]").first
            link.wait_for(timeout=180_000)
            _save(web, folder / "embed.png")
            with web.expect_download() as download:
                link.click()
            stego = tmp_path / "stego.png"
            download.value.save_as(stego)
            _click_tab(web, "Extract")
            web.locator("#extract-stego input[type=file]").set_input_files(str(stego))
            web.locator("#extract-password input").fill("pw")
            web.click("#extract-button")
            web.locator("#extract-report").get_by_text("A message").wait_for(timeout=180_000)
            assert web.locator("#extract-message textarea").input_value() == "meet at noon"
            _save(web, folder / "extract.png")
        browser.close()


@contextmanager
def _serve(tmp_path: Path) -> Iterator[str]:
    """``invimg serve`` on a free loopback port, stopped with SIGTERM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "TMPDIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "invimg", "serve", "--port", str(port)]
    with (tmp_path / "server.log").open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(360):
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def _click_tab(web: Any, name: str) -> None:
    web.get_by_role("tab", name=name, exact=True).click()


def _save(web: Any, path: Path) -> None:
    """The tabs (not the page's intro) as a small 256-colour PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    web.locator("#capabilities").screenshot(path=str(path))
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
