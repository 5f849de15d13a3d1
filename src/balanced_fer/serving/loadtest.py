"""Loopback tools for a running service: a free port, waiting for ``/healthz``, and a closed-loop load
generator (``clients`` threads, each posting an image to ``/v1/predict`` as soon as its previous
answer arrives, for ``seconds``)."""

from __future__ import annotations

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


def run_load(base_url: str, image: bytes, clients: int = 50, seconds: float = 30.0) -> dict:
    """Requests, errors (non-200 answers or failed connections, by kind), throughput and latency
    percentiles in milliseconds."""
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
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

    threads = [threading.Thread(target=client) for _ in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    ms = 1000 * np.asarray(latencies or [np.nan])
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies) + sum(errors.values()),
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "requests_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": {q: round(float(np.percentile(ms, int(q[1:]))), 1) for q in ("p50", "p90", "p99")}
        | {"max": round(float(ms.max()), 1)},
    }
