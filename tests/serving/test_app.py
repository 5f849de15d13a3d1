import cv2
import numpy as np
import pytest

from balanced_fer.serving import ServiceLimits, create_app
from helpers import EXAMPLES
from loadtest import png

ASTRONAUT = (EXAMPLES / "astronaut.jpg").read_bytes()


def test_health_models_and_schema(client):
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["busy"] == 0 and len(health["model"]["version"]) == 12
    (model,) = client.get("/v1/models").json()["models"]
    assert model["classes"][0] == "neutral" and sum(model["train_counts"].values()) == 280
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/predict", "/v1/predict/batch", "/v1/models", "/healthz"} <= set(paths)
    page = client.get("/")
    assert page.status_code == 200 and "drop-zone" in page.text
    assert client.get("/static/app.js").status_code == 200


def test_predict_multipart_and_raw_bytes(client):
    answer = client.post("/v1/predict", files={"image": ("astronaut.jpg", ASTRONAUT, "image/jpeg")}).json()
    assert answer["image"] == {"width": 512, "height": 512} and len(answer["faces"]) == 1
    face = answer["faces"][0]
    assert len(face["box"]) == 4 and len(face["landmarks"]) == 6 and face["label"] in face["scores"]
    assert abs(sum(face["scores"].values()) - 1) < 1e-3 and answer["timing_ms"]["total"] > 0
    raw = client.post("/v1/predict", content=ASTRONAUT, headers={"content-type": "image/jpeg"}).json()
    assert raw["faces"][0]["scores"] == face["scores"]
    rocket = (EXAMPLES / "rocket.jpg").read_bytes()
    assert client.post("/v1/predict", content=rocket, headers={"content-type": "image/jpeg"}).json()["faces"] == []


def test_batch_answers_each_image(client, limits):
    files = [
        ("images", ("a.jpg", ASTRONAUT, "image/jpeg")),
        ("images", ("notes.txt", b"not an image", "text/plain")),
        ("images", ("rocket.jpg", (EXAMPLES / "rocket.jpg").read_bytes(), "image/jpeg")),
    ]
    results = client.post("/v1/predict/batch", files=files).json()["results"]
    assert [r["filename"] for r in results] == ["a.jpg", "notes.txt", "rocket.jpg"]
    assert len(results[0]["faces"]) == 1 and results[2]["faces"] == []
    assert results[1]["status"] == 415 and "notes.txt" in results[1]["error"] and results[1]["faces"] is None
    too_many = [("images", (f"{i}.jpg", ASTRONAUT, "image/jpeg")) for i in range(limits.max_batch + 1)]
    response = client.post("/v1/predict/batch", files=too_many)
    assert response.status_code == 413 and "batch limit" in response.json()["detail"]


