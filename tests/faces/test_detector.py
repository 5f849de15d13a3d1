"""The shipped BlazeFace detector and the alignment, on real public-domain photos (examples/)."""

import cv2
import numpy as np
import pytest

from balanced_fer.data import read_image
from balanced_fer.errors import BalancedFerError
from balanced_fer.faces import BlazeFaceDetector, align_face, alignment_matrix
from helpers import EXAMPLES


@pytest.fixture(scope="module")
def detector():
    return BlazeFaceDetector()


@pytest.fixture(scope="module")
def astronaut():
    return read_image(EXAMPLES / "astronaut.jpg", 3)


def test_finds_the_face_and_its_landmarks(detector, astronaut):
    faces = detector.detect(astronaut)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert 150 < x < 200 and 40 < y < 100 and 80 < w < 140 and faces[0].score > 0.8
    right_eye, left_eye, nose, mouth = faces[0].landmarks[:4]
    assert right_eye[0] < nose[0] < left_eye[0] and max(right_eye[1], left_eye[1]) < nose[1] < mouth[1]
    assert x < right_eye[0] < x + w and y < mouth[1] < y + h


@pytest.mark.parametrize("name,count", [("cameraman.jpg", 1), ("rocket.jpg", 0)])
def test_other_photos(detector, name, count):
    assert len(detector.detect(read_image(EXAMPLES / name, 3))) == count


def test_many_small_and_rotated_faces(detector, astronaut):
    assert len(detector.detect(np.hstack([astronaut, astronaut, astronaut]))) == 3
    small = cv2.resize(astronaut, (160, 160), interpolation=cv2.INTER_AREA)  # a face of about 35 px
    assert len(detector.detect(small)) == 1
    rotation = cv2.getRotationMatrix2D((256, 256), 25, 1.0)
    rotated = cv2.warpAffine(astronaut, rotation, (512, 512), borderMode=cv2.BORDER_REFLECT)
    faces = detector.detect(rotated)
    assert len(faces) == 1
    right_eye, left_eye = faces[0].landmarks[:2]
    assert abs(np.degrees(np.arctan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0])) + 25) < 10


def test_alignment_levels_the_eyes_and_centres_the_face(detector, astronaut):
    rotation = cv2.getRotationMatrix2D((256, 256), -20, 1.0)
    face = detector.detect(cv2.warpAffine(astronaut, rotation, (512, 512), borderMode=cv2.BORDER_REFLECT))[0]
    matrix = alignment_matrix(face, 48)
    eyes = np.hstack([face.landmarks[:2], np.ones((2, 1))]) @ matrix.T
    assert abs(eyes[0, 1] - eyes[1, 1]) < 0.5 and eyes[0, 0] < eyes[1, 0]
    assert 10 < eyes[:, 0].mean() < 38 and 8 < eyes[:, 1].mean() < 30
    crop = align_face(astronaut, face, 48)
    assert crop.shape == (48, 48, 3) and crop.dtype == np.uint8


def test_exif_rotation_is_applied(tmp_path, detector, astronaut):
    from PIL import Image

    sideways = np.ascontiguousarray(np.rot90(astronaut))  # stored rotated, EXIF says "rotate back"
    image = Image.fromarray(sideways)
    exif = image.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    image.save(tmp_path / "exif.jpg", exif=exif)
    upright = read_image(tmp_path / "exif.jpg", 3)
    assert upright.shape == astronaut.shape and len(detector.detect(upright)) == 1


def test_bad_input(detector, tmp_path):
    with pytest.raises(BalancedFerError, match="RGB uint8"):
        detector.detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(BalancedFerError, match="face detector model not found"):
        BlazeFaceDetector(str(tmp_path / "none.tflite"))
    assert detector.detect(np.zeros((200, 300, 3), np.uint8)) == []


def test_extreme_aspect_ratios_cost_no_more_than_the_networks_input(detector):
    line = np.full((1, 2_000_000, 3), 128, np.uint8)  # letterboxed first, this asked for a 2e6 x 2e6 square
    assert detector.detect(line) == [] and detector.detect(line.transpose(1, 0, 2).copy()) == []
    photo = read_image(EXAMPLES / "astronaut.jpg", 3)
    wide = np.zeros((photo.shape[0], 2 * photo.shape[1], 3), np.uint8)  # the photo, then as much black
    wide[:, : photo.shape[1]] = photo
    (face,) = detector.detect(wide)
    (reference,) = detector.detect(photo)
    assert np.allclose(face.box, reference.box, atol=0.15 * reference.box[3])  # mapped back to image pixels


def test_starting_the_detector_prints_nothing():
    """LiteRT's "INFO: Created TensorFlow Lite XNNPACK delegate" no longer lands in users' output."""
    import subprocess
    import sys

    probe = "from balanced_fer.faces import BlazeFaceDetector; BlazeFaceDetector('full'); BlazeFaceDetector('short')"
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stderr == "" and run.stdout == ""
