"""Faces followed across video frames, their scores smoothed in time (no model, no torch)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..errors import BalancedFerError

if TYPE_CHECKING:
    from .recognizer import Face


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


@dataclass
class FaceTracker:
    """Greedy IoU association of faces to tracks, with an exponential moving average of each track's
    scores (``smoothing`` is the weight of the past; 0 = no smoothing)."""

    smoothing: float = 0.6
    min_iou: float = 0.3
    max_missed: int = 10  # frames a track survives without a face
    tracks: list[Track] = field(default_factory=list, init=False)
    next_id: int = field(default=0, init=False)

    def __post_init__(self):
        if not 0 <= self.smoothing < 1:
            raise BalancedFerError(f"smoothing must lie in [0, 1), got {self.smoothing}")

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
            result.append((track.id, replace(face, label=label, scores=dict(track.scores))))
        for ti, track in enumerate(self.tracks):
            if ti not in matched_tracks:
                track.missed += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return result
