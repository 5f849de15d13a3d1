"""The page in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright): upload a
photo, see a box and a label. The screenshot is kept in test-artifacts/ for a person to look at."""

import os
import shutil
from pathlib import Path

import pytest

from helpers import EXAMPLES

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("BFER_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium missing at {CHROMIUM} (.ci/run installs Debian's chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


def test_upload_shows_boxed_faces_with_labels(browser, server):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server + "/")
    page.wait_for_function("document.querySelectorAll('#distribution .bar').length === 7")
    page.set_input_files("#file-input", str(EXAMPLES / "astronaut.jpg"))
    page.wait_for_function("document.getElementById('canvas').dataset.faces !== undefined", timeout=30_000)
    assert page.locator("#canvas").get_attribute("data-faces") == "1"
    assert page.locator("#status").inner_text().startswith("1 face")
    label = page.locator("#faces li.face strong").inner_text()
    assert label in page.locator("#faces li.face .bar.top .name").inner_text()
    assert page.locator("#faces li.face .bar").count() == 7
    # the box is drawn: the canvas holds the photo at full size with orange box pixels on it
    size = page.evaluate("[canvas.width, canvas.height]")
    assert size == [512, 512]
    orange = page.evaluate(
        """(() => { const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
                   let n = 0; for (let i = 0; i < d.length; i += 4)
                     if (Math.abs(d[i] - 226) < 8 && Math.abs(d[i + 1] - 88) < 8 && Math.abs(d[i + 2] - 42) < 8) n++;
                   return n; })()"""
    )
    assert orange > 200
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-astronaut.png"), full_page=True)
    page.set_input_files("#file-input", str(EXAMPLES / "rocket.jpg"))
    page.wait_for_function("document.getElementById('canvas').dataset.faces === '0'", timeout=30_000)
    assert page.locator("#faces li").count() == 0
    assert not errors


def test_before_any_upload_a_placeholder_offers_the_example_photo(browser, server):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(server + "/")
    assert page.locator("#placeholder").is_visible() and page.locator("#example-button").is_visible()
    assert not page.locator("#canvas").is_visible() and not page.locator("#faces-heading").is_visible()
    page.click("#example-button")
    page.wait_for_function("document.getElementById('canvas').dataset.faces !== undefined", timeout=30_000)
    assert page.locator("#canvas").get_attribute("data-faces") == "1"
    assert page.locator("#canvas").is_visible() and not page.locator("#placeholder").is_visible()
    assert page.locator("#faces-heading").is_visible()
