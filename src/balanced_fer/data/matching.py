"""The same pictures in two copies of a dataset, whatever the file format: FER+'s PNG faces are FER2013's
faces, but named and ordered otherwise, and the Kaggle copy of FER2013 is JPEG (about 2 grey levels of
difference), so pictures are matched by their pixels."""

from __future__ import annotations

import cv2
import numpy as np

MATCH_MAX_RMS = 8.0  # grey levels: re-encoding leaves ~2, different faces differ by 40 and more
_THUMBNAIL = 12  # side of the thumbnails the nearest candidate is searched on


def _thumbnails(faces: np.ndarray) -> np.ndarray:
    """(N, 144) float32 area-averaged 12 x 12 grey thumbnails of (N, H, W[, C]) uint8 faces."""
    grey = faces if faces.ndim == 3 else faces.mean(axis=3)
    size = (_THUMBNAIL, _THUMBNAIL)
    return np.stack([cv2.resize(np.float32(f), size, interpolation=cv2.INTER_AREA).ravel() for f in grey])


def match_faces(
    faces: np.ndarray, reference: np.ndarray, max_rms: float = MATCH_MAX_RMS, chunk: int = 2048
) -> np.ndarray:
    """For each of ``faces`` (N, H, W[, C] uint8), the index of the same picture in ``reference`` (M
    faces of the same shape), or -1 when none is within ``max_rms`` grey levels (root mean square over
    the pixels). The nearest thumbnail is the candidate; exact duplicates in ``reference`` match either."""
    if faces.shape[1:] != reference.shape[1:]:
        raise ValueError(f"faces {faces.shape[1:]} and reference {reference.shape[1:]} differ in shape")
    if len(faces) == 0 or len(reference) == 0:
        return np.full(len(faces), -1, dtype=np.int64)
    ours, theirs = _thumbnails(faces), _thumbnails(reference)
    norms = (theirs**2).sum(1)
    nearest = np.concatenate(
        [(norms[None] - 2 * ours[i : i + chunk] @ theirs.T).argmin(1) for i in range(0, len(ours), chunk)]
    )
    flat = faces.reshape(len(faces), -1).astype(np.float32)
    rms = np.sqrt(((flat - reference.reshape(len(reference), -1)[nearest].astype(np.float32)) ** 2).mean(1))
    return np.where(rms <= max_rms, nearest, -1)
