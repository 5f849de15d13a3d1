"""Scoring faces with a trained model: the PyTorch checkpoint itself, or its ONNX export.

Both backends read the same :class:`~balanced_fer.models.ModelDescription` from their file and return
logits for uint8 face arrays, so everything above them (evaluation, prediction) does not care which
one runs. Writing ONNX files lives in :mod:`.export`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import BalancedFerError
from ..models import ModelDescription, load_model, predict_logits, prepare_batch
from ..models.description import META_KEY, TTA_MODES
from ..pretrained import resolve_model


def model_tta(description: ModelDescription, tta: str | None) -> str:
    """The test-time augmentation to run: ``tta`` if given, else the model's own (its recipe's
    ``eval.tta``, which chose its checkpoint)."""
    tta = tta if tta is not None else description.tta
    if tta not in TTA_MODES:
        raise BalancedFerError(f"test-time augmentation must be {' or '.join(TTA_MODES)}, got {tta!r}")
    return tta


class TorchBackend:
    """A ``.safetensors`` checkpoint run by PyTorch."""

    def __init__(self, path: str | Path, device: str = "cpu"):
        self.path = Path(path)
        self.model, self.description = load_model(path, device, for_inference=True)
        self.model.to(memory_format=torch.channels_last)
        self.device = device

    def logits(self, images: np.ndarray, tta: str | None = None, batch_size: int = 512) -> torch.Tensor:
        return predict_logits(
            self.model,
            images,
            self.description.preprocessing,
            device=self.device,
            tta=model_tta(self.description, tta),
            batch_size=batch_size,
            channels_last=True,  # about a quarter faster for these convolutions on CPU
        )


class OnnxBackend:
    """An ``.onnx`` export run by onnxruntime on the CPU.

    ``exact_int8`` runs an int8 file's quantize / dequantize nodes as written, each operator in fp32
    on dequantized values: the integers a CPU computes whose int8 products never saturate (VNNI,
    AMX), whatever this CPU has. Several times slower; for checks, not for serving. ``threads``
    caps onnxruntime's threads (default: one per core)."""

    def __init__(self, path: str | Path, exact_int8: bool = False, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise BalancedFerError("the ONNX backend needs onnxruntime: pip install onnxruntime") from None
        self.path = Path(path)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        if exact_int8:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise BalancedFerError(f"{path}: not a loadable ONNX model ({err})") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if META_KEY not in props:
            raise BalancedFerError(f"{path}: ONNX model without balanced-fer metadata (export it with bfer export)")
        self.description = ModelDescription.from_json(props[META_KEY], path)
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, images: np.ndarray, tta: str | None = None, batch_size: int = 512) -> torch.Tensor:
        tta = model_tta(self.description, tta)
        outputs = []
        for start in range(0, len(images), batch_size):
            x = prepare_batch(images[start : start + batch_size], self.description.preprocessing, "cpu").numpy()
            logits = self.session.run(None, {self.input_name: x})[0]
            if tta == "flip":
                logits = (logits + self.session.run(None, {self.input_name: np.ascontiguousarray(x[..., ::-1])})[0]) / 2
            outputs.append(torch.from_numpy(logits))
        return torch.cat(outputs) if outputs else torch.empty(0)


def load_backend(path: str | Path, device: str = "cpu", threads: int | None = None) -> TorchBackend | OnnxBackend:
    """The backend for a model file (or a shipped model's name, run from its ONNX export on the CPU):
    ``.onnx`` runs in onnxruntime (with at most ``threads`` threads), anything else is a checkpoint
    (PyTorch's own thread setting applies: ``torch.set_num_threads``)."""
    path = resolve_model(path, prefer_onnx=device == "cpu")
    return OnnxBackend(path, threads=threads) if path.suffix == ".onnx" else TorchBackend(path, device)
