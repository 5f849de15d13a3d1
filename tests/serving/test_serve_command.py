import socket
import subprocess
import sys
import time

import httpx
import pytest

from helpers import EXAMPLES


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("workers", [1, 2])
def test_bfer_serve_starts_and_answers(model_file, workers):
    port = free_port()
    command = [sys.executable, "-m", "balanced_fer.cli", "serve", "--model", str(model_file), "--port", str(port)]
    server = subprocess.Popen(command + ["--workers", str(workers)], stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "bfer serve did not start"
            time.sleep(0.2)
        image = (EXAMPLES / "astronaut.jpg").read_bytes()
        answer = httpx.post(url + "/v1/predict", files={"image": ("a.jpg", image, "image/jpeg")}, timeout=30)
        assert answer.status_code == 200 and len(answer.json()["faces"]) == 1
    finally:
        server.terminate()
        server.wait(20)
    assert "serving on http://127.0.0.1" in server.stderr.read()


def test_bfer_serve_refuses_a_missing_model(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "balanced_fer.cli", "serve", "--model", str(tmp_path / "none.safetensors")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "checkpoint not found" in done.stderr
    assert "serving on" not in done.stderr


def test_bfer_serve_refuses_impossible_limits(model_file, capsys):
    from balanced_fer.cli import main

    assert main(["serve", "--model", str(model_file), "--concurrency", "0"]) == 2
    assert "max_concurrency must be at least 1" in capsys.readouterr().err
