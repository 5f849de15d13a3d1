import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from balanced_fer import Recognizer
from balanced_fer.cli import main
from balanced_fer.data import read_image
from balanced_fer.errors import BalancedFerError
from helpers import EXAMPLES, random_checkpoint, write_face


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
    size = recognizer.description.preprocessing.size
    stack = rng.integers(0, 256, (3, size, size), dtype=np.uint8)  # grey faces at the model's size: used as is
    as_rgb = recognizer.predict_proba([cv2.cvtColor(face, cv2.COLOR_GRAY2RGB) for face in stack])
    assert np.array_equal(recognizer.predict_proba(stack), as_rgb)
    assert np.array_equal(recognizer.predict_proba(stack[..., None]), as_rgb)
    prediction = recognizer.classify([grey])[0]
    assert prediction.label == recognizer.classes_[int(scores[0].argmax())]
    assert prediction.label in recognizer.classes_ and set(prediction.scores) == set(recognizer.classes_)
    assert recognizer.predict_proba([]).shape == (0, 7)
    with pytest.raises(BalancedFerError, match="non-empty HxW"):
        recognizer.predict_proba([np.zeros((0, 5), np.uint8)])
    for foreign in (np.zeros((8, 8, 2), np.uint8), np.zeros((8, 8, 3), np.float32)):  # two channels, floats
        with pytest.raises(BalancedFerError, match="C = 1, 3 or 4"):
            recognizer.predict_proba([foreign])


def test_predict_finds_faces_in_photos(model):
    recognizer = Recognizer(model)
    astronaut = read_image(EXAMPLES / "astronaut.jpg", 3)
    faces = recognizer.predict(astronaut)
    assert len(faces) == 1 and faces[0].label in recognizer.classes_ and len(faces[0].landmarks) == 6
    assert abs(sum(faces[0].scores.values()) - 1) < 1e-4 and faces[0].detection_score > 0.8
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    from_grey, from_path = recognizer.predict(grey), recognizer.predict(EXAMPLES / "astronaut.jpg")
    assert len(from_grey) == 1 and from_path[0].scores == faces[0].scores
    batch = recognizer.predict_batch(
        [astronaut, read_image(EXAMPLES / "rocket.jpg", 3), np.hstack([astronaut, astronaut])]
    )
    assert [len(f) for f in batch] == [1, 0, 2]
    assert batch[0][0].scores == pytest.approx(faces[0].scores, abs=1e-6)


def test_prior_moves_scores_towards_rare_classes(model):
    face = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    plain, uniform = (
        Recognizer(model).predict_proba([face])[0],
        Recognizer(model, prior="uniform").predict_proba([face])[0],
    )
    # train counts grow with the class index: the uniform prior raises the rarest class most
    assert uniform[0] / plain[0] > uniform[-1] / plain[-1]


def test_bfer_predict_detects_and_annotates(model, tmp_path, capsys):
    out = tmp_path / "annotated"
    assert main(["predict", str(EXAMPLES), "--model", str(model), "--annotate", str(out), "--no-progress"]) == 0
    records = {Path(r["path"]).name: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert len(records["astronaut.jpg"]["faces"]) == 1 and records["rocket.jpg"]["faces"] == []
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.jpg", "cameraman.jpg", "rocket.jpg"]
    assert cv2.imread(str(out / "astronaut.jpg")).shape == (512, 512, 3)


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
    assert [r["face"] for r in rows] == ["1", "1", "1"]  # numbered as the text output's "face 1"
    args = ["predict", str(tmp_path / "faces"), "--model", str(model), "--no-detect", "--no-progress"]
    assert main(args + ["--format", "text"]) == 0
    text = capsys.readouterr().out
    assert "broken.jpg: error: " in text and text.count("1 face\n") == 3
    assert f"face 1 at x=0 y=0 40x40: {face['label']} (" in text


def test_a_run_that_finds_no_faces_says_so_and_suggests_no_detect_for_crops(model, tmp_path, capsys, caplog):
    for i in range(3):
        write_face(tmp_path / "crops" / f"{i}.png", i, size=48)
    assert main(["predict", str(tmp_path / "crops"), "--model", str(model), "--no-progress"]) == 0
    assert "no face found in 3 of 3 images; 3 of them are at most" in caplog.text and "--no-detect" in caplog.text
    caplog.clear()
    cv2.imwrite(str(tmp_path / "wall.png"), np.full((600, 800, 3), 128, np.uint8))
    assert main(["predict", str(tmp_path / "wall.png"), "--model", str(model), "--no-progress"]) == 0
    assert "no face found in 1 of 1 images" in caplog.text and "--no-detect" not in caplog.text
    caplog.clear()
    assert main(["predict", str(tmp_path / "crops"), "--model", str(model), "--no-detect", "--no-progress"]) == 0
    assert "no face" not in caplog.text


def test_bfer_predict_errors(model, tmp_path, capsys):
    (tmp_path / "face.jpg").write_bytes((EXAMPLES / "astronaut.jpg").read_bytes())
    assert main(["predict", str(tmp_path), "--model", "nonsense", "--no-detect"]) == 2
    assert "no shipped model named 'nonsense'" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "nothing.png"), "--model", str(model), "--no-detect"]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_opencv_bgr_arrays_score_as_rgb_with_color_order_bgr():
    from helpers import EXAMPLES

    bgr = cv2.imread(str(EXAMPLES / "astronaut.jpg"))
    rgb = Recognizer().predict(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))[0].scores
    assert Recognizer(color_order="bgr").predict(bgr)[0].scores == pytest.approx(rgb, abs=1e-6)
    assert Recognizer().predict(bgr)[0].scores != pytest.approx(rgb, abs=1e-3)  # taken for RGB: other scores
    crop = bgr[60:190, 160:290]
    expected = Recognizer().predict_proba([crop[:, :, ::-1]])
    assert np.allclose(Recognizer(color_order="bgr").predict_proba([crop]), expected, atol=1e-6)
    with pytest.raises(BalancedFerError, match="color_order must be rgb or bgr"):
        Recognizer(color_order="hsv")


