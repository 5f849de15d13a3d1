import cv2
import numpy as np
import pytest

from balanced_fer.data import read_image
from balanced_fer.errors import BalancedFerError
from balanced_fer.inference import Face, Recognizer
from balanced_fer.inference.tracking import FaceTracker
from balanced_fer.inference.video import predict_video
from helpers import EXAMPLES, frames_to_video, random_checkpoint


def test_tracker_keeps_ids_and_smooths_scores():
    tracker = FaceTracker(smoothing=0.5)
    first = tracker.update([Face("a", {"a": 1.0, "b": 0.0}, (0, 0, 10, 10))])
    second = tracker.update(
        [Face("b", {"a": 0.0, "b": 1.0}, (1, 0, 10, 10)), Face("a", {"a": 1.0, "b": 0.0}, (50, 50, 10, 10))]
    )
    assert first[0][0] == 0 and second[0][0] == 0 and second[1][0] == 1
    assert second[0][1].scores == {"a": 0.5, "b": 0.5}
    with pytest.raises(BalancedFerError):
        FaceTracker(smoothing=1.0)


def test_video_frames_are_tracked_and_annotated(tmp_path):
    astronaut = read_image(EXAMPLES / "astronaut.jpg", 3)
    video = frames_to_video([np.roll(astronaut, 4 * i, axis=1) for i in range(8)], tmp_path / "clip.mp4")
    recognizer = Recognizer(random_checkpoint(tmp_path / "m.safetensors"))
    out = tmp_path / "annotated.mp4"
    records = list(predict_video(recognizer, video, annotate_path=out, progress=False))
    assert [r["frame"] for r in records] == list(range(8))
    assert all(len(r["faces"]) == 1 and r["faces"][0]["track"] == 0 for r in records)
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    assert len(list(predict_video(recognizer, video, every=3, progress=False))) == 3


def test_empty_and_unreadable_videos(tmp_path):
    recognizer = Recognizer(random_checkpoint(tmp_path / "m.safetensors"))
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(BalancedFerError, match="empty.mp4"):
        list(predict_video(recognizer, tmp_path / "empty.mp4", progress=False))
