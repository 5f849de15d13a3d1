"""Recipes, the training loop, checkpoints and multi-process training."""

from .checkpoint import load_checkpoint, load_model, save_checkpoint
from .recipe import Recipe, load_recipe
from .trainer import Trainer, load_training_data

__all__ = ["Recipe", "Trainer", "load_checkpoint", "load_model", "load_recipe", "load_training_data", "save_checkpoint"]
