"""Re-balancing a trained checkpoint's classifier after the fact (cRT, tau-norm, LWS)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import BalancedFerError
from ..imbalance.decoupling import decouple_classifier
from ..models import Calibration, ModelDescription
from ..models.checkpoint import load_model, save_checkpoint
from .recipe import DecoupleConfig, load_recipe
from .trainer import evaluate_on_validation, load_training_data


def decouple_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    cfg: DecoupleConfig,
    *,
    post_hoc_tau: float | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> Path:
    """Load a checkpoint, re-balance its head on the training split of its own recipe, save to ``out``.

    The new checkpoint records the method (``decoupled``), how long it took (``decouple_seconds``),
    ``cfg`` (its recipe's ``decouple`` section) and its figures on the recipe's validation split;
    ``post_hoc_tau`` replaces the checkpoint's post-hoc adjustment (a negative tau puts part of the
    training prior back into a balanced head's scores).
    """
    model, description = load_model(checkpoint, device)
    if description.recipe is None:
        raise BalancedFerError(f"{checkpoint}: the model file carries no training recipe to re-balance on")
    recipe = load_recipe(values=description.recipe)
    data = load_training_data(recipe, progress=progress)
    description = decouple_model(
        model,
        description,
        data.train.images[data.train_index],
        data.train_labels,
        cfg,
        device=device,
        seed=recipe.seed,
    )
    if post_hoc_tau is not None:
        description = description.replace(post_hoc_tau=post_hoc_tau)
    figures = evaluate_on_validation(
        model,
        data,
        recipe,
        description.preprocessing,
        tau=description.post_hoc_tau,
        device=device,
        bootstrap_rounds=1000,
    )
    description = description.replace(validation={"float": figures.summary()})
    return save_checkpoint(Path(out), dict(model.state_dict()), description)


def decouple_model(
    model: torch.nn.Module,
    description: ModelDescription,
    images: np.ndarray,
    labels: np.ndarray,
    cfg: DecoupleConfig,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> ModelDescription:
    """Re-balance ``model``'s head in place on these training faces; returns its description with
    the prior the new head's scores follow, the method (``decoupled``) and its time
    (``decouple_seconds``), ``cfg`` as its recipe's ``decouple`` section, and without the old head's
    validation figures and temperature."""
    start = time.perf_counter()
    weight = decouple_classifier(model, images, labels, description.preprocessing, cfg, device=device, seed=seed)
    return description.replace(
        trained_prior_weight=description.trained_prior_weight if weight is None else weight,
        validation={},
        calibration=Calibration(),  # a temperature fitted to the old head's logits
        recipe=description.recipe and {**description.recipe, "decouple": dataclasses.asdict(cfg)},
        provenance=dataclasses.replace(
            description.provenance, decoupled=cfg.method, decouple_seconds=round(time.perf_counter() - start, 1)
        ),
    )
