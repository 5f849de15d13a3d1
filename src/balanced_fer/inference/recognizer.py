"""The Python API for recognising expressions on face crops, in the scikit-learn spirit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import BalancedFerError
from .backends import load_backend
from .scoring import deployment_logits


@dataclass
class Prediction:
    """The expression of one face: its label and a score per class (summing to 1)."""

    label: str
    scores: dict[str, float]


def to_face_array(face: np.ndarray, size: int, channels: int) -> np.ndarray:
    """Any uint8 / uint16 face crop (grey, RGB or RGBA) as (size, size, channels) uint8."""
    face = np.asarray(face)
    if face.dtype == np.uint16:
        face = (face >> 8).astype(np.uint8)
    if face.dtype != np.uint8 or face.ndim not in (2, 3) or min(face.shape[:2]) == 0:
        raise BalancedFerError(f"a face must be a non-empty HxW or HxWxC uint8 image, got {face.dtype} {face.shape}")
    if face.ndim == 3 and face.shape[2] == 4:
        face = face[:, :, :3]
    if face.ndim == 3 and face.shape[2] == 1:
        face = face[:, :, 0]
    if channels == 1 and face.ndim == 3:
        face = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    elif channels == 3 and face.ndim == 2:
        face = cv2.cvtColor(face, cv2.COLOR_GRAY2RGB)
    if face.shape[:2] != (size, size):
        shrink = face.shape[0] > size or face.shape[1] > size
        face = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return face.reshape(size, size, channels)


class Recognizer:
    """Expression scores for face crops from a checkpoint (``.safetensors``) or its ONNX export.

    ``prior`` re-targets the scores to the class frequencies of the place the model is used
    (``uniform``, ``train`` or a JSON file); ``tta="flip"`` averages each face with its mirror.

    >>> recognizer = Recognizer("runs/fer2013_compact/final.safetensors", prior="uniform")
    >>> recognizer.predict_proba([face])          # (1, 7) probabilities in recognizer.classes_ order
    """

    def __init__(self, model: str | Path, *, device: str = "cpu", tta: str = "none", prior: str | None = None):
        self.backend = load_backend(model, device)
        self.meta = self.backend.meta
        self.tta, self.prior = tta, prior
        self.classes_: list[str] = list(self.meta["class_names"])

    def predict_proba(self, faces: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(N, K) class probabilities for N face crops (each any size; RGB or grey)."""
        pre = self.meta["preprocessing"]
        if len(faces) == 0:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        batch = np.stack([to_face_array(face, pre["size"], pre["channels"]) for face in faces])
        logits = deployment_logits(self.backend.logits(batch, tta=self.tta), self.meta, self.prior)
        return torch.softmax(logits, dim=1).numpy()

    def predict(self, faces: Sequence[np.ndarray] | np.ndarray) -> list[str]:
        """The most likely expression of each face crop."""
        return [self.classes_[i] for i in self.predict_proba(faces).argmax(axis=1)]

    def classify(self, faces: Sequence[np.ndarray] | np.ndarray) -> list[Prediction]:
        """Label and per-class scores of each face crop."""
        return [
            Prediction(self.classes_[int(row.argmax())], {c: float(p) for c, p in zip(self.classes_, row)})
            for row in self.predict_proba(faces)
        ]
