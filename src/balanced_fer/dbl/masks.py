"""PackNet ownership masks: one uint8 tensor per conv / linear weight, value = owning task.

0 means free (never assigned, or pruned and released); t >= 1 means the weight belongs to task t.
Task t trains only the weights it owns; weights of earlier tasks stay frozen. Its model uses the
weights of tasks 1..t (later ones are zero at that point).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

FREE = 0


def prunable_weights(model: nn.Module) -> Iterator[tuple[str, nn.Parameter]]:
    """Conv and linear weights of the backbone (the classifier head is per task, never masked)."""
    head = getattr(model, "head_name", None)
    for module_name, module in model.named_modules():
        if head and (module_name == head or module_name.startswith(head + ".")):
            continue
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            yield f"{module_name}.weight", module.weight


class OwnershipMasks:
    """Which task owns each prunable weight, and the gradient / decay masking that follows."""

    def __init__(self, model: nn.Module):
        self.owner: dict[str, torch.Tensor] = {
            name: torch.zeros_like(weight, dtype=torch.uint8, device="cpu") for name, weight in prunable_weights(model)
        }
        self.assigned: dict[str, int] = dict.fromkeys(self.owner, 0)  # weights the current task took, per layer

    # ---- ownership ------------------------------------------------------------------------------
    def assign_free(self, task: int) -> None:
        """Task ``task`` takes every free weight."""
        for name, mask in self.owner.items():
            free = mask == FREE
            mask[free] = task
            self.assigned[name] = int(free.sum())

    def count(self, tasks: set[int]) -> None:
        """Record, per layer, how many weights ``tasks`` own now (the base of later pruning)."""
        self.assigned = {name: int(self.trainable(name, tasks).sum()) for name in self.owner}

    def trainable(self, name: str, tasks: set[int]) -> torch.Tensor:
        """Boolean mask of the weights of ``name`` owned by one of ``tasks``."""
        mask = self.owner[name]
        out = torch.zeros_like(mask, dtype=torch.bool)
        for task in tasks:
            out |= mask == task
        return out

    def share(self, task: int) -> float:
        """Fraction of all prunable weights owned by ``task``."""
        total = sum(m.numel() for m in self.owner.values())
        return sum(int((m == task).sum()) for m in self.owner.values()) / total

    # ---- masking during training ----------------------------------------------------------------
    @torch.no_grad()
    def mask_gradients(self, model: nn.Module, tasks: set[int], weight_decay: float = 0.0) -> None:
        """Zero the gradients of weights outside ``tasks`` and add weight decay to the rest only."""
        weights = dict(prunable_weights(model))
        for name, weight in weights.items():
            if weight.grad is None:
                continue
            keep = self.trainable(name, tasks).to(weight.device)
            if weight_decay:
                weight.grad.add_(weight, alpha=weight_decay)
            weight.grad.mul_(keep)

    # ---- storage ----------------------------------------------------------------------------------
    def state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"owner.{k}": v for k, v in self.owner.items()}
        tensors["assigned"] = torch.tensor([self.assigned[k] for k in self.owner], dtype=torch.int64)
        return tensors

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for name in self.owner:
            self.owner[name] = tensors[f"owner.{name}"].to(torch.uint8).cpu().clone()
        self.assigned = dict(zip(self.owner, tensors["assigned"].tolist()))
