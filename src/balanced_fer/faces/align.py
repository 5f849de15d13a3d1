"""Face alignment from landmarks: eyes level, the face box placed in the model's square crop as the
training faces sit in theirs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .detector import DetectedFace


@dataclass(frozen=True)
class Framing:
    """Where a detected face box sits in a square crop: its side as a share of the crop's side, and
    its centre's offset from the crop's centre (shares of the side; positive: right, down)."""

    box_share: float
    dx: float = 0.0
    dy: float = 0.0

    @classmethod
    def from_margin(cls, margin: float) -> Framing:
        """The box centred, enlarged by ``margin`` of its side on each side."""
        return cls(1 / (1 + 2 * margin))


# FER2013 / FER+ training faces as BlazeFace boxes them (median of 1,200 train faces, upscaled 4x and
# padded: benchmarks/framing.py): the box fills 88% of the crop and sits 4% of the side low.
FER2013_FRAMING = Framing(box_share=0.876, dx=0.0, dy=0.042)
LOOSE_FRAMING = Framing.from_margin(0.25)  # the framing before it was measured: the box plus 25% a side


def alignment_matrix(face: DetectedFace, size: int, framing: Framing = FER2013_FRAMING) -> np.ndarray:
    """The 2x3 affine map from image pixels to a ``size`` crop: rotation about the box centre that
    levels the eyes, scale and shift that place the box as ``framing`` says."""
    x, y, w, h = face.box
    right_eye, left_eye = face.landmarks[0], face.landmarks[1]
    angle = math.degrees(math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0]))
    scale = size * framing.box_share / max(w, h)
    centre = np.array([x + w / 2, y + h / 2])
    matrix = cv2.getRotationMatrix2D(tuple(centre), angle, scale)
    matrix[:, 2] += size * (np.array([0.5 + framing.dx, 0.5 + framing.dy])) - centre
    return matrix


def align_face(image: np.ndarray, face: DetectedFace, size: int, framing: Framing = FER2013_FRAMING) -> np.ndarray:
    """The aligned ``size`` x ``size`` crop of ``face`` (border pixels repeated beyond the image)."""
    matrix = alignment_matrix(face, size, framing)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
