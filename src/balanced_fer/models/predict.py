"""Scores of a model on uint8 face arrays, with the preprocessing a checkpoint records."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..data.augment import center_crop, to_float
from .description import TTA_MODES, Preprocessing


def prepare_batch(
    images: np.ndarray | torch.Tensor, preprocessing: Preprocessing, device: torch.device | str
) -> torch.Tensor:
    """uint8 (N, H, W, C) faces at the cached size -> normalised, centre-cropped network input."""
    batch = torch.tensor(np.asarray(images)).to(device)  # a copy: cached arrays are read-only maps
    x = to_float(batch, preprocessing.mean, preprocessing.std)
    return center_crop(x, preprocessing.input_size)


def batch_logits(model: nn.Module, x: torch.Tensor, tta: str = "none") -> torch.Tensor:
    """Logits of a prepared batch; ``tta="flip"`` averages the logits of each face and its mirror."""
    logits = model(x).float()
    if tta == "flip":
        logits = (logits + model(torch.flip(x, dims=[3])).float()) / 2
    return logits


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: np.ndarray,
    preprocessing: Preprocessing,
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 512,
    tta: str = "none",
    channels_last: bool = False,
) -> torch.Tensor:
    """Logits (N, K) on the CPU; ``tta="flip"`` averages the logits of each face and its mirror."""
    if tta not in TTA_MODES:
        raise ValueError(f"tta must be 'none' or 'flip', got {tta!r}")
    was_training = model.training
    model.eval()
    outputs = []
    for start in range(0, len(images), batch_size):
        x = prepare_batch(images[start : start + batch_size], preprocessing, device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        outputs.append(batch_logits(model, x, tta).cpu())
    model.train(was_training)
    return torch.cat(outputs) if outputs else torch.empty(0)
