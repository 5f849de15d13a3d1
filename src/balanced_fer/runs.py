"""Running a recipe: the one entry point for plain training and DBL (what ``bfer train`` calls).

>>> import balanced_fer
>>> summary = balanced_fer.train("configs/fer2013_compact.yaml", overrides=["schedule.epochs=2"])
>>> summary["checkpoint"], summary["validation"]["mean_class_accuracy"]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .training import Recipe, Trainer, load_recipe


def train(
    recipe: Recipe | str | Path,
    out: str | Path | None = None,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``recipe`` (a :class:`~balanced_fer.training.Recipe`, or a YAML file with ``--set``-style
    ``overrides``) into ``out`` (default ``runs/<recipe name>``): Deep Balanced Learning when the
    recipe has ``dbl.k``, else the plain trainer. ``resume`` continues the run in ``out``. Returns the
    run summary (checkpoint path, validation figures, reports); empty on non-zero ranks of a
    multi-process run."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe, list(overrides))
    elif overrides:
        raise ValueError("overrides apply to a recipe file; change a Recipe object directly")
    out = Path(out) if out is not None else Path("runs") / recipe.name
    if recipe.dbl.k:
        from .dbl.pipeline import run_dbl

        return run_dbl(recipe, out, resume=resume, progress=progress)
    return Trainer(recipe, out, resume=resume, progress=progress).fit()
