"""Epoch samplers: which training indices an epoch visits, by name from a recipe.

Each draws class c with probability proportional to n_c^q: ``instance`` (q = 1, a plain shuffle),
``square_root`` (q = 1/2), ``class_balanced`` (q = 0), and ``progressive`` (Kang et al. 2020), which
moves linearly from instance to class-balanced over training. Non-instance samplers draw with
replacement; an epoch has as many draws as the training set has samples.

A model trained on classes drawn by n_c^q carries pi_train^q in its scores: a sampler removes
1 - q of the training prior (``progressive`` ends class-balanced), which training records in the
model file (see :func:`sampler_prior_removed`).
"""

from __future__ import annotations

import numpy as np

from ..errors import BalancedFerError

EXPONENTS = {"instance": 1.0, "square_root": 0.5, "class_balanced": 0.0}  # q of each fixed sampler
SAMPLERS = (*EXPONENTS, "progressive")


def sampler_prior_removed(sampler: str) -> float:
    """How much of the log training prior a model trained with ``sampler`` no longer carries."""
    if sampler not in SAMPLERS:
        raise BalancedFerError(f"unknown sampler {sampler!r}; available: {', '.join(SAMPLERS)}")
    return 1.0 - EXPONENTS.get(sampler, EXPONENTS["class_balanced"])


def class_probabilities(counts: np.ndarray, q: float) -> np.ndarray:
    """Probability of drawing each class when class c is weighted by n_c^q (empty classes: 0)."""
    counts = np.asarray(counts, dtype=np.float64)
    weights = np.where(counts > 0, np.maximum(counts, 1) ** q, 0.0)
    return weights / weights.sum()


def epoch_indices(labels: np.ndarray, sampler: str, epoch: int, total_epochs: int, seed: int) -> np.ndarray:
    """The sample indices of one epoch, reproducible from (seed, epoch)."""
    if sampler not in SAMPLERS:
        raise BalancedFerError(f"unknown sampler {sampler!r}; available: {', '.join(SAMPLERS)}")
    rng = np.random.default_rng([seed, epoch])
    labels = np.asarray(labels)
    if sampler == "instance":
        return rng.permutation(len(labels))
    counts = np.bincount(labels)
    if sampler == "progressive":
        t = epoch / max(total_epochs - 1, 1)
        probs = (1 - t) * class_probabilities(counts, 1.0) + t * class_probabilities(counts, 0.0)
    else:
        probs = class_probabilities(counts, EXPONENTS[sampler])
    classes = rng.choice(len(counts), size=len(labels), p=probs)
    members = [np.flatnonzero(labels == c) for c in range(len(counts))]
    out = np.empty(len(labels), dtype=np.int64)
    for c, idx in enumerate(members):
        slots = np.flatnonzero(classes == c)
        if len(slots):
            out[slots] = rng.choice(idx, size=len(slots), replace=True)
    return out
