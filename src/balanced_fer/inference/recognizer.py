"""The Python API for recognising expressions on face crops, in the scikit-learn spirit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from ..data import read_image
from ..data.dataset import resize_square
from ..errors import BalancedFerError
from ..faces import (
    DEFAULT_DETECTOR,
    DEFAULT_MIN_SCORE,
    FER2013_FRAMING,
    BlazeFaceDetector,
    FaceDetector,
    Framing,
    align_face,
)
from ..pretrained import pretrained_path
from .backends import load_backend, model_tta
from .scoring import deployment_logits


@dataclass
class Prediction:
    """The expression of one face: its label and a score per class (summing to 1)."""

    label: str
    scores: dict[str, float]


@dataclass
class Face(Prediction):
    """A detected face: box ``(x, y, w, h)`` and landmarks in image pixels, detection score, and its
    expression (label and scores)."""

    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    landmarks: list[list[float]] = field(default_factory=list)
    detection_score: float = 1.0

    def to_dict(self) -> dict:
        return {
            "box": [round(v, 1) for v in self.box],
            "landmarks": [[round(v, 1) for v in point] for point in self.landmarks],
            "detection_score": round(self.detection_score, 4),
            "label": self.label,
            "scores": {c: round(p, 6) for c, p in self.scores.items()},
        }


def as_rgb(image: np.ndarray, color_order: str = "rgb") -> np.ndarray:
    """Any uint8 / uint16 grey, RGB or RGBA image (BGR / BGRA with ``color_order="bgr"``, as
    ``cv2.imread`` gives) as RGB uint8 (H, W, 3)."""
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    channels = image.shape[2] if image.ndim == 3 else 1
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or min(image.shape[:2]) == 0 or channels not in (1, 3, 4):
        raise BalancedFerError(
            "an image must be a non-empty HxW or HxWxC (C = 1, 3 or 4) uint8 or uint16 array, "
            f"got {image.dtype} {image.shape}"
        )
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    return np.ascontiguousarray(image[:, :, 2::-1] if color_order == "bgr" else image[:, :, :3])


def to_face_array(face: np.ndarray, size: int, channels: int, color_order: str = "rgb") -> np.ndarray:
    """Any uint8 / uint16 face crop (grey, RGB or RGBA; BGR with ``color_order="bgr"``) as (size,
    size, channels) uint8."""
    face = np.asarray(face)
    if channels == 1 and face.dtype == np.uint8 and face.ndim == 2 and min(face.shape) > 0:
        return resize_square(face, size)[:, :, None]  # grey already: no round trip through RGB
    face = as_rgb(face, color_order)
    if channels == 1:
        face = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY)
    return resize_square(face, size).reshape(size, size, channels)


def face_batch(faces: Sequence[np.ndarray] | np.ndarray, size: int, channels: int, color_order: str) -> np.ndarray:
    """(N, size, size, channels) uint8 from face crops (see :func:`to_face_array`); a uint8 array of grey
    faces already at ``size`` is used as it is."""
    if (
        channels == 1
        and isinstance(faces, np.ndarray)
        and faces.dtype == np.uint8
        and faces.shape[1:] in ((size, size), (size, size, 1))
    ):
        return faces.reshape(len(faces), size, size, 1)
    return np.stack([to_face_array(face, size, channels, color_order) for face in faces])


class Recognizer:
    """Facial expressions from a checkpoint (``.safetensors``) or its ONNX export.

    ``predict(image)`` finds the faces (``detector``: ``full`` or ``short`` BlazeFace, a ``.tflite``
    path, or any object with ``detect(rgb) -> list[DetectedFace]``; faces scoring under
    ``detection_threshold`` or smaller than ``min_face_size`` pixels a side are left out), aligns each
    (eyes level, the box placed in the crop as ``framing`` says: by default as FER2013's faces sit in
    theirs) and scores it; ``predict_proba(face_crops)`` scores crops directly. Arrays are **RGB**
    (grey and RGBA too); pass ``color_order="bgr"`` for OpenCV's ``cv2.imread`` / ``VideoCapture``
    arrays (file paths are always read correctly). ``prior`` re-targets the scores to the class
    frequencies of the place the model is used (``uniform``, ``train`` or a JSON file);
    ``tta="flip"`` averages each face with its mirror (default: what the model's recipe validated
    with). ``threads`` caps the threads of an ONNX model and of the detector (many files go fastest as
    one process a core with ``threads=1``: ``bfer predict --workers N``).

    >>> recognizer = Recognizer.from_pretrained()                # the shipped model, offline
    >>> recognizer = Recognizer("model.onnx", prior="uniform")
    >>> [face.label for face in recognizer.predict(photo)]     # e.g. ['happiness']
    >>> recognizer.predict_proba([crop])                       # (1, 7) in recognizer.classes_ order
    """

    def __init__(
        self,
        model: str | Path = "default",
        *,
        device: str = "cpu",
        tta: str | None = None,
        prior: str | None = None,
        detector: str | FaceDetector = DEFAULT_DETECTOR,
        framing: Framing = FER2013_FRAMING,
        color_order: str = "rgb",
        detection_threshold: float = DEFAULT_MIN_SCORE,
        min_face_size: float = 0,
        threads: int | None = None,
    ):
        if color_order not in ("rgb", "bgr"):
            raise BalancedFerError(f"color_order must be rgb or bgr, got {color_order!r}")
        if not 0 < detection_threshold < 1:
            raise BalancedFerError(f"detection_threshold must be between 0 and 1, got {detection_threshold}")
        if min_face_size < 0:
            raise BalancedFerError(f"min_face_size must be at least 0 pixels, got {min_face_size}")
        self._arguments = dict(
            model=model,
            device=device,
            tta=tta,
            prior=prior,
            detector=detector,
            framing=framing,
            color_order=color_order,
            detection_threshold=detection_threshold,
            min_face_size=min_face_size,
            threads=threads,
        )
        self.detection_threshold, self.min_face_size, self.threads = detection_threshold, min_face_size, threads
        self.color_order = color_order
        self.backend = load_backend(model, device, threads)
        self.description = self.backend.description
        model_tta(self.description, tta)  # an unknown mode is an error now, not at the first face
        self.tta, self.prior, self.framing = tta, prior, framing
        self.classes_: list[str] = list(self.description.class_names)
        self._detector = detector

    def __getstate__(self) -> dict:
        """Pickles as its constructor's arguments: a worker process (``ProcessPoolExecutor``) reloads the
        model and detector itself. A detector object given in place of a name must pickle too."""
        return self._arguments

    def __setstate__(self, arguments: dict) -> None:
        self.__init__(**arguments)

    @classmethod
    def from_pretrained(cls, name: str = "default", **kwargs) -> Recognizer:
        """A recognizer over a model shipped in the package (see ``bfer models``); ``kwargs`` as for
        the constructor."""
        pretrained_path(name)  # an unknown name is an error even where a file of that name exists
        return cls(name, **kwargs)

    @property
    def detector(self) -> FaceDetector:
        """The face detector, created on first use (crop-only users never load it)."""
        if isinstance(self._detector, str):
            self._detector = BlazeFaceDetector(
                self._detector, min_score=self.detection_threshold, threads=self.threads or 1
            )
        return self._detector

    def predict(self, image: np.ndarray | str | Path, color_order: str | None = None) -> list[Face]:
        """Every face in an image (a file path, or an array: grey, or colour in ``color_order``, by
        default the recognizer's) with its expression."""
        return self.predict_batch([image], color_order)[0]

    def predict_batch(
        self, images: Sequence[np.ndarray | str | Path], color_order: str | None = None
    ) -> list[list[Face]]:
        """:meth:`predict` for several images, scoring all their faces in one batch."""
        size = self.description.preprocessing.size
        order = color_order or self.color_order
        found, crops = [], []
        for image in images:
            rgb = read_image(image, 3) if isinstance(image, (str, Path)) else as_rgb(image, order)
            faces = [
                face
                for face in self.detector.detect(rgb)
                if face.score >= self.detection_threshold and min(face.box[2:]) >= self.min_face_size
            ]
            found.append(faces)
            crops += [align_face(rgb, face, size, self.framing) for face in faces]
        predictions = iter(self.classify(crops, color_order="rgb"))  # crops of the RGB image
        return [
            [
                Face(p.label, p.scores, face.box, face.landmarks.tolist(), face.score)
                for face, p in zip(faces, predictions)
            ]
            for faces in found
        ]

    def predict_video(self, source: str | Path | int, *, progress: bool = False, **options) -> list[dict]:
        """Every analysed frame of a video file (or webcam index) as a record: ``frame``, ``time`` and
        ``faces``, each with a ``track`` id that follows the face across frames and scores smoothed in
        time. ``options`` as for :func:`~balanced_fer.inference.video.predict_video` (``every``,
        ``smoothing``, ``max_frames``, ``annotate_path``); ``to_dataframe`` tabulates the result."""
        from .video import predict_video

        return list(predict_video(self, source, progress=progress, **options))

    def predict_proba(self, faces: Sequence[np.ndarray] | np.ndarray, color_order: str | None = None) -> np.ndarray:
        """(N, K) class probabilities for N face crops (each any size; grey, or colour in
        ``color_order``, by default the recognizer's)."""
        pre = self.description.preprocessing
        if len(faces) == 0:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        order = color_order or self.color_order
        batch = face_batch(faces, pre.size, pre.channels, order)
        logits = deployment_logits(self.backend.logits(batch, tta=self.tta), self.description, self.prior)
        return torch.softmax(logits, dim=1).numpy()

    def classify(self, faces: Sequence[np.ndarray] | np.ndarray, color_order: str | None = None) -> list[Prediction]:
        """Label and per-class scores of each face crop (``color_order`` as for :meth:`predict_proba`)."""
        return [
            Prediction(self.classes_[int(row.argmax())], {c: float(p) for c, p in zip(self.classes_, row)})
            for row in self.predict_proba(faces, color_order)
        ]
