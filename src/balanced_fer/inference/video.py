"""Expressions in videos and webcam streams: faces tracked across frames, scores smoothed in time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
from tqdm.auto import tqdm

from ..errors import BalancedFerError
from .annotate import annotate
from .recognizer import Recognizer
from .tracking import FaceTracker

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def open_capture(source: str | Path | int) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(source if isinstance(source, int) else str(source))
    if not capture.isOpened():
        what = f"webcam {source}" if isinstance(source, int) else f"{source}"
        raise BalancedFerError(f"{what}: cannot be opened as a video")
    return capture


def predict_video(
    recognizer: Recognizer,
    source: str | Path | int,
    *,
    smoothing: float = FaceTracker.smoothing,
    every: int = 1,
    annotate_path: Path | None = None,
    max_frames: int | None = None,
    progress: bool = True,
) -> Iterator[dict]:
    """One record per analysed frame (``frame``, ``time`` in seconds, ``faces`` with ``track``); a
    video file or a webcam index. ``every`` analyses one frame in so many; ``annotate_path`` writes
    an annotated copy of the analysed frames (MP4)."""
    capture = open_capture(source)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    tracker, writer, index, analysed = FaceTracker(smoothing), None, -1, 0
    try:
        with tqdm(total=total, desc="frames", unit="frame", disable=not progress) as bar:
            while max_frames is None or analysed < max_frames:
                ok, frame = capture.read()
                if not ok:
                    break
                index += 1
                bar.update(1)
                if index % every:
                    continue
                analysed += 1
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                tracked = tracker.update(recognizer.predict(rgb, color_order="rgb"))
                if annotate_path is not None:
                    if writer is None:
                        annotate_path.parent.mkdir(parents=True, exist_ok=True)
                        size = (frame.shape[1], frame.shape[0])
                        writer = cv2.VideoWriter(str(annotate_path), cv2.VideoWriter_fourcc(*"mp4v"), fps / every, size)
                    writer.write(annotate(rgb, [face for _, face in tracked], [track for track, _ in tracked]))
                yield {
                    "frame": index,
                    "time": round(index / fps, 3),
                    "faces": [{"track": track} | face.to_dict() for track, face in tracked],
                }
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if analysed == 0:
        raise BalancedFerError(f"{source}: the video has no readable frame")


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES
