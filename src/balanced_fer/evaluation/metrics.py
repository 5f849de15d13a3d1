"""Imbalance-honest classification metrics, computed with scikit-learn wherever it has them.

Averages over classes (mean class accuracy, macro-F1, group accuracies) use the classes present in
the targets: a class with no test sample has no recall to average.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import confusion_matrix, log_loss, precision_recall_fscore_support

from ..data.stats import GROUPS, frequency_groups


@dataclass
class Evaluation:
    """Every figure of one evaluation; :meth:`to_dict` gives the stable JSON keys."""

    class_names: list[str]
    num_samples: int
    accuracy: float
    mean_class_accuracy: float
    macro_f1: float
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    confusion_matrix_normalized: list[list[float]]
    ci95: dict[str, list[float]]
    group_accuracy: dict[str, float] = field(default_factory=dict)
    ece: float | None = None
    nll: float | None = None

    def summary(self) -> dict:
        """The figures a model file carries as its ``validation``: headline metrics and per-class recall."""
        return {
            "accuracy": self.accuracy,
            "mean_class_accuracy": self.mean_class_accuracy,
            "macro_f1": self.macro_f1,
            "nll": self.nll,
            "recall": {name: row["recall"] for name, row in self.per_class.items()},
        }

    def to_dict(self) -> dict:
        return {
            "num_samples": self.num_samples,
            "accuracy": self.accuracy,
            "mean_class_accuracy": self.mean_class_accuracy,
            "macro_f1": self.macro_f1,
            "ece": self.ece,
            "nll": self.nll,
            "ci95": self.ci95,
            "group_accuracy": self.group_accuracy,
            "per_class": self.per_class,
            "confusion_matrix": {
                "labels": self.class_names,
                "counts": self.confusion_matrix,
                "normalized": self.confusion_matrix_normalized,
            },
        }


def expected_calibration_error(probabilities: np.ndarray, targets: np.ndarray, bins: int = 15) -> float:
    """ECE with ``bins`` equal-width confidence bins (Guo et al. 2017)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == targets
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def _accuracies(targets: np.ndarray, predictions: np.ndarray, num_classes: int) -> tuple[float, float]:
    """Overall accuracy and mean class accuracy (classes present in ``targets``)."""
    support = np.bincount(targets, minlength=num_classes)
    hits = np.bincount(targets[predictions == targets], minlength=num_classes)
    present = support > 0
    return float(hits.sum() / len(targets)), float(np.mean(hits[present] / support[present]))


def bootstrap_ci95(
    targets: np.ndarray, predictions: np.ndarray, num_classes: int, rounds: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """Percentile bootstrap 95% intervals of accuracy and mean class accuracy."""
    rng = np.random.default_rng(seed)
    draws = np.array(
        [
            _accuracies(targets[idx], predictions[idx], num_classes)
            for idx in (rng.integers(0, len(targets), len(targets)) for _ in range(rounds))
        ]
    )
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    return {"accuracy": [float(low[0]), float(high[0])], "mean_class_accuracy": [float(low[1]), float(high[1])]}


def paired_difference_ci95(
    targets: np.ndarray,
    method: list[np.ndarray],
    control: list[np.ndarray],
    num_classes: int,
    rounds: int = 1000,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Method minus control, each averaged over its runs (seeds), of accuracy and mean class accuracy:
    ``[difference, low, high]`` with a percentile bootstrap 95% interval that resamples the faces once
    for every run, so the runs stay paired on the same faces."""

    def difference(idx: np.ndarray) -> np.ndarray:
        def mean_over_runs(runs: list[np.ndarray]) -> np.ndarray:
            return np.mean([_accuracies(targets[idx], run[idx], num_classes) for run in runs], axis=0)

        return mean_over_runs(method) - mean_over_runs(control)

    rng = np.random.default_rng(seed)
    draws = np.array([difference(rng.integers(0, len(targets), len(targets))) for _ in range(rounds)])
    observed = difference(np.arange(len(targets)))
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    return {
        name: [float(observed[i]), float(low[i]), float(high[i])]
        for i, name in enumerate(("accuracy", "mean_class_accuracy"))
    }


def evaluate_predictions(
    targets: Sequence[int] | np.ndarray,
    class_names: Sequence[str],
    *,
    predictions: Sequence[int] | np.ndarray | None = None,
    probabilities: np.ndarray | None = None,
    train_counts: Sequence[int] | None = None,
    groups: Sequence[str] | None = None,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
) -> Evaluation:
    """Evaluate predicted labels, or class probabilities (which also give ECE and NLL).

    ``groups`` (head / medium / tail per class) or ``train_counts`` (from which they are derived
    with :func:`~balanced_fer.data.stats.frequency_groups`) add group accuracies.
    """
    targets = np.asarray(targets, dtype=np.int64)
    k = len(class_names)
    if probabilities is not None:
        probabilities = np.asarray(probabilities, dtype=np.float64)
        if probabilities.shape != (len(targets), k):
            raise ValueError(f"probabilities must be ({len(targets)}, {k}), got {probabilities.shape}")
        predictions = probabilities.argmax(axis=1) if predictions is None else predictions
    if predictions is None:
        raise ValueError("give predictions or probabilities")
    predictions = np.asarray(predictions, dtype=np.int64)
    if len(targets) == 0 or predictions.shape != targets.shape:
        raise ValueError(f"need as many predictions as targets (>0), got {predictions.shape} and {targets.shape}")
    if min(targets.min(), predictions.min()) < 0 or max(targets.max(), predictions.max()) >= k:
        raise ValueError(f"labels must lie in 0..{k - 1} for {k} classes")

    labels = list(range(k))
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predictions, labels=labels, zero_division=0
    )
    present = support > 0
    counts = confusion_matrix(targets, predictions, labels=labels)
    normalized = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    accuracy, mca = _accuracies(targets, predictions, k)
    if groups is None and train_counts is not None:
        groups = frequency_groups(np.asarray(train_counts))
    group_accuracy = {}
    if groups is not None:
        for group in GROUPS:
            members = [i for i in labels if groups[i] == group and present[i]]
            if members:
                group_accuracy[group] = float(np.mean(recall[members]))
    result = Evaluation(
        class_names=list(class_names),
        num_samples=len(targets),
        accuracy=accuracy,
        mean_class_accuracy=mca,
        macro_f1=float(np.mean(f1[present])),
        per_class={
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        },
        confusion_matrix=counts.tolist(),
        confusion_matrix_normalized=normalized.round(6).tolist(),
        ci95=bootstrap_ci95(targets, predictions, k, bootstrap_rounds, seed),
        group_accuracy=group_accuracy,
    )
    if probabilities is not None:
        result.ece = expected_calibration_error(probabilities, targets)
        clipped = np.clip(probabilities, 1e-12, 1.0)
        result.nll = float(log_loss(targets, clipped / clipped.sum(axis=1, keepdims=True), labels=labels))
    return result
