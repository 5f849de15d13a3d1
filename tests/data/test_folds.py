"""Stratified folds of a training split (data/folds.py)."""

from __future__ import annotations

import numpy as np
import pytest

from balanced_fer.data.folds import assign_folds


def test_folds_keep_each_class_split_evenly_and_do_not_depend_on_anything_but_the_labels():
    labels = np.repeat([0, 1, 2], [101, 40, 7])
    np.random.default_rng(5).shuffle(labels)
    folds = assign_folds(labels, 3)
    assert folds.shape == labels.shape and set(folds) == {0, 1, 2}
    for label in range(3):
        per_fold = np.bincount(folds[labels == label], minlength=3)
        assert per_fold.max() - per_fold.min() <= 1
    np.random.seed(1)  # global random state plays no part
    assert np.array_equal(assign_folds(labels, 3), folds)
    with pytest.raises(Exception, match="folds must be at least 2"):
        assign_folds(labels, 1)
