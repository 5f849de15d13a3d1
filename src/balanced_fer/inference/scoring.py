"""From raw logits to deployment scores: temperature calibration, post-hoc logit adjustment and
re-targeting to the class frequencies expected where the model is used.

A model's scores follow the class prior it was trained towards: the training frequencies for plain
cross-entropy, the uniform prior for balanced softmax or class-balanced sampling, something between
for partial corrections. Training records that in the model file (``trained_prior_weight``, from
what its loss and sampler declare), and :func:`output_log_prior` reads it, so that
``prior="uniform"`` (balanced predictions) or a file of deployment frequencies moves the scores by
exactly the difference (Menon et al. 2021).
"""

from __future__ import annotations

import numpy as np
import torch

from ..imbalance import adjust_logits, prior_from
from ..models import ModelDescription


def train_prior(description: ModelDescription) -> np.ndarray:
    """The training class frequencies (empty classes counted as one face)."""
    counts = np.maximum(np.asarray(description.train_counts, dtype=np.float64), 1)
    return counts / counts.sum()


def output_log_prior(description: ModelDescription) -> np.ndarray:
    """The log class prior the model's (post-hoc adjusted) scores follow: w log pi_train, with w the
    weight training left (``trained_prior_weight``) less the post-hoc adjustment."""
    return (description.trained_prior_weight - description.post_hoc_tau) * np.log(train_prior(description))


def deployment_logits(logits: torch.Tensor, description: ModelDescription, prior: str | None = None) -> torch.Tensor:
    """Calibrated, adjusted logits: divided by the stored temperature, shifted by the stored
    post-hoc adjustment, and re-targeted to ``prior`` (``train``, ``uniform`` or a JSON file of
    class frequencies) when given."""
    logits = logits / description.calibration.temperature
    if description.post_hoc_tau:
        logits = adjust_logits(logits, train_prior(description), description.post_hoc_tau)
    if prior is not None:
        target = np.log(prior_from(prior, list(description.class_names), list(description.train_counts)))
        logits = logits + torch.as_tensor(target - output_log_prior(description), dtype=logits.dtype)
    return logits


def fit_temperature(logits: torch.Tensor, labels: np.ndarray, shift: torch.Tensor | None = None) -> float:
    """The temperature T minimising the negative log-likelihood of ``labels`` under
    softmax(logits / T + shift) (Guo et al. 2017; ``shift`` is a fixed post-hoc adjustment)."""
    targets = torch.as_tensor(labels, dtype=torch.long)
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        scaled = logits.float() / log_t.exp()
        loss = torch.nn.functional.cross_entropy(scaled if shift is None else scaled + shift, targets)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())
