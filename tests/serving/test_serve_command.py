import math
import subprocess
import sys

import httpx
import pytest

from balanced_fer.errors import BalancedFerError
from balanced_fer.serving import ServiceLimits
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

    assert main(["serve", "--model", str(model_file), "--max-upload-mb", "1e-9"]) == 2  # passes argparse: 0 bytes
    assert "max_upload_bytes must be at least 1" in capsys.readouterr().err
    for timeout in (0, -1, math.nan, math.inf):  # a NaN timeout would never fire
        with pytest.raises(BalancedFerError, match="the timeouts finite and > 0"):
            ServiceLimits(keep_alive_s=timeout)
