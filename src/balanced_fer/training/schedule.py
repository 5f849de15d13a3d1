"""What changes with the training step: the learning rate, and the linear warm-up of whatever ramps in."""

from __future__ import annotations

import math

from ..errors import BalancedFerError
from .recipe import Recipe


def warmup_share(step: int, steps_per_epoch: int, warmup_epochs: float) -> float:
    """How much of its full value training step ``step`` (from 0) gets under a linear warm-up over the
    first ``warmup_epochs`` epochs: (step + 1) / the warm-up's steps, never more than 1 (a fractional
    number of warm-up steps does not overshoot on its last one)."""
    warmup_steps = warmup_epochs * steps_per_epoch
    return min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0


def learning_rate(recipe: Recipe, step: int, steps_per_epoch: int) -> float:
    """Linear warm-up (:func:`warmup_share`), then cosine decay to zero or step decay at the milestones."""
    cfg, base = recipe.schedule, recipe.optim.lr
    warmup = cfg.warmup_epochs * steps_per_epoch
    if step < warmup:
        return base * warmup_share(step, steps_per_epoch, cfg.warmup_epochs)
    if cfg.schedule == "cosine":
        total = cfg.epochs * steps_per_epoch
        return base * 0.5 * (1 + math.cos(math.pi * min((step - warmup) / max(total - warmup, 1), 1.0)))
    if cfg.schedule == "step":
        return base * cfg.step_gamma ** sum(step >= m * steps_per_epoch for m in cfg.step_milestones)
    raise BalancedFerError(f"unknown schedule {cfg.schedule!r} (cosine or step)")
