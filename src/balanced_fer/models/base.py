"""The interface every model family implements: features, then a replaceable linear head."""

from __future__ import annotations

import torch
from torch import nn


class Classifier(nn.Module):
    """Base class: subclasses build ``forward_map`` (image -> last feature map) and ``pool`` (map ->
    vector of ``num_features``: the map's channels under global pooling), and name their head in
    ``head_name`` (``fc`` for torchvision ResNets, ``head`` otherwise)."""

    head_name = "head"
    num_features: int
    pool: nn.Module

    def forward_map(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (N, num_features): what the head sees."""
        return self.pool(self.forward_map(x))

    def get_classifier(self) -> nn.Linear:
        return getattr(self, self.head_name)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head by a fresh linear layer with ``num_classes`` outputs."""
        setattr(self, self.head_name, nn.Linear(self.num_features, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.get_classifier()(self.forward_features(x))

    def fit_state(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """A state dict of this family made to fit this model's shapes before it is loaded (see
        :func:`~.registry.load_pretrained`); families that can fit other widths override it."""
        return state


def pooling(dropout: float, grid: int = 1) -> nn.Sequential:
    """Average pooling to a ``grid`` x ``grid`` map (1: global), flattening and dropout: map (N, C, H, W)
    -> (N, C * grid**2). A grid keeps where on the face a feature fired, which global pooling loses."""
    if grid < 1:
        raise ValueError(f"pool_grid must be 1 or more, got {grid}")
    return nn.Sequential(nn.AdaptiveAvgPool2d(grid), nn.Flatten(), nn.Dropout(dropout))


def reparameterize_model(model: nn.Module) -> nn.Module:
    """Fold the branches a model trains with into the layers inference runs (every submodule with a
    ``reparameterize`` method, such as RepVGG's), in place; the result is for inference, not training
    or saving (its weights no longer fit its architecture's)."""
    for module in list(model.modules()):
        if module is not model and callable(getattr(module, "reparameterize", None)):
            module.reparameterize()
    return model
