"""What the long-tail literature adds: losses, samplers, post-hoc adjustment, classifier decoupling."""

from .adjust import adjust_logits, prior_from
from .losses import LOSSES, build_loss, class_weights
from .samplers import SAMPLERS, epoch_indices, sampler_prior_removed

__all__ = [
    "LOSSES",
    "SAMPLERS",
    "adjust_logits",
    "build_loss",
    "class_weights",
    "epoch_indices",
    "prior_from",
    "sampler_prior_removed",
]
