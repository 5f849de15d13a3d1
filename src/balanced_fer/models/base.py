"""The interface every model family implements: features, then a replaceable linear head."""

from __future__ import annotations

import torch
from torch import nn


class Classifier(nn.Module):
    """Base class: subclasses build ``forward_features`` (image -> pooled vector of ``num_features``)
    and name their head in ``head_name`` (``fc`` for torchvision ResNets, ``head`` otherwise)."""

    head_name = "head"
    num_features: int

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_classifier(self) -> nn.Linear:
        return getattr(self, self.head_name)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head by a fresh linear layer with ``num_classes`` outputs."""
        setattr(self, self.head_name, nn.Linear(self.num_features, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.get_classifier()(self.forward_features(x))
