"""A served model on loopback: the app itself (FastAPI's test client) and a real uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from balanced_fer.serving import ServiceLimits, create_app  # noqa: E402
from balanced_fer.serving.app import uvicorn_settings  # noqa: E402
from helpers import random_checkpoint, running  # noqa: E402


@pytest.fixture(scope="session")
def limits() -> ServiceLimits:
    return ServiceLimits(max_upload_bytes=2 * 2**20, max_pixels=30_000_000, max_batch=4, timeout_s=20)


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_checkpoint(tmp_path_factory.mktemp("serve") / "served.safetensors")


@pytest.fixture(scope="session")
def app(model_file: Path, limits: ServiceLimits):
    return create_app(str(model_file), limits)


@pytest.fixture(scope="session")
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def server(app) -> Iterator[str]:
    """The app behind a real uvicorn on a free loopback port; yields its base URL."""
    with running(app, **uvicorn_settings(app.state.service.limits)) as url:  # as bfer serve runs it
        yield url