def test_a_recognizer_pickles_and_works_in_worker_processes():
    import pickle
    from concurrent.futures import ProcessPoolExecutor

    from helpers import EXAMPLES

    recognizer = Recognizer(prior="uniform", color_order="bgr")
    copy = pickle.loads(pickle.dumps(recognizer))
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)
    assert copy.prior == "uniform" and np.allclose(copy.predict_proba(faces), recognizer.predict_proba(faces))
    with ProcessPoolExecutor(2) as pool:
        labels = list(pool.map(recognizer.predict, [EXAMPLES / "astronaut.jpg"] * 2))
    assert [faces[0].label for faces in labels] == [recognizer.predict(EXAMPLES / "astronaut.jpg")[0].label] * 2


def test_color_order_applies_to_callers_arrays_only_not_to_files_or_video_frames(tmp_path):
    """Files and video frames are decoded to RGB by the package itself: a BGR recognizer used by
    bfer predict's file and video paths gives the same answers as an RGB one."""
    from balanced_fer.inference.predict_files import predict_files
    from balanced_fer.inference.video import predict_video
    from helpers import EXAMPLES, frames_to_video

    rgb, bgr = Recognizer(), Recognizer(color_order="bgr")
    files = [EXAMPLES / "astronaut.jpg"]
    for detect in (True, False):
        expected = list(predict_files(rgb, files, detect=detect, progress=False))
        assert list(predict_files(bgr, files, detect=detect, progress=False)) == expected
    video = frames_to_video([read_image(EXAMPLES / "astronaut.jpg", 3)] * 2, tmp_path / "clip.mp4")
    assert list(predict_video(bgr, video, progress=False)) == list(predict_video(rgb, video, progress=False))


class FixedDetector:
    """Two faces: a small sure one and a large doubtful one."""

    def detect(self, rgb):
        from balanced_fer.faces import DetectedFace

        points = np.zeros((6, 2))
        return [DetectedFace((10, 10, 20, 20), points, 0.9), DetectedFace((60, 60, 100, 100), points, 0.55)]


@pytest.mark.parametrize(
    "options, sizes",
    [
        ({}, [20, 100]),
        ({"min_face_size": 30}, [100]),
        ({"detection_threshold": 0.6}, [20]),
        ({"min_face_size": 200}, []),
    ],
)
def test_detection_threshold_and_min_face_size_leave_faces_out(model, options, sizes):
    faces = Recognizer(model, detector=FixedDetector(), **options).predict(np.zeros((200, 200, 3), np.uint8))
    assert [face.box[2] for face in faces] == sizes


def test_the_service_and_its_workers_get_the_same_detection_settings(model, monkeypatch):
    pytest.importorskip("fastapi")
    from balanced_fer.serving import ServiceLimits
    from balanced_fer.serving.app import CONFIG_ENV, app_from_environment, serve_config

    options = {"prior": "uniform", "detector": "short", "detection_threshold": 0.7, "min_face_size": 24}
    monkeypatch.setenv(CONFIG_ENV, serve_config(str(model), ServiceLimits(), **options))
    recognizer = app_from_environment().state.service.new_recognizer()
    assert (recognizer.detection_threshold, recognizer.min_face_size, recognizer.prior) == (0.7, 24, "uniform")
    assert recognizer.detector.min_score == 0.7 and recognizer.detector.spec.size == 128
    with pytest.raises(BalancedFerError, match="detection_threshold must be between 0 and 1"):
        Recognizer(model, detection_threshold=0)


def test_predict_with_worker_processes_gives_the_same_records_in_order(model, tmp_path):
    from balanced_fer.inference.predict_files import predict_files

    files = []
    for folder in ("a", "b"):  # the same stems in two folders: annotated copies must not collide
        for i in range(5):
            files.append(tmp_path / "in" / folder / f"{i}.png")
            write_face(files[-1], i + 10 * len(files), size=40)
    (tmp_path / "in" / "b" / "broken.png").write_bytes(b"not an image")
    files.append(tmp_path / "in" / "b" / "broken.png")
    recognizer = Recognizer(model)
    one = list(predict_files(recognizer, files, detect=False, batch_size=3, progress=False))
    two = list(
        predict_files(
            recognizer, files, detect=False, batch_size=3, workers=2, annotate_dir=tmp_path / "out", progress=False
        )
    )
    assert [r["path"] for r in two] == [str(f) for f in files] and "error" in two[-1]
    for a, b in zip(one, two):
        assert a.get("error") == b.get("error")
        scores = [[list(f["scores"].values()) for f in r["faces"]] for r in (a, b)]
        assert np.allclose(scores[0], scores[1], atol=1e-5) and len(scores[0]) == (0 if "error" in a else 1)
    assert len(list((tmp_path / "out").iterdir())) == 10  # 0.jpg ... and 0_2.jpg ..., none overwritten
