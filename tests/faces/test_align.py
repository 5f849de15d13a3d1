import numpy as np
import pytest

from balanced_fer.faces import FER2013_FRAMING, LOOSE_FRAMING, DetectedFace, Framing, alignment_matrix


def box_in_crop(face: DetectedFace, size: int, framing: Framing) -> np.ndarray:
    """The box's corners mapped into the crop: (x0, y0, x1, y1)."""
    x, y, w, h = face.box
    corners = np.array([[x, y, 1], [x + w, y + h, 1]]) @ alignment_matrix(face, size, framing).T
    return corners.ravel()


@pytest.mark.parametrize("framing", [LOOSE_FRAMING, FER2013_FRAMING, Framing(0.5, dx=-0.1, dy=0.2)])
def test_the_box_lands_where_the_framing_says(framing):
    eyes_level = np.array([[130, 140], [170, 140], [150, 160], [150, 175], [110, 150], [190, 150]], float)
    face = DetectedFace((100, 110, 100, 100), eyes_level, 0.9)
    x0, y0, x1, y1 = box_in_crop(face, 48, framing)
    assert x1 - x0 == pytest.approx(48 * framing.box_share) and y1 - y0 == pytest.approx(48 * framing.box_share)
    assert (x0 + x1) / 2 == pytest.approx(48 * (0.5 + framing.dx))
    assert (y0 + y1) / 2 == pytest.approx(48 * (0.5 + framing.dy))


def test_the_loose_framing_is_the_old_margin_and_the_measured_one_is_tighter_and_lower():
    assert LOOSE_FRAMING.box_share == pytest.approx(2 / 3)
    assert FER2013_FRAMING.box_share > LOOSE_FRAMING.box_share and FER2013_FRAMING.dy > 0
