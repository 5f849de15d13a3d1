import subprocess
import sys

import httpx
import pytest

from helpers import EXAMPLES
from loadtest import free_port, wait_until_healthy


@pytest.mark.parametrize("workers", [1, 2])
def test_bfer_serve_starts_and_answers(model_file, workers):
    port = free_port()
    command = [sys.executable, "-m", "balanced_fer.cli", "serve", "--model", str(model_file), "--port", str(port)]
    server = subprocess.Popen(command + ["--workers", str(workers)], stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, server)
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

    assert main(["serve", "--model", str(model_file), "--timeout", "0"]) == 2  # --concurrency 0: argparse's own check
    assert "the timeouts > 0" in capsys.readouterr().err
