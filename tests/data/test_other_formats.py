"""RAF-DB, AffectNet, CK+ and plain folders, on tiny fixtures in their exact published layouts."""

import numpy as np
import pytest

from balanced_fer.data import open_dataset
from balanced_fer.errors import DatasetError
from balanced_fer.labels import CANONICAL_CLASSES, SEVEN_CLASSES
from helpers import write_face


@pytest.fixture
def rafdb(tmp_path):
    root = tmp_path / "RAF-DB" / "basic"
    lines = ["train_00001.jpg 1", "train_00002.jpg 4", "test_0001.jpg 7", "test_0002.jpg 3"]
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    for i, line in enumerate(lines):
        stem = line.split()[0][:-4]
        write_face(root / "Image" / "aligned" / f"{stem}_aligned.jpg", i, 100, 3)
    return root


def test_rafdb(rafdb):
    dataset = open_dataset(rafdb)
    assert dataset.format == "rafdb" and dataset.class_names == SEVEN_CLASSES
    assert [(s.split, dataset.class_names[s.label]) for s in dataset.samples] == [
        ("train", "surprise"),
        ("train", "happiness"),
        ("test", "neutral"),
        ("test", "disgust"),
    ]
    assert dataset.samples[0].source.endswith("Image/aligned/train_00001_aligned.jpg")
    assert dataset.samples[0].decode(channels=3).shape == (100, 100, 3)


def test_rafdb_bad_line(rafdb):
    label_file = rafdb / "EmoLabel" / "list_patition_label.txt"
    label_file.write_text(label_file.read_text() + "train_00003.jpg 8\n")
    assert len(open_dataset(rafdb)) == 4
    with pytest.raises(DatasetError, match=r"list_patition_label\.txt:5: expected '<name>\.jpg <code 1-7>'"):
        open_dataset(rafdb, strict=True)


@pytest.fixture
def affectnet(tmp_path):
    header = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n"
    rows = [
        "689/a.jpg,10,20,40,40,1;2,1,0.5,0.2",
        "689/b.jpg,0,0,64,64,1;2,7,0.1,0.1",
        "690/c.jpg,0,0,64,64,1;2,9,0,0",  # uncertain: dropped
        "690/d.jpg,0,0,64,64,1;2,10,0,0",  # non-face: dropped
    ]
    (tmp_path / "training.csv").write_text(header + "\n".join(rows) + "\n")
    (tmp_path / "validation.csv").write_text(header + "691/e.jpg,5,5,30,30,1;2,5,0,0\n")
    for i, name in enumerate(["689/a.jpg", "689/b.jpg", "690/c.jpg", "690/d.jpg", "691/e.jpg"]):
        write_face(tmp_path / "Manually_Annotated_Images" / name, i, 64, 3)
    return tmp_path


def test_affectnet_codes_splits_and_crop(affectnet):
    dataset = open_dataset(affectnet)
    assert dataset.format == "affectnet" and dataset.class_names == CANONICAL_CLASSES
    assert [(s.split, dataset.class_names[s.label]) for s in dataset.samples] == [
        ("train", "happiness"),
        ("train", "contempt"),
        ("val", "disgust"),
    ]
    face = dataset.samples[0].decode(channels=3)
    assert face.shape == (40, 40, 3)  # cropped by the face box


def test_affectnet_single_manifest_and_bad_row(affectnet):
    manifest = affectnet / "training.csv"
    assert len(open_dataset(manifest)) == 2
    manifest.write_text(manifest.read_text() + "689/f.jpg,x,0,1,1,1;2,1,0,0\n")
    with pytest.raises(DatasetError, match=r"training\.csv:6: expression and face box must be numbers"):
        open_dataset(manifest, strict=True)


def test_ckplus48_folders(tmp_path):
    root = tmp_path / "CK+48"
    for i, cls in enumerate(["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]):
        write_face(root / cls / f"S0{i}_001_0000001{i}.png", i)
    dataset = open_dataset(tmp_path)
    assert dataset.format == "ckplus" and dataset.splits == ["all"]
    assert dataset.class_names == ("happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
    assert sorted(dataset.counts().tolist()) == [1] * 7


def test_ckplus_sequences_take_peak_frames(tmp_path):
    for subject, seq, code in [("S005", "001", "3.0000000e+00"), ("S010", "002", "5.0000000e+00")]:
        for frame in range(1, 6):
            write_face(tmp_path / "cohn-kanade-images" / subject / seq / f"{subject}_{seq}_{frame:08d}.png", frame)
        label = tmp_path / "Emotion" / subject / seq / f"{subject}_{seq}_00000005_emotion.txt"
        label.parent.mkdir(parents=True)
        label.write_text(f"   {code}\n")
    dataset = open_dataset(tmp_path, peak_frames=2, include_neutral=True)
    assert dataset.class_names == ("neutral", "happiness", "disgust")
    names = [(s.source.rsplit("/", 1)[1], dataset.class_names[s.label]) for s in dataset.samples]
    assert names == [
        ("S005_001_00000004.png", "disgust"),
        ("S005_001_00000005.png", "disgust"),
        ("S005_001_00000001.png", "neutral"),
        ("S010_002_00000004.png", "happiness"),
        ("S010_002_00000005.png", "happiness"),
        ("S010_002_00000001.png", "neutral"),
    ]
    with pytest.raises(DatasetError, match="peak_frames must be at least 1"):
        open_dataset(tmp_path, peak_frames=0)


def test_folder_with_class_map_and_ignored_folder(tmp_path):
    for split in ("train", "valid"):
        for i, cls in enumerate(["elated", "Neutral", "junk"]):
            write_face(tmp_path / split / cls / f"{i}.png", i)
    with pytest.raises(
        DatasetError, match=r"folder name\(s\) 'elated', 'junk' are not known expressions; map them with --class-map"
    ):
        open_dataset(tmp_path)
    dataset = open_dataset(tmp_path, class_map={"elated": "happiness", "junk": "ignore"})
    assert dataset.format == "folder" and dataset.class_names == ("neutral", "happiness")
    assert dataset.splits == ["train", "val"]
    assert dataset.split("val").counts().tolist() == [1, 1]


def test_flat_folder_and_errors(tmp_path):
    write_face(tmp_path / "faces" / "sad" / "a.png", 0)
    dataset = open_dataset(tmp_path / "faces")
    assert dataset.splits == ["all"] and dataset.class_names == ("sadness",)
    assert np.array_equal(dataset.split("all").counts(), [1])
    with pytest.raises(DatasetError, match="no split 'train'"):
        dataset.split("train")
    (tmp_path / "empty" / "sad").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images found"):
        open_dataset(tmp_path / "empty")
