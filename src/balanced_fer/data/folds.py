"""Stratified folds of a training split, for teachers that score faces they never trained on."""

from __future__ import annotations

import numpy as np

from ..errors import BalancedFerError

FOLD_SEED = 0  # fixed, so that runs with different seeds hold out the same faces


def assign_folds(labels: np.ndarray, folds: int) -> np.ndarray:
    """Each face's fold, 0 to ``folds - 1``: every class's faces are shuffled with a fixed seed and dealt
    in turn, so each fold keeps the split's class mix and the same labels always give the same folds."""
    if folds < 2:
        raise BalancedFerError(f"folds must be at least 2, got {folds}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(FOLD_SEED)
    fold = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        fold[rng.permutation(members)] = np.arange(len(members)) % folds
    return fold
