import csv
import io
import json

import cv2
import numpy as np
import pytest

from balanced_fer import Recognizer
from balanced_fer.cli import main
from balanced_fer.errors import BalancedFerError
from helpers import random_checkpoint, write_face


@pytest.fixture
def model(tmp_path):
    return random_checkpoint(tmp_path / "m.safetensors")


def test_predict_proba_on_any_kind_of_crop(model):
    recognizer = Recognizer(model)
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (60, 50), dtype=np.uint8)
    faces = [
        grey,
        cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB),
        np.dstack([cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB), grey]),
        grey.astype(np.uint16) * 257,
        grey[:, :, None],
    ]
    scores = recognizer.predict_proba(faces)
    assert scores.shape == (5, 7) and np.allclose(scores.sum(1), 1, atol=1e-5)
    assert np.allclose(scores, scores[0], atol=1e-5)  # the same face in every format
    assert np.allclose(recognizer.predict_proba([grey]), scores[:1], atol=1e-5)  # alone or in a batch
    assert recognizer.predict([grey]) == [recognizer.classes_[int(scores[0].argmax())]]
    prediction = recognizer.classify([grey])[0]
    assert prediction.label in recognizer.classes_ and set(prediction.scores) == set(recognizer.classes_)
    assert recognizer.predict_proba([]).shape == (0, 7)
    with pytest.raises(BalancedFerError, match="non-empty HxW"):
        recognizer.predict_proba([np.zeros((0, 5), np.uint8)])


def test_prior_moves_scores_towards_rare_classes(model):
    face = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    plain, uniform = (
        Recognizer(model).predict_proba([face])[0],
        Recognizer(model, prior="uniform").predict_proba([face])[0],
    )
    # train counts grow with the class index: the uniform prior raises the rarest class most
    assert uniform[0] / plain[0] > uniform[-1] / plain[-1]


def test_bfer_predict_on_a_folder(model, tmp_path, capsys):
    for i in range(3):
        write_face(tmp_path / "faces" / "sub" / f"{i}.png", i, size=40)
    (tmp_path / "faces" / "broken.jpg").write_bytes(b"not an image")
    assert main(["predict", str(tmp_path / "faces"), "--model", str(model), "--no-detect", "--no-progress"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(records) == 4
    broken = next(r for r in records if r["path"].endswith("broken.jpg"))
    assert "not a readable image" in broken["error"] and broken["faces"] == []
    face = next(r for r in records if r["path"].endswith("0.png"))["faces"][0]
    assert face["box"] == [0, 0, 40, 40] and abs(sum(face["scores"].values()) - 1) < 1e-4
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "predict",
                str(tmp_path / "faces" / "sub"),
                "--model",
                str(model),
                "--no-detect",
                "--format",
                "csv",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 3 and all(r["label"] and not r["error"] for r in rows) and "score_disgust" in rows[0]


def test_bfer_predict_errors(model, tmp_path, capsys):
    assert main(["predict", str(tmp_path), "--model", str(model)]) == 2
    assert "--no-detect" in capsys.readouterr().err
    assert main(["predict", str(tmp_path), "--no-detect"]) == 2
    assert "--model" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "nothing.png"), "--model", str(model), "--no-detect"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
