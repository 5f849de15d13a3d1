import csv
import io
import sys

import numpy as np
import pytest

from balanced_fer.data import read_image
from balanced_fer.errors import BalancedFerError
from balanced_fer.inference import Recognizer, to_dataframe
from balanced_fer.inference.predict_files import write_records
from helpers import EXAMPLES, frames_to_video, random_checkpoint


@pytest.fixture(scope="module")
def recognizer(tmp_path_factory):
    return Recognizer(random_checkpoint(tmp_path_factory.mktemp("model") / "m.safetensors"))


def test_a_photos_faces_as_a_dataframe(recognizer):
    faces = recognizer.predict(EXAMPLES / "astronaut.jpg")
    table = to_dataframe(faces)
    classes = [f"score_{c}" for c in recognizer.classes_]
    assert list(table.columns) == ["face", "x", "y", "w", "h", "label", "detection_score", *classes]
    assert len(table) == len(faces) == 1 and table["face"].tolist() == [1]
    assert table.loc[0, "label"] == faces[0].label and np.isclose(table[classes].sum(axis=1), 1, atol=1e-4).all()
    two = to_dataframe(recognizer.predict_batch([EXAMPLES / "astronaut.jpg", np.zeros((64, 64, 3), np.uint8)]))
    assert len(two) == 2 and two["error"].tolist()[1] == "no face"


def test_predict_video_tracks_faces_and_tabulates_by_frame(recognizer, tmp_path):
    astronaut = read_image(EXAMPLES / "astronaut.jpg", 3)
    video = frames_to_video([np.roll(astronaut, 4 * i, axis=1) for i in range(5)], tmp_path / "clip.mp4")
    records = recognizer.predict_video(video, every=2)
    assert [r["frame"] for r in records] == [0, 2, 4]
    table = to_dataframe(records)
    assert table["frame"].tolist() == [0, 2, 4] and table["track"].tolist() == [0, 0, 0]
    assert {"time", "face", "label"} <= set(table.columns) and "path" not in table.columns
    out = io.StringIO()
    write_records(({"path": str(video)} | r for r in records), out, "csv", recognizer.classes_)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["frame"], r["track"], r["face"]) for r in rows] == [("0", "0", "1"), ("2", "0", "1"), ("4", "0", "1")]


def test_to_dataframe_says_what_it_needs(recognizer, monkeypatch):
    with pytest.raises(BalancedFerError, match="expected faces or prediction records"):
        to_dataframe([42])
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(BalancedFerError, match="pip install pandas"):
        to_dataframe([])
