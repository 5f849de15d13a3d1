"""Helpers shared by tests: deterministic images on disk."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_face(path: Path, seed: int, size: int = 48, channels: int = 1) -> np.ndarray:
    """Write a deterministic textured image (PNG or JPEG by suffix) and return its pixels."""
    rng = np.random.default_rng(seed)
    shape = (size, size) if channels == 1 else (size, size, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)
    return pixels
