import cv2
import numpy as np
import pytest

from balanced_fer.data.matching import match_faces


def faces_like(rng, count: int, size: int = 48) -> np.ndarray:
    """Smooth random faces (JPEG keeps them within a few grey levels, as it does real faces)."""
    noise = rng.integers(0, 256, (count, size // 4, size // 4), dtype=np.uint8)
    return np.stack([cv2.resize(n, (size, size), interpolation=cv2.INTER_CUBIC) for n in noise])


def jpeg(face: np.ndarray, quality: int = 90) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def test_each_picture_is_found_in_another_order_and_format_and_strangers_are_not():
    rng = np.random.default_rng(0)
    reference = faces_like(rng, 300)
    order = rng.permutation(300)[:200]
    faces = np.stack([jpeg(reference[i]) for i in order] + list(faces_like(rng, 5)))  # 5 never in reference
    found = match_faces(faces, reference)
    assert found[:200].tolist() == order.tolist()
    assert (found[200:] == -1).all()
    with_channel = match_faces(faces[..., None], reference[..., None])
    assert np.array_equal(with_channel, found)
    assert match_faces(faces[:0], reference).shape == (0,)
    with pytest.raises(ValueError, match="differ in shape"):
        match_faces(faces[:, :40], reference)
