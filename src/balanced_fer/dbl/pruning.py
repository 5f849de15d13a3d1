"""Magnitude pruning per layer, one-shot or on the gradual cubic schedule of Zhu & Gupta (2017)."""

from __future__ import annotations

import torch
from torch import nn

from .masks import FREE, OwnershipMasks, prunable_weights


def cubic_sparsity(progress: float, initial: float, final: float) -> float:
    """s(t) = s_f + (s_i - s_f) (1 - p)^3 for training progress p in [0, 1] (Zhu & Gupta 2017)."""
    p = min(max(progress, 0.0), 1.0)
    return final + (initial - final) * (1.0 - p) ** 3


@torch.no_grad()
def prune_owned(model: nn.Module, masks: OwnershipMasks, tasks: set[int], sparsity: float) -> None:
    """Release the lowest-magnitude weights owned by ``tasks`` in each layer until ``sparsity`` of
    the weights counted in ``masks.assigned`` are pruned: they are zeroed and become free. Calling it
    again with a higher sparsity prunes further (gradual pruning); a lower one does nothing."""
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity must lie in [0, 1), got {sparsity}")
    for name, weight in prunable_weights(model):
        owner = masks.owner[name]
        mine = masks.trainable(name, tasks)
        goal = int(mine.sum()) - int(round((1.0 - sparsity) * masks.assigned[name]))
        if goal <= 0:
            continue
        magnitudes = weight.detach().abs().cpu().flatten()
        candidates = mine.flatten().nonzero(as_tuple=True)[0]
        drop = candidates[torch.argsort(magnitudes[candidates], stable=True)[:goal]]
        dropped = torch.zeros(owner.numel(), dtype=torch.bool)
        dropped[drop] = True
        dropped = dropped.view(owner.shape)
        owner[dropped] = FREE
        weight.masked_fill_(dropped.to(weight.device), 0.0)
