import numpy as np

from balanced_fer.inference import Face
from balanced_fer.inference.annotate import BOX, annotate, detail_map, overlap, place_panel

SCORES = {"happiness": 0.7, "sadness": 0.2, "fear": 0.1}


def orange(canvas: np.ndarray) -> np.ndarray:
    return np.abs(canvas.astype(int) - BOX).sum(axis=2) < 30


def test_the_panel_covers_no_face_and_the_plainest_part_of_the_scene():
    scene = np.zeros((400, 600, 3), np.uint8)
    scene[:, 300:] = np.random.default_rng(0).integers(0, 255, (400, 300, 1))  # a busy right half
    detail = detail_map(scene)
    face = (250, 100, 330, 180)
    left, top = place_panel((120, 90), face, [face], detail)
    panel = (left, top, left + 120, top + 90)
    assert overlap(panel, face) == 0 and panel[2] <= 300  # on the plain left, not the busy right
    other = (100, 100, 240, 260)  # a second face on the left: only places beside the first count
    left, top = place_panel((120, 90), face, [face, other], detail)
    assert overlap((left, top, left + 120, top + 90), other) == 0


def test_a_48px_crop_is_drawn_enlarged_with_its_label_inside_and_no_panel_over_the_face():
    crop = np.full((48, 48, 3), 128, np.uint8)
    canvas = annotate(crop, [Face("happiness", SCORES, (0, 0, 48, 48))])
    assert canvas.shape[0] >= 256 and canvas.shape[0] == canvas.shape[1]
    label_rows = orange(canvas)[:40].sum()
    assert label_rows > 500  # the filled label sits at the top, inside the picture
    assert not ((canvas == (40, 40, 40)).all(axis=2)).any()  # no panel hides the face


def test_photo_annotation_has_a_filled_label_a_panel_and_the_track_id():
    photo = np.full((480, 640, 3), 200, np.uint8)
    face = Face("happiness", SCORES, (400, 150, 100, 120))
    plain, tracked = annotate(photo, [face]), annotate(photo, [face], tracks=[7])
    assert plain.shape == (480, 640, 3) and ((plain == (40, 40, 40)).all(axis=2)).sum() > 1000  # the panel
    panel = np.argwhere((plain == (40, 40, 40)).all(axis=2))
    assert not ((panel[:, 1] >= 400) & (panel[:, 1] < 500) & (panel[:, 0] >= 150) & (panel[:, 0] < 270)).any()
    assert orange(tracked)[:150].sum() > orange(plain)[:150].sum()  # "#7 " widens the label
