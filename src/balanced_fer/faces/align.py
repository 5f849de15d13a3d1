"""Face alignment from landmarks: eyes level, the face box scaled into the model's square crop."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .detector import DetectedFace


def alignment_matrix(face: DetectedFace, size: int, margin: float = 0.25) -> np.ndarray:
    """The 2x3 affine map from image pixels to a ``size`` crop: rotation about the box centre that
    levels the eyes, scale that fits the box enlarged by ``margin`` on each side."""
    x, y, w, h = face.box
    right_eye, left_eye = face.landmarks[0], face.landmarks[1]
    angle = math.degrees(math.atan2(left_eye[1] - right_eye[1], left_eye[0] - right_eye[0]))
    scale = size / (max(w, h) * (1 + 2 * margin))
    matrix = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), angle, scale)
    matrix[:, 2] += np.array([size / 2, size / 2]) - np.array([x + w / 2, y + h / 2])
    return matrix


def align_face(image: np.ndarray, face: DetectedFace, size: int, margin: float = 0.25) -> np.ndarray:
    """The aligned ``size`` x ``size`` crop of ``face`` (border pixels repeated beyond the image)."""
    matrix = alignment_matrix(face, size, margin)
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
