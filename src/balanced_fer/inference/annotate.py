"""Drawing faces on images: box, label with score, and a score bar per class."""

from __future__ import annotations

import cv2
import numpy as np

from .recognizer import Face

BAR_WIDTH = 70


def annotate(rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
    """A BGR copy of an RGB image with each face boxed, labelled and its class scores drawn as bars."""
    canvas = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    scale = max(canvas.shape[:2]) / 640
    thickness = max(int(round(2 * scale)), 1)
    for face in faces:
        x, y, w, h = (int(round(v)) for v in face.box)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 200, 0), thickness)
        text = f"{face.label} {face.scores[face.label]:.0%}"
        cv2.putText(canvas, text, (x, max(y - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * scale, (0, 200, 0), thickness)
        line = int(14 * scale)
        left = (
            x + w + 4
            if x + w + 4 + int(BAR_WIDTH * scale) + int(60 * scale) < canvas.shape[1]
            else max(x - int((BAR_WIDTH + 64) * scale), 0)
        )
        panel = (left, y, left + int((BAR_WIDTH + 62) * scale), y + line * len(face.scores))
        cv2.rectangle(canvas, panel[:2], panel[2:], (40, 40, 40), -1)
        for i, (name, score) in enumerate(sorted(face.scores.items(), key=lambda item: -item[1])):
            top = y + i * line
            cv2.putText(
                canvas, name[:9], (left, top + line - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.35 * scale, (255, 255, 255), 1
            )
            bar_left = left + int(60 * scale)
            cv2.rectangle(
                canvas,
                (bar_left, top + 2),
                (bar_left + int(BAR_WIDTH * scale * score), top + line - 2),
                (0, 200, 0),
                -1,
            )
    return canvas
