"""Running trained models: PyTorch and ONNX backends, export, evaluation of a model file."""

from .backends import OnnxBackend, TorchBackend, load_backend
from .evaluate import evaluate_checkpoint
from .export import export_onnx, saturation_risks
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
    "saturation_risks",
]
