"""Expressions in videos and webcam streams: faces tracked across frames, scores smoothed in time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
from tqdm.auto import tqdm

from ..errors import BalancedFerError
from .annotate import annotate
from .recognizer import Face, Recognizer

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    return inter / (aw * ah + bw * bh - inter + 1e-9)


@dataclass
class Track:
    id: int
    box: tuple[float, float, float, float]
    scores: dict[str, float]
    missed: int = 0


class FaceTracker:
    """Greedy IoU association of faces to tracks, with an exponential moving average of each track's
    scores (``smoothing`` is the weight of the past; 0 = no smoothing)."""

    def __init__(self, smoothing: float = 0.6, min_iou: float = 0.3, max_missed: int = 10):
        if not 0 <= smoothing < 1:
            raise BalancedFerError(f"smoothing must lie in [0, 1), got {smoothing}")
        self.smoothing, self.min_iou, self.max_missed = smoothing, min_iou, max_missed
        self.tracks: list[Track] = []
        self.next_id = 0

    def update(self, faces: list[Face]) -> list[tuple[int, Face]]:
        """(track id, face with smoothed scores and label) for each face of the new frame."""
        pairs = sorted(
            ((box_iou(t.box, f.box), ti, fi) for ti, t in enumerate(self.tracks) for fi, f in enumerate(faces)),
            reverse=True,
        )
        matched_tracks, matched_faces, result = set(), {}, []
        for iou, ti, fi in pairs:
            if iou < self.min_iou:
                break
            if ti not in matched_tracks and fi not in matched_faces:
                matched_tracks.add(ti)
                matched_faces[fi] = ti
        for fi, face in enumerate(faces):
            if fi in matched_faces:
                track = self.tracks[matched_faces[fi]]
                a = self.smoothing
                track.scores = {c: a * track.scores[c] + (1 - a) * s for c, s in face.scores.items()}
                track.box, track.missed = face.box, 0
            else:
                track = Track(self.next_id, face.box, dict(face.scores))
                self.next_id += 1
                self.tracks.append(track)
                matched_tracks.add(len(self.tracks) - 1)
            label = max(track.scores, key=track.scores.get)
            result.append((track.id, Face(label, dict(track.scores), face.box, face.landmarks, face.detection_score)))
        for ti, track in enumerate(self.tracks):
            if ti not in matched_tracks:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return result


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
    smoothing: float = 0.6,
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
                tracked = tracker.update(recognizer.predict(rgb))
                if annotate_path is not None:
                    if writer is None:
                        annotate_path.parent.mkdir(parents=True, exist_ok=True)
                        size = (frame.shape[1], frame.shape[0])
                        writer = cv2.VideoWriter(str(annotate_path), cv2.VideoWriter_fourcc(*"mp4v"), fps / every, size)
                    writer.write(annotate(rgb, [face for _, face in tracked]))
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
