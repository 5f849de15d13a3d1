"""Faces: detection behind one interface (BlazeFace shipped) and landmark alignment."""

from .align import FER2013_FRAMING, LOOSE_FRAMING, Framing, align_face, alignment_matrix
from .detector import DEFAULT_DETECTOR, DEFAULT_MIN_SCORE, LANDMARKS, BlazeFaceDetector, DetectedFace, FaceDetector

__all__ = [
    "DEFAULT_DETECTOR",
    "DEFAULT_MIN_SCORE",
    "FER2013_FRAMING",
    "LOOSE_FRAMING",
    "Framing",
    "LANDMARKS",
    "BlazeFaceDetector",
    "DetectedFace",
    "FaceDetector",
    "align_face",
    "alignment_matrix",
]
