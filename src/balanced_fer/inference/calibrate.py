"""Temperature scaling of a checkpoint on validation data, stored in the checkpoint."""

from __future__ import annotations

from pathlib import Path

import torch

from ..data import FaceDataset, load_arrays
from ..errors import BalancedFerError
from ..evaluation import Evaluation, evaluate_predictions
from ..models import Calibration, ModelDescription, load_checkpoint, save_checkpoint
from .backends import TorchBackend
from .scoring import deployment_logits, fit_temperature


def calibrate_checkpoint(
    checkpoint: str | Path, out: str | Path, dataset: FaceDataset, split: str, *, progress: bool = True
) -> tuple[float, Evaluation, Evaluation]:
    """Fit a temperature on ``dataset``'s ``split`` (validation data, never a test split), write the
    checkpoint with ``calibration.temperature`` to ``out``; returns (T, before, after)."""
    if split == "test":
        raise BalancedFerError("calibrate on validation data, never on a test split")
    backend = TorchBackend(checkpoint)
    description = backend.description
    if tuple(dataset.class_names) != description.class_names:
        raise BalancedFerError(
            f"{checkpoint}: calibration data must have the model's classes {list(description.class_names)}"
        )
    pre = description.preprocessing
    arrays = load_arrays(dataset, split, pre.size, pre.channels, progress=progress)
    raw = backend.logits(arrays.images)
    uncalibrated = description.replace(calibration=Calibration())
    shift = deployment_logits(torch.zeros(1, raw.shape[1]), uncalibrated)[0]
    temperature = fit_temperature(raw, arrays.labels, shift)
    calibrated = description.replace(calibration=Calibration(temperature, f"{dataset.root} [{split}]"))

    def evaluate(scoring: ModelDescription) -> Evaluation:
        probabilities = torch.softmax(deployment_logits(raw, scoring), dim=1).numpy()
        return evaluate_predictions(
            arrays.labels, dataset.class_names, probabilities=probabilities, train_counts=list(description.train_counts)
        )

    tensors, _ = load_checkpoint(checkpoint)
    save_checkpoint(Path(out), tensors, calibrated)
    return temperature, evaluate(uncalibrated), evaluate(calibrated)
