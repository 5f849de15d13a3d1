"""Deep Balanced Learning: PackNet ownership masks, pruning schedules and the staged pipeline."""

from .masks import OwnershipMasks, prunable_weights
from .pipeline import run_dbl
from .pruning import cubic_sparsity, prune_owned

__all__ = ["OwnershipMasks", "cubic_sparsity", "prunable_weights", "prune_owned", "run_dbl"]
