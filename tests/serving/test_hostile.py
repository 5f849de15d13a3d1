"""Hostile and unlucky input to the service: each case once brought a 500, a stall or a silent wrong answer."""

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from test_app import ASTRONAUT

from balanced_fer.data import read_image
from balanced_fer.errors import BalancedFerError
from balanced_fer.inference import Recognizer
from balanced_fer.serving import ServiceLimits, create_app
from balanced_fer.serving.app import uvicorn_settings
from helpers import EXAMPLES, running
from loadtest import hostile_payloads, png


def webp(side: int) -> bytes:
    """A lossless WebP of side x side flat pixels: a few hundred bytes that decode to side^2 x 3 bytes."""
    ok, data = cv2.imencode(".webp", np.full((side, side, 3), 90, np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 101])
    assert ok
    return data.tobytes()


def test_extreme_aspect_ratios_are_answered_or_refused_clearly(client, limits):
    wide = client.post("/v1/predict", content=png(30_000, 1_000), headers={"content-type": "image/png"})
    assert wide.status_code == 200 and wide.json()["faces"] == []  # letterboxed at the detector's size
    line = client.post("/v1/predict", content=png(40_000_000, 1), headers={"content-type": "image/png"})
    assert line.status_code == 413 and "a side exceeds the limit" in line.json()["detail"]  # was a 500
    assert client.get("/healthz").json()["status"] == "ok"


def test_a_request_is_bounded_by_its_pixels_together(client, limits):
    side = 4_000  # 16 M pixels each: two fit the test limit of 30 M, three do not
    files = [("images", (f"big{i}.webp", webp(side), "image/webp")) for i in range(3)]
    results = client.post("/v1/predict/batch", files=files).json()["results"]
    assert [r["status"] for r in results] == [200, 413, 413]
    assert "exceed 30,000,000 pixels together" in results[1]["error"]


def test_decoding_never_stalls_the_event_loop(server):
    """Heavy decodes run in the model's pool: /healthz keeps answering while they queue."""
    payload = webp(5_000)  # 25 M pixels: a second or so of decoding each
    stop, latencies, statuses = threading.Event(), [], []

    def attacker() -> None:
        with httpx.Client(base_url=server, timeout=60) as http:
            while not stop.is_set():
                statuses.append(
                    http.post("/v1/predict", content=payload, headers={"content-type": "image/webp"}).status_code
                )

    threads = [threading.Thread(target=attacker) for _ in range(3)]
    for thread in threads:
        thread.start()
    with httpx.Client(base_url=server, timeout=10) as http:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            start = time.perf_counter()
            assert http.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - start)
            time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(60)
    assert statuses and set(statuses) <= {200, 429, 503}
    assert max(latencies) < 1.0, f"/healthz took {max(latencies):.2f} s while large images were decoded"


