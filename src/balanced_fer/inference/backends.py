"""Scoring faces with a trained model: the PyTorch checkpoint itself, or its ONNX export.

Both backends read the same self-description (class names, preprocessing, training class counts,
post-hoc adjustment) and return logits for uint8 face arrays, so everything above them (evaluation,
prediction) does not care which one runs.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import FaceDataset, load_arrays
from ..errors import BalancedFerError
from ..models import predict_logits, prepare_batch
from ..pretrained import resolve_model
from ..training.checkpoint import load_model

META_FIELDS = ("class_names", "preprocessing", "train_counts", "logit_adjustment", "tta", "model", "validation")


def model_tta(meta: dict[str, Any], tta: str | None) -> str:
    """The test-time augmentation to run: ``tta`` if given, else the model's own (its recipe's
    ``eval.tta``, which chose its checkpoint), else none."""
    tta = tta if tta is not None else meta.get("tta", "none")
    if tta not in ("none", "flip"):
        raise BalancedFerError(f"test-time augmentation must be none or flip, got {tta!r}")
    return tta


class TorchBackend:
    """A ``.safetensors`` checkpoint run by PyTorch."""

    def __init__(self, path: str | Path, device: str = "cpu"):
        self.model, self.meta = load_model(path, device)
        self.model.to(memory_format=torch.channels_last)
        self.device = device

    def logits(self, images: np.ndarray, tta: str | None = None, batch_size: int = 512) -> torch.Tensor:
        return predict_logits(
            self.model,
            images,
            self.meta["preprocessing"],
            device=self.device,
            tta=model_tta(self.meta, tta),
            batch_size=batch_size,
            channels_last=True,  # about a quarter faster for these convolutions on CPU
        )


class OnnxBackend:
    """An ``.onnx`` export run by onnxruntime on the CPU."""

    def __init__(self, path: str | Path):
        try:
            import onnxruntime as ort
        except ImportError:
            raise BalancedFerError("the ONNX backend needs onnxruntime: pip install onnxruntime") from None
        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as err:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise BalancedFerError(f"{path}: not a loadable ONNX model ({err})") from None
        props = self.session.get_modelmeta().custom_metadata_map
        if "balanced_fer" not in props:
            raise BalancedFerError(f"{path}: ONNX model without balanced-fer metadata (export it with bfer export)")
        self.meta = json.loads(props["balanced_fer"])
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, images: np.ndarray, tta: str | None = None, batch_size: int = 512) -> torch.Tensor:
        tta = model_tta(self.meta, tta)
        outputs = []
        for start in range(0, len(images), batch_size):
            x = prepare_batch(images[start : start + batch_size], self.meta["preprocessing"], "cpu").numpy()
            logits = self.session.run(None, {self.input_name: x})[0]
            if tta == "flip":
                logits = (logits + self.session.run(None, {self.input_name: np.ascontiguousarray(x[..., ::-1])})[0]) / 2
            outputs.append(torch.from_numpy(logits))
        return torch.cat(outputs) if outputs else torch.empty(0)


def load_backend(path: str | Path, device: str = "cpu") -> TorchBackend | OnnxBackend:
    """The backend for a model file (or a shipped model's name, run from its ONNX export on the CPU):
    ``.onnx`` runs in onnxruntime, anything else is a checkpoint."""
    path = resolve_model(path, prefer_onnx=device == "cpu")
    return OnnxBackend(path) if path.suffix == ".onnx" else TorchBackend(path, device)


def export_onnx(
    checkpoint: str | Path, out: str | Path, opset: int = 17, calibration: np.ndarray | None = None
) -> Path:
    """Export a checkpoint to ONNX with a dynamic batch axis; input ``faces`` is the preprocessed
    (N, C, input_size, input_size) float batch, output ``logits``. The checkpoint's description
    (class names, preprocessing, training counts, post-hoc adjustment) goes into the metadata.

    With ``calibration`` (uint8 faces, N x size x size x C) the export is quantized to int8 (static:
    per-channel int8 weights, uint8 activations whose ranges are measured on those faces), about twice
    as fast on CPUs with VNNI instructions; its scores then differ slightly from the checkpoint's."""
    try:
        import onnx
    except ImportError:
        raise BalancedFerError("bfer export needs the onnx package: pip install 'balanced-fer[onnx]'") from None

    model, meta = load_model(checkpoint)
    pre = meta["preprocessing"]
    example = torch.zeros(1, pre["channels"], pre["input_size"], pre["input_size"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fp32 = out if calibration is None else out.with_name(f".{out.name}.fp32.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, but needs no extra package
        torch.onnx.export(
            model,
            (example,),
            str(fp32),
            dynamo=False,
            opset_version=opset,
            input_names=["faces"],
            output_names=["logits"],
            dynamic_axes={"faces": {0: "batch"}, "logits": {0: "batch"}},
        )
    description: dict[str, Any] = {k: meta[k] for k in META_FIELDS if k in meta}
    if calibration is not None:
        try:
            quantize_int8(fp32, out, prepare_batch(calibration, pre, "cpu").numpy())
        finally:
            fp32.unlink(missing_ok=True)
        description.pop("validation", None)  # the checkpoint's figures; the int8 model's differ slightly
        description["quantization"] = {
            "weights": "int8, per channel",
            "activations": "uint8",
            "calibration_faces": len(calibration),
        }
    graph = onnx.load(str(out))
    graph.metadata_props.add(key="balanced_fer", value=json.dumps(description))
    onnx.save(graph, str(out))
    return out


def calibration_sample(
    dataset: FaceDataset, split: str, preprocessing: dict[str, Any], count: int, progress: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random samples of ``count`` faces of ``dataset``'s ``split`` (in file order, at the
    model's face size): one to measure int8 activation ranges on, one to check the quantized model
    against the checkpoint."""
    pre = preprocessing
    images = load_arrays(dataset, split, pre["size"], pre["channels"], progress=progress).images
    order = np.random.default_rng(seed).permutation(len(images))
    first, second = np.split(order[: 2 * count], [min(count, len(order))])
    return np.asarray(images[np.sort(first)]), np.asarray(images[np.sort(second)])


def quantize_int8(fp32: Path, out: Path, calibration: np.ndarray, batch_size: int = 64) -> None:
    """Static int8 quantization (QDQ format) of an fp32 ONNX model, activation ranges from the
    preprocessed ``calibration`` batch; the model is first shape-inferred and folded, as onnxruntime
    recommends."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Batches(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(
                {"faces": calibration[i : i + batch_size]} for i in range(0, len(calibration), batch_size)
            )

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    prepared = fp32.with_name(f"{fp32.name}.prepared")
    try:
        quant_pre_process(str(fp32), str(prepared))
        quantize_static(
            str(prepared),
            str(out),
            Batches(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
    finally:
        prepared.unlink(missing_ok=True)
