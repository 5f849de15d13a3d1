import json

import numpy as np
import pytest

from balanced_fer.evaluation import (
    evaluate_predictions,
    expected_calibration_error,
    paired_difference_ci95,
    save_evaluation,
    to_markdown,
)

CLASSES = ["a", "b", "c"]
TARGETS = [0, 0, 0, 1, 1, 2]
PREDICTIONS = [0, 0, 1, 1, 0, 2]


def test_hand_checked_figures():
    result = evaluate_predictions(TARGETS, CLASSES, predictions=PREDICTIONS, bootstrap_rounds=200)
    assert result.accuracy == pytest.approx(4 / 6)
    assert result.mean_class_accuracy == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert result.per_class["a"] == {
        "precision": pytest.approx(2 / 3),
        "recall": pytest.approx(2 / 3),
        "f1": pytest.approx(2 / 3),
        "support": 3,
    }
    assert result.per_class["b"]["precision"] == pytest.approx(1 / 2) and result.per_class["b"][
        "recall"
    ] == pytest.approx(1 / 2)
    assert result.macro_f1 == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert result.confusion_matrix == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert result.confusion_matrix_normalized[0] == pytest.approx([2 / 3, 1 / 3, 0])
    low, high = result.ci95["accuracy"]
    assert 0 <= low <= result.accuracy <= high <= 1
    assert result.ece is None and result.nll is None


def test_mean_class_accuracy_differs_from_accuracy_under_imbalance():
    targets = [0] * 90 + [1] * 10
    always_head = [0] * 100
    result = evaluate_predictions(targets, ["head", "tail"], predictions=always_head, bootstrap_rounds=50)
    assert result.accuracy == pytest.approx(0.9) and result.mean_class_accuracy == pytest.approx(0.5)
    assert result.per_class["tail"]["recall"] == 0


def test_classes_absent_from_targets_are_not_averaged():
    result = evaluate_predictions([0, 1], CLASSES, predictions=[0, 2], bootstrap_rounds=10)
    assert result.mean_class_accuracy == pytest.approx(0.5)
    assert result.per_class["c"]["support"] == 0
    assert result.macro_f1 == pytest.approx((1 + 0) / 2)


def test_probabilities_give_ece_and_nll():
    probabilities = np.array([[0.9, 0.1, 0.0], [0.6, 0.4, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])
    targets = [0, 1, 1, 2]
    result = evaluate_predictions(targets, CLASSES, probabilities=probabilities, bootstrap_rounds=10)
    assert result.accuracy == pytest.approx(0.75)
    assert result.nll == pytest.approx(-np.mean(np.log([0.9, 0.4, 0.8, 1.0])))
    # bins: 0.9 (right), 0.6 (wrong), 0.8 (right), 1.0 (right), each alone in its bin
    assert result.ece == pytest.approx((0.1 + 0.6 + 0.2 + 0.0) / 4)
    assert expected_calibration_error(np.array([[1.0, 0.0]]), np.array([0])) == 0


def test_group_accuracy_from_train_counts():
    result = evaluate_predictions(
        TARGETS, CLASSES, predictions=PREDICTIONS, train_counts=[1000, 400, 50], bootstrap_rounds=10
    )
    assert result.group_accuracy == {
        "head": pytest.approx(2 / 3),
        "medium": pytest.approx(1 / 2),
        "tail": pytest.approx(1.0),
    }


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({}, "give predictions or probabilities"),
        ({"predictions": [0, 1]}, "as many predictions as targets"),
        ({"predictions": [0, 0, 0, 1, 1, 5]}, "labels must lie in 0..2"),
        ({"probabilities": np.ones((6, 2))}, "probabilities must be"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate_predictions(TARGETS, CLASSES, **kwargs)


def test_reports(tmp_path):
    result = evaluate_predictions(
        TARGETS, CLASSES, predictions=PREDICTIONS, train_counts=[10, 5, 1], bootstrap_rounds=10
    )
    paths = save_evaluation(result, tmp_path, stem="val")
    payload = json.loads(paths["json"].read_text())
    for key in ("accuracy", "mean_class_accuracy", "macro_f1", "per_class", "confusion_matrix", "ece", "ci95"):
        assert key in payload
    assert payload["confusion_matrix"]["labels"] == CLASSES
    markdown = to_markdown(result)
    assert "| mean class accuracy | 72.22%" in markdown and "| b | 50.0% | 50.0% | 50.0% | 2 |" in markdown
    assert paths["confusion_matrix"].read_bytes()[:4] == b"\x89PNG"


def test_charts_leave_the_callers_matplotlib_backend_alone(tmp_path):
    """Library code draws on Figure objects: an API user's interactive backend is never switched."""
    import subprocess
    import sys

    probe = f"""
import matplotlib
matplotlib.use("svg")
import numpy as np
from pathlib import Path
from balanced_fer.evaluation import evaluate_predictions, plot_confusion_matrix
result = evaluate_predictions(np.array([0, 1]), ("a", "b"), probabilities=np.eye(2), train_counts=[1, 1])
path = plot_confusion_matrix(result, Path({str(tmp_path / "c.png")!r}))
print(matplotlib.get_backend(), path.read_bytes()[:4] == b"\\x89PNG")
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["svg", "True"]


def test_paired_difference_of_runs_on_the_same_faces():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, 600)
    noisy = [np.where(rng.random(600) < 0.5, targets, rng.integers(0, 3, 600)) for _ in range(3)]
    same = paired_difference_ci95(targets, noisy, noisy, 3, rounds=200)
    assert all(value == 0 for figures in same.values() for value in figures)
    better = [np.where(rng.random(600) < 0.8, targets, rng.integers(0, 3, 600)) for _ in range(3)]
    gain = paired_difference_ci95(targets, better, noisy, 3, rounds=200)["accuracy"]
    assert 0 < gain[1] < gain[0] < gain[2]  # about +0.2, and the interval excludes zero
    assert gain[0] == pytest.approx(
        np.mean([(b == targets).mean() - (n == targets).mean() for b, n in zip(better, noisy)])
    )