def test_sixteen_bit_grey_images_read_as_the_cli_reads_them(client, tmp_path):
    grey = cv2.cvtColor(cv2.imread(str(EXAMPLES / "astronaut.jpg")), cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257
    path = tmp_path / "astronaut16.png"
    assert cv2.imwrite(str(path), grey)
    answer = client.post("/v1/predict", files={"image": (path.name, path.read_bytes(), "image/png")}).json()
    local = Recognizer(client.app.state.service.path, detector="full").predict(read_image(path, 3))
    assert len(answer["faces"]) == len(local) == 1  # Pillow's I;16 conversion clipped the image: 0 faces
    assert np.allclose(answer["faces"][0]["box"], local[0].box, atol=0.06)  # the API rounds to 0.1 px


def test_one_image_per_predict_health_probes_and_no_cdn_page(client):
    files = [("image", ("a.jpg", ASTRONAUT, "image/jpeg")), ("image", ("b.jpg", ASTRONAUT, "image/jpeg"))]
    answer = client.post("/v1/predict", files=files)
    assert answer.status_code == 400 and "takes one image" in answer.json()["detail"]
    assert client.head("/healthz").status_code == 200
    assert client.get("/docs").status_code == 404 and client.get("/redoc").status_code == 404
    assert client.get("/openapi.json").status_code == 200


def test_a_misconfigured_service_refuses_to_start(model_file, tmp_path):
    with pytest.raises(BalancedFerError, match="cannot serve.*missing.json"):
        create_app(str(model_file), ServiceLimits(), prior=str(tmp_path / "missing.json"))
    (tmp_path / "detector.tflite").write_text("not a model")
    with pytest.raises(BalancedFerError, match="cannot serve"):
        create_app(str(model_file), ServiceLimits(), detector=str(tmp_path / "detector.tflite"))


def test_health_reports_a_model_that_fails_on_valid_images(model_file):
    app = create_app(str(model_file), ServiceLimits())
    service = app.state.service
    broken = service.idle.get()
    healthy_predict = broken.predict
    broken.predict = lambda image: 1 / 0
    service.idle.put(broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post("/v1/predict", content=ASTRONAUT, headers={"content-type": "image/jpeg"}).status_code == 500
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "failing"
        assert "ZeroDivisionError" in health.json()["detail"]
        broken.predict = healthy_predict
        assert client.post("/v1/predict", content=ASTRONAUT, headers={"content-type": "image/jpeg"}).status_code == 200
        assert client.get("/healthz").json()["status"] == "ok"


def test_a_stalled_upload_is_cut_off(model_file):
    limits = ServiceLimits(body_timeout_s=1)
    with running(create_app(str(model_file), limits), **uvicorn_settings(limits)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            head = b"POST /v1/predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"
            sock.sendall(head + ASTRONAUT[:1000])  # then nothing more
            start = time.monotonic()
            answer = b""
            while b"did not arrive" not in answer and (chunk := sock.recv(4096)):  # head and body may come apart
                answer += chunk
        assert answer.split(b"\r\n")[0].endswith(b"408 Request Timeout") and time.monotonic() - start < 5
        assert b"did not arrive within 1 s" in answer
        assert httpx.get(f"{url}/healthz").status_code == 200


RSS_GROWTH_MB = 200  # measured: +20 MB over the 284 requests (492 -> 512 MB)


def rss_mb() -> float:
    """This process's resident memory (the test server runs in it), from /proc."""
    status = Path("/proc/self/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def test_battery_of_hostile_requests(server, limits, caplog):
    """Every generated hostile request, twice (in order, then four at a time): each answered with an
    expected status and a JSON reason, never a 5xx, /healthz under 1 s throughout, no error logged,
    and memory back near where it started."""
    cases = hostile_payloads(ASTRONAUT, limits.max_pixels, limits.max_batch)
    before = rss_mb()
    stop, health = threading.Event(), []

    def watch() -> None:
        with httpx.Client(base_url=server, timeout=5) as http:
            while not stop.is_set():
                start = time.perf_counter()
                status = http.get("/healthz").status_code
                health.append((status, time.perf_counter() - start))
                time.sleep(0.1)

    def send(http: httpx.Client, case) -> str | None:
        name, path, request, expected = case
        answer = http.request(request.pop("method", "POST"), path, **request)
        if answer.status_code not in expected:
            return f"{name}: {answer.status_code} not in {sorted(expected)}: {answer.text[:200]}"
        if answer.status_code >= 400 and not {"error", "detail"} <= set(answer.json()):
            return f"{name}: {answer.status_code} without a JSON reason"
        return None

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with httpx.Client(base_url=server, timeout=60) as http:
            problems = [p for p in (send(http, dict_copy(c)) for c in cases) if p]
        with httpx.Client(base_url=server, timeout=60) as http, ThreadPoolExecutor(4) as pool:
            problems += [p for p in pool.map(lambda c: send(http, dict_copy(c)), cases) if p]
    finally:
        stop.set()
        watcher.join()
    assert len(cases) * 2 >= 150 and not problems, problems
    assert health and all(status == 200 for status, _ in health)
    assert max(seconds for _, seconds in health) < 1.0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "the server logged an error"
    grown = rss_mb() - before
    print(f"battery: {2 * len(cases)} requests, RSS {before:.0f} MB -> {before + grown:.0f} MB")
    assert grown < RSS_GROWTH_MB, f"RSS grew by {grown:.0f} MB"


def dict_copy(case):
    name, path, request, expected = case
    return name, path, dict(request), expected


def test_a_client_dribbling_its_headers_is_disconnected(model_file):
    limits = ServiceLimits(header_timeout_s=1)
    with running(create_app(str(model_file), limits), **uvicorn_settings(limits)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
            start, closed = time.monotonic(), False
            while time.monotonic() - start < 6 and not closed:
                try:
                    sock.sendall(b"X")  # one header byte at a time, never the blank line
                    sock.settimeout(0.3)
                    closed = sock.recv(1024) == b""
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
            assert closed and time.monotonic() - start < 3, "the dribbling connection was kept open"
        with httpx.Client(base_url=url) as http:  # whole requests on a kept-alive connection still work
            assert [http.get("/healthz").status_code for _ in range(3)] == [200, 200, 200]
