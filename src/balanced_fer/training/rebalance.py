"""Re-balancing a trained checkpoint's classifier after the fact (cRT, tau-norm, LWS)."""

from __future__ import annotations

import time
from pathlib import Path

from ..imbalance.decoupling import decouple_classifier
from ..models.checkpoint import load_model, save_checkpoint
from .recipe import DecoupleConfig, load_recipe
from .trainer import load_training_data


def decouple_checkpoint(
    checkpoint: str | Path, out: str | Path, cfg: DecoupleConfig, *, progress: bool = True, device: str = "cpu"
) -> Path:
    """Load a checkpoint, re-balance its head on the training split of its own recipe, save to ``out``.

    The new checkpoint records the method (``decoupled``) and how long it took (``decouple_seconds``).
    """
    model, meta = load_model(checkpoint, device)
    recipe = load_recipe(values=meta["recipe"])
    data = load_training_data(recipe, progress=progress)
    start = time.perf_counter()
    decouple_classifier(
        model,
        data.train.images[data.train_index],
        data.train_labels,
        meta["preprocessing"],
        cfg,
        device=device,
        seed=recipe.seed,
    )
    meta |= {"decoupled": cfg.method, "decouple_seconds": round(time.perf_counter() - start, 1), "validation": None}
    return save_checkpoint(Path(out), dict(model.state_dict()), meta)
