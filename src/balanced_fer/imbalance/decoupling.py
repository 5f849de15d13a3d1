"""Decoupled classifier re-training (Kang et al. 2020) on a trained model's frozen features.

* ``crt``: a new linear head trained with class-balanced sampling;
* ``tau_norm``: head weights rescaled to w_c / ||w_c||^tau (biases dropped), no training;
* ``lws``: a learnable scale per class on the head, trained with class-balanced sampling.

Each result is baked into the model's ordinary linear head, so the model keeps its architecture and
parameter count and goes through the normal evaluate / export paths.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import BalancedFerError
from ..models import Preprocessing, prepare_batch
from .samplers import epoch_indices, sampler_prior_removed

METHODS = ("crt", "tau_norm", "lws")


@torch.no_grad()
def extract_features(
    model, images: np.ndarray, preprocessing: Preprocessing, device, batch_size: int = 512
) -> torch.Tensor:
    """Pooled features (N, D) of uint8 faces with the model in eval mode, on the CPU."""
    model.eval()
    return torch.cat(
        [
            model.forward_features(prepare_batch(images[i : i + batch_size], preprocessing, device)).float().cpu()
            for i in range(0, len(images), batch_size)
        ]
    )


def tau_normalize(head: torch.nn.Linear, tau: float = 1.0) -> None:
    """In place: w_c <- w_c / ||w_c||^tau, bias <- 0."""
    with torch.no_grad():
        norms = head.weight.norm(dim=1, keepdim=True).clamp(min=1e-12)
        head.weight.div_(norms**tau)
        if head.bias is not None:
            head.bias.zero_()


def _fit_on_features(
    features: torch.Tensor,
    labels: np.ndarray,
    params: list[torch.Tensor],
    logits_fn,
    epochs: int,
    lr: float,
    sampler: str,
    seed: int,
    batch_size: int = 256,
) -> None:
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=5e-4)
    targets = torch.as_tensor(labels)
    steps = max(len(labels) // batch_size, 1) * epochs
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for epoch in range(epochs):
        order = torch.as_tensor(epoch_indices(labels, sampler, epoch, epochs, seed))
        for start in range(0, max(len(order) - batch_size + 1, 1), batch_size):
            idx = order[start : start + batch_size]
            loss = F.cross_entropy(logits_fn(features[idx]), targets[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()


def decouple_classifier(
    model, images: np.ndarray, labels: np.ndarray, preprocessing: Preprocessing, cfg, *, device="cpu", seed: int = 0
) -> float | None:
    """Re-balance ``model``'s head in place with ``cfg.method`` (see module doc); ``cfg`` has
    ``method``, ``epochs``, ``lr``, ``tau`` and ``sampler``. Returns the training-prior weight the new
    head's scores follow (a head refitted by cross-entropy under ``cfg.sampler``), or None where the
    method leaves it unmeasured (tau-norm)."""
    if cfg.method not in METHODS:
        raise BalancedFerError(f"unknown decoupling method {cfg.method!r}; available: {', '.join(METHODS)}")
    head = model.get_classifier()
    if cfg.method == "tau_norm":
        tau_normalize(head, cfg.tau)
        return None
    features = extract_features(model, images, preprocessing, device)
    torch.manual_seed(seed)
    if cfg.method == "crt":
        new = torch.nn.Linear(head.in_features, head.out_features)
        _fit_on_features(features, labels, list(new.parameters()), new, cfg.epochs, cfg.lr, cfg.sampler, seed)
        weight, bias = new.weight.detach(), new.bias.detach()
    else:  # lws
        weight0, bias0 = head.weight.detach().cpu(), head.bias.detach().cpu()
        scales = torch.ones(head.out_features, requires_grad=True)
        _fit_on_features(
            features,
            labels,
            [scales],
            lambda f: (f @ weight0.T + bias0) * scales,
            cfg.epochs,
            cfg.lr,
            cfg.sampler,
            seed,
        )
        weight, bias = weight0 * scales.detach()[:, None], bias0 * scales.detach()
    with torch.no_grad():
        head.weight.copy_(weight.to(head.weight.device))
        head.bias.copy_(bias.to(head.bias.device))
    return 1.0 - sampler_prior_removed(cfg.sampler)
