"""Post-hoc logit adjustment (Menon et al. 2021) and deployment priors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ..errors import BalancedFerError


def prior_from(spec: str, class_names: list[str], train_counts: list[int]) -> np.ndarray:
    """A class prior from ``train`` (training frequencies), ``uniform``, or a JSON file mapping class
    names to frequencies (normalised; missing classes get 0 and are rejected)."""
    if spec == "train":
        prior = np.asarray(train_counts, dtype=np.float64)
    elif spec == "uniform":
        prior = np.ones(len(class_names))
    else:
        path = Path(spec)
        try:
            table = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise BalancedFerError(f"{path}: not a readable JSON prior ({err})") from None
        if not isinstance(table, dict):
            raise BalancedFerError(f"{path}: a JSON prior is an object of class name: frequency")
        missing = [n for n in class_names if n not in table]
        if missing:
            raise BalancedFerError(f"{path}: prior lacks classes {missing}")
        values = [table[n] for n in class_names]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise BalancedFerError(f"{path}: prior frequencies must be numbers, got {values}")
        prior = np.array(values, dtype=np.float64)
    if not (np.isfinite(prior).all() and (prior > 0).all()):
        raise BalancedFerError(f"prior {spec!r}: every class frequency must be a positive finite number")
    prior = prior / prior.max()  # frequencies near the float maximum would overflow their sum
    return prior / prior.sum()


def adjust_logits(
    logits: torch.Tensor, train_prior: np.ndarray, tau: float = 1.0, target_prior: np.ndarray | None = None
) -> torch.Tensor:
    """Remove ``tau`` x the log training prior from the logits and add the target one (uniform when
    None): the Bayes-optimal correction when test classes follow ``target_prior``."""
    shift = -tau * np.log(train_prior)
    if target_prior is not None:
        shift = shift + tau * np.log(target_prior)
    return logits + torch.as_tensor(shift, dtype=logits.dtype, device=logits.device)
