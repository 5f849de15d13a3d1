"""From raw logits to deployment scores: temperature calibration, post-hoc logit adjustment and
re-targeting to the class frequencies expected where the model is used.

A model's scores follow the class prior it was trained towards: the training frequencies for plain
cross-entropy, the uniform prior for balanced softmax or class-balanced sampling, something between
for partial corrections. :func:`output_log_prior` reads that from the checkpoint's recipe, so that
``prior="uniform"`` (balanced predictions) or a file of deployment frequencies moves the scores by
exactly the difference (Menon et al. 2021).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..imbalance import adjust_logits, prior_from

SAMPLER_BALANCE = {"instance": 0.0, "square_root": 0.5, "class_balanced": 1.0, "progressive": 1.0}


def _balance(meta: dict[str, Any]) -> float:
    """How far the training removed the training prior from the scores: 0 none, 1 all of it."""
    recipe = meta.get("recipe") or {}
    loss = recipe.get("loss", {})
    name, kwargs = loss.get("name", "ce"), loss.get("kwargs", {})
    balance = {"balanced_softmax": 1.0, "logit_adjusted": float(kwargs.get("tau", 1.0))}.get(name, 0.0)
    if name == "weighted_ce" and kwargs.get("scheme", "inverse") in ("inverse", "effective", "dbl"):
        balance = 1.0
    balance += SAMPLER_BALANCE.get(recipe.get("sampler", "instance"), 0.0)
    return balance + float(meta.get("logit_adjustment", {}).get("tau", 0.0))


def train_prior(meta: dict[str, Any]) -> np.ndarray:
    counts = np.maximum(np.asarray(meta["train_counts"], dtype=np.float64), 1)
    return counts / counts.sum()


def output_log_prior(meta: dict[str, Any]) -> np.ndarray:
    """The log class prior the model's (post-hoc adjusted) scores follow: (1 - balance) log pi_train."""
    return (1.0 - _balance(meta)) * np.log(train_prior(meta))


def deployment_logits(logits: torch.Tensor, meta: dict[str, Any], prior: str | None = None) -> torch.Tensor:
    """Calibrated, adjusted logits: divided by the stored temperature, shifted by the stored
    post-hoc adjustment, and re-targeted to ``prior`` (``train``, ``uniform`` or a JSON file of
    class frequencies) when given."""
    logits = logits / float(meta.get("calibration", {}).get("temperature", 1.0))
    tau = float(meta.get("logit_adjustment", {}).get("tau", 0.0))
    if tau:
        logits = adjust_logits(logits, train_prior(meta), tau)
    if prior is not None:
        target = np.log(prior_from(prior, meta["class_names"], meta["train_counts"]))
        logits = logits + torch.as_tensor(target - output_log_prior(meta), dtype=logits.dtype)
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
