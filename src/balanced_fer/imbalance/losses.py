"""Long-tail losses, each addressable by name from a recipe: ``build_loss(name, class_counts, **kw)``.

Every loss takes ``(logits, targets)`` with integer targets; ``set_epoch`` lets scheduled losses
(LDAM-DRW) change with training. Each declares ``prior_removed``: how much of the log training prior
its minimiser no longer carries in the scores (0 for cross-entropy, whose scores follow the training
frequencies; 1 for balanced softmax or inverse-frequency weights, whose scores follow a uniform
prior). Training records it in the model file, so that prediction can re-target the scores to any
prior (``inference.scoring``) without knowing the loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BalancedFerError

LOSSES: dict[str, Callable[..., "LongTailLoss"]] = {}


def register_loss(name: str):
    def decorate(cls):
        LOSSES[name] = cls
        return cls

    return decorate


SCHEME_PRIOR_REMOVED = {"inverse": 1.0, "sqrt_inverse": 0.5, "effective": 1.0, "dbl": 1.0}  # weights ~ n_c^-q remove q


def class_weights(counts: Sequence[int], scheme: str = "inverse", beta: float = 0.9999) -> torch.Tensor:
    """Per-class weights with mean 1: ``inverse`` (1/n_c), ``sqrt_inverse`` (1/sqrt n_c),
    ``effective`` (Cui et al. 2019: (1 - beta) / (1 - beta^n_c)), ``dbl`` ((N - n_c) / n_c, DBL's)."""
    n = np.maximum(np.asarray(counts, dtype=np.float64), 1)
    if scheme == "inverse":
        w = 1 / n
    elif scheme == "sqrt_inverse":
        w = 1 / np.sqrt(n)
    elif scheme == "effective":
        w = (1 - beta) / (1 - beta**n)
    elif scheme == "dbl":
        w = (n.sum() - n) / n
    else:
        raise BalancedFerError(f"unknown class-weight scheme {scheme!r} (inverse, sqrt_inverse, effective, dbl)")
    return torch.tensor(w / w.mean(), dtype=torch.float32)


class LongTailLoss(nn.Module):
    """Base: holds the training class counts as a buffer (moves with ``.to(device)``)."""

    prior_removed: float = 0.0

    def __init__(self, class_counts: Sequence[int]):
        super().__init__()
        self.register_buffer("counts", torch.tensor(np.asarray(class_counts), dtype=torch.float32))

    @property
    def log_prior(self) -> torch.Tensor:
        prior = self.counts.clamp(min=1) / self.counts.clamp(min=1).sum()
        return prior.log()

    def set_epoch(self, epoch: int) -> None:
        """Called by the trainer at the start of each epoch (0-based)."""


@register_loss("ce")
class CrossEntropy(LongTailLoss):
    """Cross-entropy with optional label smoothing."""

    def __init__(self, class_counts: Sequence[int], label_smoothing: float = 0.0):
        super().__init__(class_counts)
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, label_smoothing=self.label_smoothing)


@register_loss("weighted_ce")
class WeightedCrossEntropy(LongTailLoss):
    """Class-weighted cross-entropy; weights from :func:`class_weights`."""

    def __init__(
        self, class_counts: Sequence[int], scheme: str = "inverse", beta: float = 0.9999, label_smoothing: float = 0.0
    ):
        super().__init__(class_counts)
        self.register_buffer("weight", class_weights(class_counts, scheme, beta))
        self.label_smoothing = label_smoothing
        self.prior_removed = SCHEME_PRIOR_REMOVED[scheme]

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, weight=self.weight, label_smoothing=self.label_smoothing)


@register_loss("focal")
class FocalLoss(LongTailLoss):
    """Focal loss (Lin et al. 2017): CE scaled by (1 - p_t)^gamma, optionally class-weighted."""

    def __init__(self, class_counts: Sequence[int], gamma: float = 2.0, scheme: str | None = None):
        super().__init__(class_counts)
        self.gamma = gamma
        self.register_buffer("weight", class_weights(class_counts, scheme) if scheme else torch.ones(len(class_counts)))
        self.prior_removed = SCHEME_PRIOR_REMOVED[scheme] if scheme else 0.0

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = F.log_softmax(logits, dim=1).gather(1, targets[:, None]).squeeze(1)
        loss = -((1 - log_p.exp()) ** self.gamma) * log_p * self.weight[targets]
        return loss.sum() / self.weight[targets].sum()


@register_loss("ldam")
class LDAMLoss(LongTailLoss):
    """LDAM (Cao et al. 2019): a margin m_c = C / n_c^(1/4) (largest ``max_margin``) subtracted from
    the true-class logit, times ``scale``; with ``drw_epoch`` the deferred re-weighting schedule
    switches to effective-number class weights (beta 0.9999) from that epoch on.

    ``scale`` is 30 in the paper, whose classifier outputs cosines; balanced-fer's heads are plain
    linear layers, so the default is 1 (margins then act on raw logits)."""

    def __init__(
        self,
        class_counts: Sequence[int],
        max_margin: float = 0.5,
        scale: float = 1.0,
        drw_epoch: int | None = None,
        beta: float = 0.9999,
    ):
        super().__init__(class_counts)
        margins = 1.0 / np.maximum(np.asarray(class_counts, dtype=np.float64), 1) ** 0.25
        self.register_buffer("margins", torch.tensor(margins * max_margin / margins.max(), dtype=torch.float32))
        self.register_buffer("drw_weight", class_weights(class_counts, "effective", beta))
        self.scale, self.drw_epoch = scale, drw_epoch
        self.reweight = False
        self.prior_removed = 0.0 if drw_epoch is None else SCHEME_PRIOR_REMOVED["effective"]  # the weights it ends with

    def set_epoch(self, epoch: int) -> None:
        self.reweight = self.drw_epoch is not None and epoch >= self.drw_epoch

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        margin = torch.zeros_like(logits).scatter_(1, targets[:, None], self.margins[targets][:, None])
        weight = self.drw_weight if self.reweight else None
        return F.cross_entropy(self.scale * (logits - margin), targets, weight=weight)


@register_loss("logit_adjusted")
class LogitAdjustedLoss(LongTailLoss):
    """Logit-adjusted cross-entropy (Menon et al. 2021): CE on logits + tau * log prior.
    ``tau = 1`` is balanced softmax (Ren et al. 2020)."""

    def __init__(self, class_counts: Sequence[int], tau: float = 1.0):
        super().__init__(class_counts)
        self.tau = tau
        self.prior_removed = tau

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits + self.tau * self.log_prior, targets)


@register_loss("balanced_softmax")
def balanced_softmax(class_counts: Sequence[int]) -> LogitAdjustedLoss:
    """Balanced softmax (Ren et al. 2020): logit adjustment with tau = 1."""
    return LogitAdjustedLoss(class_counts, tau=1.0)


def build_loss(name: str, class_counts: Sequence[int], **kwargs) -> LongTailLoss:
    """A registered loss for these training class counts; unknown names or options are clear errors."""
    if name not in LOSSES:
        raise BalancedFerError(f"unknown loss {name!r}; available: {', '.join(sorted(LOSSES))}")
    try:
        return LOSSES[name](class_counts, **kwargs)
    except TypeError as err:
        raise BalancedFerError(f"loss {name!r}: {err}") from None
