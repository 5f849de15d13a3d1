"""Drawing faces on images like the web page does: a box, a filled label with the top score (and the
track id on videos), and a panel of score bars with percentages, placed off the faces and over the
plainest part of the scene. Text scales with the image; images under 256 px (face crops) are drawn
enlarged so that the text can be read."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from .recognizer import Face

BOX = (42, 88, 226)  # BGR of the page's orange (#e2582a): boxes, labels, the top score
BAR = (226, 122, 42)  # the page's blue (#2a7ae2): the other scores
PANEL = (40, 40, 40)
TEXT = (255, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def text_scale(shape: tuple[int, ...]) -> float:
    """Font scale for an image: readable on a 640 px photo, still inside a 48 px crop."""
    return float(np.clip(max(shape[:2]) / 800, 0.4, 1.6))


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> int:
    """Area shared by two (left, top, right, bottom) rectangles."""
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def detail_map(canvas: np.ndarray) -> np.ndarray:
    """Per pixel, how much the scene changes from its left neighbour (grey levels): where a panel hides most."""
    grey = cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY).astype(np.float32)
    return np.abs(np.diff(grey, axis=1, prepend=grey[:, :1]))


def place_panel(
    size: tuple[int, int], box: tuple[int, int, int, int], faces: list[tuple[int, int, int, int]], detail: np.ndarray
) -> tuple[int, int]:
    """Top-left corner of a (width, height) panel for ``box``: beside it (right, left, below, above)
    or, when it is the only face, in a corner of the image; among the places inside the image that
    cover no face, the one over the least ``detail`` (:func:`detail_map`), so the panel hides as
    little of the scene as it can; else the one covering the least face area."""
    width, height = size
    x0, y0, x1, y1 = box
    rows, cols = detail.shape
    candidates = [(x1 + 4, y0), (x0 - 4 - width, y0), (x0, y1 + 4), (x0, y0 - 4 - height)]
    if len(faces) == 1:
        candidates += [(cols - width, 0), (0, 0), (cols - width, rows - height), (0, rows - height)]

    def cost(corner: tuple[int, int]) -> tuple[bool, int, float]:
        left, top = corner
        rect = (left, top, left + width, top + height)
        outside = left < 0 or top < 0 or rect[2] > cols or rect[3] > rows
        covered = sum(overlap(rect, face) for face in faces)
        busy = float(detail[max(top, 0) : rect[3], max(left, 0) : rect[2]].mean()) if not outside else 0.0
        return outside, covered, busy

    left, top = min(candidates, key=cost)
    return int(np.clip(left, 0, max(cols - width, 0))), int(np.clip(top, 0, max(rows - height, 0)))


MIN_SIDE = 256  # smaller images are annotated enlarged


def annotate(rgb: np.ndarray, faces: list[Face], tracks: Sequence[int] | None = None) -> np.ndarray:
    """A BGR copy of an RGB image with each face boxed, labelled ("#track label NN%") and its class
    scores drawn as bars with percentages."""
    canvas = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    enlarge = int(np.ceil(MIN_SIDE / max(canvas.shape[:2])))
    if enlarge > 1:
        canvas = cv2.resize(canvas, None, fx=enlarge, fy=enlarge, interpolation=cv2.INTER_CUBIC)
    detail = detail_map(canvas) if faces else None  # once per image, shared by every face's panel
    rows, cols = canvas.shape[:2]
    scale = text_scale(canvas.shape)
    thickness = max(int(round(2 * scale)), 1)
    (_, line_height), baseline = cv2.getTextSize("Ag", FONT, scale, 1)
    line = line_height + baseline + 4
    boxes = [
        tuple(int(round(v * enlarge)) for v in (f.box[0], f.box[1], f.box[0] + f.box[2], f.box[1] + f.box[3]))
        for f in faces
    ]
    for i, (face, box) in enumerate(zip(faces, boxes)):
        x0, y0, x1, y1 = box
        cv2.rectangle(canvas, (x0, y0), (x1, y1), BOX, thickness)
        label = f"{face.label} {face.scores[face.label]:.0%}"
        if tracks is not None:
            label = f"#{tracks[i]} {label}"
        (width, _), _ = cv2.getTextSize(label, FONT, scale, 1)
        top = y0 - line if y0 - line >= 0 else min(y0, rows - line)  # above the box, else inside it
        left = int(np.clip(x0, 0, max(cols - width - 6, 0)))
        cv2.rectangle(canvas, (left, top), (left + width + 6, top + line), BOX, -1)
        cv2.putText(canvas, label, (left + 3, top + line - baseline - 2), FONT, scale, TEXT, 1, cv2.LINE_AA)
        ranked = sorted(face.scores.items(), key=lambda item: -item[1])
        name_width = max(cv2.getTextSize(f"{n} 100%", FONT, scale * 0.8, 1)[0][0] for n, _ in ranked)
        bar = int(name_width * 0.8)
        size = (name_width + bar + 12, line * len(ranked) + 4)
        if size[0] * size[1] > 0.3 * rows * cols:  # a panel would hide the picture: the label says it
            continue
        left, top = place_panel(size, box, boxes, detail)
        if any(overlap((left, top, left + size[0], top + size[1]), other) for other in boxes):
            continue  # no room off the faces (a close-up, a crop): the label says it
        cv2.rectangle(canvas, (left, top), (left + size[0], top + size[1]), PANEL, -1)
        for j, (name, score) in enumerate(ranked):
            y = top + 2 + j * line
            cv2.putText(
                canvas,
                f"{name} {score:.0%}",
                (left + 4, y + line - baseline - 2),
                FONT,
                scale * 0.8,
                TEXT,
                1,
                cv2.LINE_AA,
            )
            bar_left = left + name_width + 8
            colour = BOX if j == 0 else BAR
            cv2.rectangle(canvas, (bar_left, y + 3), (bar_left + int(bar * score), y + line - 3), colour, -1)
    return canvas
