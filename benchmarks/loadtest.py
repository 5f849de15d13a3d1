"""Loopback tools for a running service, shared by benchmarks/serve_load.py and the tests (not part of
the package): a free port, waiting for ``/healthz``, a closed-loop load generator (``clients``
threads, each posting an image to ``/v1/predict`` as soon as its previous answer arrives, for
``seconds``, optionally with an attacker among them), and hostile payloads."""

from __future__ import annotations

import itertools
import socket
import subprocess
import threading
import time

import numpy as np


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(base_url: str, server: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Return once ``/healthz`` answers 200; raise if ``server`` exits or the time runs out."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(base_url + "/healthz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the service at {base_url} did not become healthy")
        time.sleep(0.2)


def run_load(
    base_url: str,
    image: bytes,
    clients: int = 50,
    seconds: float = 30.0,
    attack: list[tuple[str, dict]] | None = None,
) -> dict:
    """Requests, errors (non-200 answers or failed connections, by kind), throughput and latency
    percentiles in milliseconds of ``clients`` closed-loop clients, and ``/healthz`` latency polled
    every 100 ms meanwhile. With ``attack`` (``(path, httpx request arguments)`` pairs), one of the
    clients is an attacker sending those in turn instead; its answers are counted by status."""
    import httpx

    latencies: list[float] = []
    health: list[float] = []
    errors: dict[str, int] = {}
    attacker_statuses: dict[str, int] = {}
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as session:
            while time.monotonic() < stop:
                start = time.perf_counter()
                try:
                    response = session.post("/v1/predict", content=image, headers={"content-type": "image/jpeg"})
                    failure = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as err:
                    failure = type(err).__name__
                with lock:
                    if failure:
                        errors[failure] = errors.get(failure, 0) + 1
                    else:
                        latencies.append(time.perf_counter() - start)

    def attacker() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as session:
            for turn in itertools.count():
                if time.monotonic() >= stop:
                    return
                path, request = attack[turn % len(attack)]
                try:
                    status = str(session.post(path, **request).status_code)
                except httpx.HTTPError as err:
                    status = type(err).__name__
                with lock:
                    attacker_statuses[status] = attacker_statuses.get(status, 0) + 1

    def watch_health() -> None:
        with httpx.Client(base_url=base_url, timeout=60) as session:
            while time.monotonic() < stop:
                start = time.perf_counter()
                session.get("/healthz")
                health.append(time.perf_counter() - start)
                time.sleep(0.1)

    threads = [threading.Thread(target=client) for _ in range(clients - (1 if attack else 0))]
    threads += [threading.Thread(target=watch_health)] + ([threading.Thread(target=attacker)] if attack else [])
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    result = {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies) + sum(errors.values()),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": _percentiles(latencies),
        "healthz_ms": _percentiles(health),
    }
    if attack:
        result["attacker_answers"] = attacker_statuses
    return result


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ms = 1000 * np.asarray(seconds or [np.nan])
    return {q: round(float(np.percentile(ms, int(q[1:]))), 1) for q in ("p50", "p90", "p99")} | {
        "max": round(float(ms.max()), 1)
    }


def attack_payloads() -> list[tuple[str, dict]]:
    """What the adversarial probe stalled the service with: a batch of 16 lossless 6000x6000 WebPs
    (23 KB), one such WebP, a 30000x1333 PNG and a 40,000,000x1 PNG."""
    import cv2

    ok, webp = cv2.imencode(".webp", np.full((6000, 6000, 3), 90, np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 101])
    webp = webp.tobytes()
    return [
        ("/v1/predict/batch", {"files": [("images", (f"{i}.webp", webp, "image/webp")) for i in range(16)]}),
        ("/v1/predict", {"content": webp, "headers": {"content-type": "image/webp"}}),
        ("/v1/predict", {"content": png(30_000, 1_333), "headers": {"content-type": "image/png"}}),
        ("/v1/predict", {"content": png(40_000_000, 1, rows=1), "headers": {"content-type": "image/png"}}),
    ]


