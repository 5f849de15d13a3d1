"""Regenerate the pictures in docs/figures from the code, with the shipped model: annotated photos as
`bfer predict --annotate` draws them, and the web page before and after its example photo.

    python scripts/docs_figures.py [--chromium /usr/bin/chromium]

Needs the dev extras (FastAPI, uvicorn, Playwright) and a Chromium for the page screenshots.
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from pathlib import Path

import cv2

from balanced_fer import Recognizer
from balanced_fer.data import read_image
from balanced_fer.inference import Face
from balanced_fer.inference.annotate import annotate

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / "docs" / "figures"
EXAMPLES = ROOT / "examples"


def annotated_photos(recognizer: Recognizer) -> list[Path]:
    written = []
    for name in ("astronaut", "cameraman"):
        rgb = read_image(EXAMPLES / f"{name}.jpg", 3)
        written.append(FIGURES / f"annotated_{name}.jpg")
        cv2.imwrite(str(written[-1]), annotate(rgb, recognizer.predict(rgb)))
    # a 48 px face crop, scored whole as `bfer predict --no-detect` does
    face = recognizer.predict(read_image(EXAMPLES / "astronaut.jpg", 3))[0]
    x, y, w, h = (int(v) for v in face.box)
    crop = cv2.resize(read_image(EXAMPLES / "astronaut.jpg", 3)[y : y + h, x : x + w], (48, 48))
    scored = recognizer.classify([crop])[0]
    written.append(FIGURES / "annotated_crop_48px.png")
    cv2.imwrite(str(written[-1]), annotate(crop, [Face(scored.label, scored.scores, (0, 0, 48, 48))]))
    return written


def page_screenshots(chromium: str) -> list[Path]:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from balanced_fer.serving import ServiceLimits, create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app("default", ServiceLimits()), port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    before, after = FIGURES / "page_before_upload.png", FIGURES / "page_after_example.jpg"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.querySelectorAll('#distribution .bar').length === 7")
            page.screenshot(path=str(before), full_page=True)
            page.click("#example-button")
            page.wait_for_function("document.getElementById('canvas').dataset.faces !== undefined", timeout=30_000)
            page.screenshot(path=str(after), full_page=True, type="jpeg", quality=85)
            browser.close()
    finally:
        server.should_exit = True
    return [before, after]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    FIGURES.mkdir(parents=True, exist_ok=True)
    for path in annotated_photos(Recognizer.from_pretrained()) + page_screenshots(args.chromium):
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
