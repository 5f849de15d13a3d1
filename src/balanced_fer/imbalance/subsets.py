"""Balanced multi-subsets for DBL: each subset draws the head classes at random and keeps (and
optionally up-samples) the tail classes.

Two ways to size a class in a subset:

* ``divisors``: class c keeps n_c / d_c of its images, drawn anew for each subset (the DBL authors'
  builder: AffectNet's counts divided by 5, 5, 5, 3, 2, 1, 5). ``"auto"`` derives the divisors from
  the counts as d_c = round(n_c / n_min) clipped to 1..5, our reading of how those were chosen (it
  gives 5, 5, 5, 4, 2, 1, 5 on AffectNet);
* ``target``: every class is drawn down to ``target`` images (an integer, or ``median`` / ``mean`` /
  ``min`` of the class counts), and smaller classes are repeated up to ``target`` but by at most
  ``max_upsample`` times their size.

With a target near the head's size the subsets are near-copies (FER2013, median target: 90% of each
subset's faces are in every other); ``subset_overlap`` measures it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import BalancedFerError


@dataclass
class Subset:
    """One balanced subset: indices into the training split (repeats mean up-sampling)."""

    indices: np.ndarray
    counts: list[int]

    @property
    def imbalance_ratio(self) -> float:
        present = [c for c in self.counts if c > 0]
        return max(present) / min(present)


def class_target(counts: np.ndarray, target: int | str) -> int:
    if isinstance(target, int):
        return target
    rules = {"median": np.median, "mean": np.mean, "min": np.min}
    if target not in rules:
        raise BalancedFerError(f"subset target {target!r} is not an integer, median, mean or min")
    return int(rules[target](counts[counts > 0]))


MAX_DIVISOR = 5  # the largest divisor in the authors' builder


def auto_divisors(counts: Sequence[int]) -> list[int]:
    """d_c = round(n_c / n_min), clipped to 1..MAX_DIVISOR (empty classes: 1)."""
    counts = np.asarray(counts)
    smallest = counts[counts > 0].min()
    return [int(np.clip(round(n / smallest), 1, MAX_DIVISOR)) if n else 1 for n in counts]


def subset_overlap(subsets: Sequence[Subset]) -> np.ndarray:
    """(k, k): the share of subset i's distinct faces that subset j also holds."""
    members = [np.unique(s.indices) for s in subsets]
    return np.array([[np.isin(a, b).mean() if len(a) else 0.0 for b in members] for a in members])


def balanced_subsets(
    labels: np.ndarray,
    k: int,
    *,
    target: int | str | None = "median",
    divisors: Mapping[int, float] | Sequence[float] | str | None = None,
    max_upsample: float = 3.0,
    seed: int = 0,
) -> list[Subset]:
    """``k`` subsets of the training labels, each drawn with its own seed."""
    if k < 1:
        raise BalancedFerError(f"need at least one subset, got k={k}")
    labels = np.asarray(labels)
    counts = np.bincount(labels)
    members = [np.flatnonzero(labels == c) for c in range(len(counts))]
    if divisors == "auto":
        divisors = auto_divisors(counts)
    if isinstance(divisors, str):
        raise BalancedFerError(f"subset divisors must be 'auto' or one number per class, got {divisors!r}")
    if divisors is not None:
        divisor = dict(enumerate(divisors)) if not isinstance(divisors, Mapping) else dict(divisors)
        sizes = [int(round(n / divisor.get(c, 1.0))) for c, n in enumerate(counts)]
    elif target is not None:
        goal = class_target(counts, target)
        sizes = [min(goal, int(n * max_upsample)) if n < goal else goal for n in counts]
    else:
        raise BalancedFerError("give a subset target or per-class divisors")
    subsets = []
    for i in range(k):
        rng = np.random.default_rng([seed, i])
        parts = []
        for idx, size in zip(members, sizes):
            if size <= len(idx):
                parts.append(rng.choice(idx, size=size, replace=False))
            else:  # every image once, then random repeats
                parts.append(np.concatenate([idx, rng.choice(idx, size=size - len(idx), replace=True)]))
        indices = np.sort(np.concatenate(parts))
        subsets.append(Subset(indices, np.bincount(labels[indices], minlength=len(counts)).tolist()))
    return subsets
