"""Running trained models: PyTorch and ONNX backends, export, evaluation of a model file.

Names are imported on first use, so light modules (``tracking``) load without PyTorch.
"""

import importlib

FILE_BATCH = 64  # images read and scored together by bfer predict (light: the CLI reads it for --help)

_HOMES = {
    "Face": "recognizer",
    "OnnxBackend": "backends",
    "Prediction": "recognizer",
    "Recognizer": "recognizer",
    "TorchBackend": "backends",
    "evaluate_checkpoint": "evaluate",
    "export_onnx": "export",
    "load_backend": "backends",
    "saturation_risks": "export",
    "to_dataframe": "results",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
