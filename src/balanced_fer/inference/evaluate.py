"""Evaluating a checkpoint on any dataset split, aligning its classes by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..data import FaceDataset, load_arrays, open_dataset
from ..errors import BalancedFerError
from ..evaluation import Evaluation, evaluate_predictions
from ..models import ModelDescription
from .backends import load_backend
from .scoring import deployment_logits


def validation_dataset(description: ModelDescription) -> tuple[FaceDataset, str]:
    """The validation dataset and split named by a model's recipe."""
    data = (description.recipe or {}).get("data")
    if not data:
        raise BalancedFerError("the model file names no validation data (it carries no training recipe)")
    return open_dataset(data["val"] or data["train"], **data["options"]), data["val_split"]


def evaluate_checkpoint(
    checkpoint: str | Path,
    dataset: FaceDataset,
    split: str,
    *,
    tta: str | None = None,
    tau: float | None = None,
    prior: str | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
    device: str = "cpu",
    known_classes_only: bool = False,
) -> Evaluation:
    """Evaluate a checkpoint (``.safetensors``) or its ONNX export on ``dataset``'s ``split``. The
    model's classes must cover the dataset's: they are aligned by name (an 8-class FER+ model
    evaluates on 7-class FER2013 by dropping its contempt score); with ``known_classes_only`` the faces
    of classes the model does not know are left out instead (a 7-class model on FER+'s 8). ``tau``
    overrides the stored post-hoc adjustment; ``prior`` re-targets the scores (see
    :func:`~balanced_fer.inference.scoring.deployment_logits`)."""
    backend = load_backend(checkpoint, device)
    description = backend.description
    pre = description.preprocessing
    model_classes = list(description.class_names)
    missing = [c for c in dataset.class_names if c not in model_classes]
    if missing and not known_classes_only:
        raise BalancedFerError(
            f"{checkpoint}: the model does not know the dataset's classes {missing} "
            "(--known-classes-only leaves their faces out)"
        )
    arrays = load_arrays(dataset, split, pre.size, pre.channels, cache_dir=cache_dir, progress=progress)
    classes = [c for c in dataset.class_names if c in model_classes]
    kept = np.isin(arrays.labels, [dataset.class_names.index(c) for c in classes])
    labels = np.searchsorted([dataset.class_names.index(c) for c in classes], arrays.labels[kept])
    images = arrays.images if kept.all() else arrays.images[kept]
    if tau is not None:
        description = description.replace(post_hoc_tau=tau)
    logits = deployment_logits(backend.logits(images, tta=tta), description, prior)
    counts = np.asarray(description.train_counts, dtype=np.float64)
    columns = [model_classes.index(c) for c in classes]
    probabilities = torch.softmax(logits[:, columns], dim=1).numpy()
    return evaluate_predictions(labels, classes, probabilities=probabilities, train_counts=counts[columns].tolist())


def deployed_probabilities(backend, faces: np.ndarray) -> np.ndarray:
    """(N, K) scores a backend gives ``faces`` (uint8, at the model's face size) as deployed: its own
    test-time augmentation and post-hoc adjustment."""
    return torch.softmax(deployment_logits(backend.logits(faces), backend.description), dim=1).numpy()


def deployed_labels(backend, faces: np.ndarray) -> np.ndarray:
    """The label index of each face by :func:`deployed_probabilities`."""
    return deployed_probabilities(backend, faces).argmax(1)


def label_agreement(first, second, faces: np.ndarray) -> float:
    """The share of ``faces`` given the same :func:`deployed_labels` by two backends (say a
    checkpoint and its int8 export)."""
    return float((deployed_labels(first, faces) == deployed_labels(second, faces)).mean())
