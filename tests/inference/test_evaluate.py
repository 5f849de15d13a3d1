import pytest

from balanced_fer.cli import main
from balanced_fer.data import open_dataset
from balanced_fer.errors import BalancedFerError
from balanced_fer.inference.evaluate import evaluate_checkpoint
from helpers import random_checkpoint, write_toy_faces

MODEL_CLASSES = ["neutral", "happiness", "sadness", "contempt"]


@pytest.fixture
def checkpoint(tmp_path):
    return random_checkpoint(tmp_path / "m.safetensors", classes=MODEL_CLASSES, size=24)


def test_classes_are_aligned_by_name(checkpoint, tmp_path):
    write_toy_faces(tmp_path / "faces", {"happy": 6, "sad": 6}, size=24, splits=("val",))
    dataset = open_dataset(tmp_path / "faces")
    result = evaluate_checkpoint(checkpoint, dataset, "val", cache_dir=tmp_path / "cache", progress=False)
    assert result.class_names == ["happiness", "sadness"] and result.num_samples == 8
    adjusted = evaluate_checkpoint(checkpoint, dataset, "val", tau=1.0, cache_dir=tmp_path / "cache", progress=False)
    assert adjusted.nll != result.nll  # post-hoc adjustment changed the scores


def test_unknown_classes_are_a_clear_error(checkpoint, tmp_path):
    write_toy_faces(tmp_path / "faces", {"happy": 6, "fear": 6}, size=24, splits=("val",))
    with pytest.raises(BalancedFerError, match=r"does not know the dataset's classes \['fear'\]"):
        evaluate_checkpoint(
            checkpoint, open_dataset(tmp_path / "faces"), "val", cache_dir=tmp_path / "c", progress=False
        )


def test_known_classes_only_leaves_the_faces_of_unknown_classes_out(checkpoint, tmp_path, capsys):
    write_toy_faces(tmp_path / "faces", {"fear": 6, "happy": 6, "sad": 6}, size=24, splits=("val",))
    dataset = open_dataset(tmp_path / "faces")
    result = evaluate_checkpoint(
        checkpoint, dataset, "val", cache_dir=tmp_path / "c", progress=False, known_classes_only=True
    )
    known = evaluate_checkpoint(
        checkpoint,
        open_dataset(tmp_path / "faces", class_map={"fear": "ignore"}),
        "val",
        cache_dir=tmp_path / "c",
        progress=False,
    )
    assert result.class_names == ["happiness", "sadness"] and result.num_samples == 8
    assert result.to_dict() == known.to_dict()  # as if those faces were never there
    code = main(["evaluate", str(checkpoint), str(tmp_path / "faces"), "--known-classes-only", "--no-progress"])
    assert code == 0 and "(4 faces of fear, which the model does not know, left out)" in capsys.readouterr().out
