"""Imbalance-honest evaluation: metrics, reports and plots used by every later stage."""

from .metrics import (
    Evaluation,
    bootstrap_ci95,
    evaluate_predictions,
    expected_calibration_error,
    paired_difference_ci95,
)
from .report import evaluation_paths, plot_confusion_matrix, save_evaluation, to_markdown

__all__ = [
    "Evaluation",
    "bootstrap_ci95",
    "evaluate_predictions",
    "expected_calibration_error",
    "paired_difference_ci95",
    "plot_confusion_matrix",
    "evaluation_paths",
    "save_evaluation",
    "to_markdown",
]
