"""Faces: detection behind one interface (BlazeFace shipped) and landmark alignment."""

from .align import align_face, alignment_matrix
from .detector import DEFAULT_DETECTOR, DEFAULT_MIN_SCORE, LANDMARKS, BlazeFaceDetector, DetectedFace, FaceDetector

__all__ = [
    "DEFAULT_DETECTOR",
    "DEFAULT_MIN_SCORE",
    "LANDMARKS",
    "BlazeFaceDetector",
    "DetectedFace",
    "FaceDetector",
    "align_face",
    "alignment_matrix",
]
