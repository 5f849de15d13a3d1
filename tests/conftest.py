"""Shared fixtures: the real datasets in ../shared, a session-wide array cache, image writers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """``../shared/datasets``; CI must have it, a developer without it skips these tests."""
    if not (SHARED / "fer2013").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real datasets missing at {SHARED}")
        pytest.skip(f"real datasets not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One array cache for the whole session, so the real splits are decoded once."""
    return tmp_path_factory.mktemp("bfer-cache")