def png(width: int, height: int, depth: int = 8, colour: int = 0, rows: int | None = None) -> bytes:
    """A PNG of zeros declaring ``width`` x ``height`` (grey, or ``colour`` type 2 = RGB, 6 = RGBA),
    streamed row by row; ``rows`` writes only the first rows (a truncated image). Large dimensions
    compress to almost nothing: the size a decompression bomb declares."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    channels = {0: 1, 2: 3, 6: 4}[colour]
    packer, row = zlib.compressobj(9), bytes(1 + width * channels * depth // 8)
    idat = b"".join(packer.compress(row) for _ in range(height if rows is None else rows)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def hostile_payloads(photo: bytes, max_pixels: int, max_batch: int) -> list[tuple[str, str, dict, set[int]]]:
    """Requests a service must answer without a 5xx or a stall: ``(name, path, httpx request
    arguments, acceptable statuses)``, generated from a real ``photo`` (JPEG bytes) and the
    service's limits: bombs, extreme aspect ratios, truncated and corrupt files in several formats,
    wrong content types, malformed multipart, too many files, wrong methods and paths, and valid oddities."""
    import cv2

    image = cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR)
    encoded = {ext: cv2.imencode(ext, image)[1].tobytes() for ext in (".jpg", ".png", ".webp", ".bmp", ".tiff")}
    cases: list[tuple[str, str, dict, set[int]]] = []

    def raw_and_multipart(name: str, body: bytes, content_type: str, ok: set[int]) -> None:
        cases.append((f"{name} (raw)", "/v1/predict", {"content": body, "headers": {"content-type": content_type}}, ok))
        cases.append((f"{name} (multipart)", "/v1/predict", {"files": {"image": (name, body, content_type)}}, ok))
        cases.append(
            (f"{name} (batch)", "/v1/predict/batch", {"files": [("images", (name, body, content_type))]}, {200})
        )

    side = int(max_pixels**0.5)
    for factor in (2, 10, 1000):  # bombs declaring factor x the pixel limit, one row written: refused from the header
        raw_and_multipart(f"bomb x{factor}", png(side * factor, side, rows=1), "image/png", {413})
    for width, height in ((40_000_000, 1), (1, 40_000), (33_000, 10)):  # a side beyond max_side
        raw_and_multipart(f"line {width}x{height}", png(width, height, rows=1), "image/png", {413})
    for width, height in ((30_000, 900), (900, 30_000), (20_000, 20)):  # extreme but allowed
        raw_and_multipart(f"strip {width}x{height}", png(width, height), "image/png", {200})
    for ext, body in encoded.items():
        for share in (0.0, 0.1, 0.5, 0.9):
            cut = body[: int(len(body) * share)]
            raw_and_multipart(f"{ext} cut at {share:.0%}", cut, f"image/{ext[1:]}", {400, 415})
        corrupt = bytearray(body)
        corrupt[len(body) // 2 :] = bytes(len(body) - len(body) // 2)  # second half zeroed
        raw_and_multipart(f"{ext} half zeroed", bytes(corrupt), f"image/{ext[1:]}", {200, 400, 415})
    for seed in range(4):
        noise = np.random.default_rng(seed).integers(0, 256, 2_000 * (seed + 1), np.uint8).tobytes()
        raw_and_multipart(f"random bytes {seed}", noise, "image/jpeg", {400, 415})
    raw_and_multipart("text file", b"hello, not an image\n" * 50, "image/png", {415})
    raw_and_multipart("16-bit grey", png(64, 64, depth=16), "image/png", {200})
    raw_and_multipart("RGBA", png(64, 64, colour=6), "image/png", {200})
    raw_and_multipart("1x1", png(1, 1), "image/png", {200})
    for content_type in ("text/plain", "application/json", "video/mp4", ""):
        cases.append(
            (
                f"content type {content_type!r}",
                "/v1/predict",
                {"content": photo, "headers": {"content-type": content_type}},
                {415},
            )
        )
    cases.append(("a form without a file", "/v1/predict", {"data": {"image": "not a file"}}, {400, 415, 422}))
    cases.append(
        ("two files to /v1/predict", "/v1/predict", {"files": [("image", ("a.jpg", photo, "image/jpeg"))] * 2}, {400})
    )
    cases.append(
        (
            "batch over its limit",
            "/v1/predict/batch",
            {"files": [("images", ("a.png", png(8, 8), "image/png"))] * (max_batch + 1)},
            {413},
        )
    )
    for method, path, status in (("GET", "/v1/predict", 405), ("PUT", "/v1/models", 405), ("DELETE", "/healthz", 405)):
        cases.append((f"{method} {path}", path, {"method": method}, {status}))
    for path in ("/nope", "/static/../../etc/passwd", "/v1/predict/batch/x", "/docs", "/redoc"):
        cases.append((f"GET {path}", path, {"method": "GET"}, {404}))
    cases.append(
        (
            "malformed multipart boundary",
            "/v1/predict",
            {"content": b"--x\r\nnonsense", "headers": {"content-type": "multipart/form-data; boundary=x"}},
            {400},
        )
    )
    return cases
