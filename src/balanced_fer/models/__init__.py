"""Model zoo: one registry, one module per family."""

from . import compact, rasn, resnet  # noqa: F401  (registration)
from .base import Classifier
from .checkpoint import load_checkpoint, load_model, save_checkpoint
from .predict import DEFAULT_PREPROCESSING, predict_logits, prepare_batch
from .registry import (
    create_model,
    default_input_size,
    list_models,
    load_pretrained,
    register_model,
)

__all__ = [
    "DEFAULT_PREPROCESSING",
    "Classifier",
    "create_model",
    "default_input_size",
    "list_models",
    "load_checkpoint",
    "load_model",
    "load_pretrained",
    "predict_logits",
    "prepare_batch",
    "register_model",
    "save_checkpoint",
]