def truncated_jpeg() -> bytes:
    return ASTRONAUT[: len(ASTRONAUT) // 2]


MALFORMED = {
    "truncated JPEG": (lambda: truncated_jpeg(), "image/jpeg", 400, "damaged image"),
    "PNG bomb": (lambda: png(60_000, 60_000, rows=64), "image/png", 413, "pixels"),
    "zero bytes": (lambda: b"", "image/jpeg", 400, "empty upload"),
    "text file": (lambda: b"hello, this is not an image\n" * 10, "image/jpeg", 415, "not an image"),
    "20000x20000 image": (lambda: png(20_000, 20_000), "image/png", 413, "pixels"),
    "too many bytes": (lambda: b"\xff" * (2 * 2**20 + 1), "image/jpeg", 413, "exceed the limit"),  # limits fixture
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_uploads_get_a_4xx_and_the_service_stays_healthy(client, case):
    make, content_type, status, reason = MALFORMED[case]
    data = make()
    for response in (
        client.post("/v1/predict", files={"image": ("upload.bin", data, content_type)}),
        client.post("/v1/predict", content=data, headers={"content-type": content_type}),
    ):
        assert response.status_code == status, response.text
        assert response.json()["error"] and reason in response.json()["detail"]
    assert client.get("/healthz").json()["status"] == "ok"


def test_wrong_requests_get_clear_4xx(client):
    wrong_type = client.post("/v1/predict", content=b"{}", headers={"content-type": "application/json"})
    assert wrong_type.status_code == 415 and "multipart/form-data" in wrong_type.json()["detail"]
    no_file = client.post("/v1/predict", data={"image": "just text"}, files={"x": ("", b"", "text/plain")})
    assert no_file.status_code in (400, 415)
    form_without_file = client.post(
        "/v1/predict", content=b"--b\r\n\r\n--b--\r\n", headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert form_without_file.status_code == 400
    assert client.get("/v1/nothing").status_code == 404 and client.get("/v1/nothing").json()["error"] == "not_found"
    assert client.get("/v1/predict").status_code == 405
    declared = client.post(
        "/v1/predict", content=b"x", headers={"content-type": "image/jpeg", "content-length": str(10**10)}
    )
    assert declared.status_code in (400, 413)


def chunked(total: int, head: bytes = b"", chunk: int = 2**16):
    """A request body of ``head`` then bytes up to ``total``, sent in chunks without Content-Length."""
    yield head
    for start in range(len(head), total, chunk):
        yield b"\xff" * min(chunk, total - start)


def test_chunked_uploads_are_refused_while_they_arrive(client, limits):
    raw = client.post(
        "/v1/predict", content=chunked(limits.max_upload_bytes + 1), headers={"content-type": "image/jpeg"}
    )
    assert raw.status_code == 413 and "exceed the limit" in raw.json()["detail"]
    part = b'--b\r\nContent-Disposition: form-data; name="images"; filename="big.jpg"\r\n\r\n'
    form = client.post(
        "/v1/predict/batch",
        content=chunked(limits.max_body_bytes + 1, head=part),
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert form.status_code == 413 and f"{limits.max_body_bytes:,}" in form.json()["detail"]


def test_grey_rgba_and_rotated_uploads(client):
    astronaut = cv2.imdecode(np.frombuffer(ASTRONAUT, np.uint8), cv2.IMREAD_COLOR)
    grey = cv2.imencode(".png", cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))[1].tobytes()
    rgba = cv2.imencode(".png", cv2.cvtColor(astronaut, cv2.COLOR_BGR2BGRA))[1].tobytes()
    for data in (grey, rgba):
        answer = client.post("/v1/predict", content=data, headers={"content-type": "image/png"}).json()
        assert len(answer["faces"]) == 1


def test_saturation_and_timeouts_answer_429_and_503(model_file):
    from fastapi.testclient import TestClient

    saturated = create_app(str(model_file), ServiceLimits(max_concurrency=1, max_queue=0))
    saturated.state.service.busy = 1  # one request already running, no room to wait
    slow = create_app(str(model_file), ServiceLimits(timeout_s=1e-4))
    with TestClient(saturated) as first, TestClient(slow) as second:
        busy = first.post("/v1/predict", content=ASTRONAUT, headers={"content-type": "image/jpeg"})
        assert busy.status_code == 429 and busy.headers["retry-after"] == "1"
        late = second.post("/v1/predict", content=ASTRONAUT, headers={"content-type": "image/jpeg"})
        assert late.status_code == 503 and "overloaded" in late.json()["detail"]
        assert second.get("/healthz").status_code == 200


def test_a_model_without_validation_figures_is_described(tmp_path):
    from fastapi.testclient import TestClient

    from balanced_fer.models.checkpoint import load_checkpoint, save_checkpoint
    from helpers import random_checkpoint

    path = random_checkpoint(tmp_path / "decoupled.safetensors")
    tensors, description = load_checkpoint(path)
    save_checkpoint(path, tensors, description.replace(validation={}))  # as bfer decouple writes it
    with TestClient(create_app(str(path), ServiceLimits()), raise_server_exceptions=False) as client:
        answer = client.get("/v1/models")
    assert answer.status_code == 200 and answer.json()["models"][0]["validation"] == {}


def test_the_service_stands_without_the_training_stack():
    """Serving and inference load no training code (trainer, recipes, DDP, losses, samplers) and no YAML."""
    import subprocess
    import sys

    modules = "balanced_fer.serving.app, balanced_fer.inference.export, balanced_fer.inference.calibrate, balanced_fer.inference.sources"
    probe = f"import sys, {modules}; print(sorted(m for m in sys.modules if m.startswith('balanced_fer.training') or m == 'yaml'))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", loaded
