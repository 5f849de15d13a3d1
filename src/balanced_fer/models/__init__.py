"""Model zoo: one registry, one module per family."""

from . import compact, rasn, resnet  # noqa: F401  (registration)
from .base import Classifier, reparameterize_model
from .checkpoint import load_checkpoint, load_model, save_checkpoint
from .description import Architecture, Calibration, ModelDescription, Preprocessing, Provenance, Quantization
from .predict import batch_logits, predict_logits, prepare_batch
from .registry import (
    create_model,
    default_input_size,
    list_models,
    load_pretrained,
    register_model,
)

__all__ = [
    "Architecture",
    "Calibration",
    "Classifier",
    "ModelDescription",
    "Preprocessing",
    "Provenance",
    "Quantization",
    "batch_logits",
    "create_model",
    "default_input_size",
    "list_models",
    "load_checkpoint",
    "load_model",
    "load_pretrained",
    "predict_logits",
    "prepare_batch",
    "register_model",
    "reparameterize_model",
    "save_checkpoint",
]
