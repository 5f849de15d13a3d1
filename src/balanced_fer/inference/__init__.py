"""Running trained models: PyTorch and ONNX backends, export, evaluation of a model file."""

from .backends import OnnxBackend, TorchBackend, export_onnx, load_backend
from .evaluate import evaluate_checkpoint
from .recognizer import Face, Prediction, Recognizer

__all__ = [
    "Face",
    "OnnxBackend",
    "Prediction",
    "Recognizer",
    "TorchBackend",
    "evaluate_checkpoint",
    "export_onnx",
    "load_backend",
]
