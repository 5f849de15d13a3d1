import numpy as np
import pytest

from balanced_fer.errors import BalancedFerError
from balanced_fer.imbalance import SAMPLERS, epoch_indices

LABELS = np.repeat([0, 1, 2], [800, 150, 50])


def class_share(indices):
    return np.bincount(LABELS[indices], minlength=3) / len(indices)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_reproducible_and_full_length(sampler):
    a = epoch_indices(LABELS, sampler, 3, 10, seed=7)
    assert len(a) == len(LABELS) and np.array_equal(a, epoch_indices(LABELS, sampler, 3, 10, seed=7))
    assert not np.array_equal(a, epoch_indices(LABELS, sampler, 4, 10, seed=7))


def test_class_frequencies():
    assert sorted(epoch_indices(LABELS, "instance", 0, 1, 0)) == list(range(len(LABELS)))
    assert np.allclose(class_share(epoch_indices(LABELS, "class_balanced", 0, 1, 0)), 1 / 3, atol=0.05)
    sqrt = np.sqrt([800, 150, 50])
    assert np.allclose(class_share(epoch_indices(LABELS, "square_root", 0, 1, 0)), sqrt / sqrt.sum(), atol=0.05)
    first = class_share(epoch_indices(LABELS, "progressive", 0, 10, 0))
    last = class_share(epoch_indices(LABELS, "progressive", 9, 10, 0))
    assert np.allclose(first, [0.8, 0.15, 0.05], atol=0.05) and np.allclose(last, 1 / 3, atol=0.05)


def test_unknown_sampler():
    with pytest.raises(BalancedFerError, match="unknown sampler"):
        epoch_indices(LABELS, "oversample", 0, 1, 0)
