"""Recipes, the training loop and multi-process training (checkpoints: :mod:`balanced_fer.models.checkpoint`)."""

from .recipe import Recipe, load_recipe
from .trainer import Trainer, load_training_data

__all__ = ["Recipe", "Trainer", "load_recipe", "load_training_data"]
