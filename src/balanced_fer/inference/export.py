"""Writing a checkpoint as ONNX (fp32, or int8 that computes the same on every x86-64 CPU).

Why int8 files keep their weights within 7 bits: onnxruntime multiplies uint8 activations by int8
weights. CPUs with VNNI (AVX512-VNNI, AVX-VNNI) or AMX add those products in 32 bits; AVX2 CPUs,
and AVX-512 ones without VNNI, use VPMADDUBSW, which adds two neighbouring products into an int16
that saturates at 32,767 (onnxruntime's quantization FAQ). Full-range weights reach
2 x 255 x 128 = 65,280, so one file answered differently per CPU: the first shipped int8 model
agreed with its fp32 export on 91% of FER2013 val faces on AVX2 and on 99.3% on AMX. With every
weight within +-64 (onnxruntime's ``reduce_range``) a pair stays within 2 x 255 x 64 = 32,640:
nothing saturates, and every CPU computes the same integers. :func:`saturation_risks` checks a file
for exactly that, without needing such a CPU. docs/inference.md has the measurements behind the
choice.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import FaceDataset, load_arrays, open_dataset
from ..errors import BalancedFerError
from ..models import ModelDescription, Preprocessing, Quantization, load_model, prepare_batch
from ..models.description import META_KEY
from .backends import OnnxBackend, TorchBackend
from .evaluate import evaluate_checkpoint, label_agreement, validation_dataset

INT16_MAX = 2**15 - 1
PORTABLE_WEIGHT_LIMIT = INT16_MAX // (2 * 255)  # 64: two uint8 x int8 products then fit an int16
INT8_MIN_OPSET = 13  # per-channel QuantizeLinear / DequantizeLinear


def export_onnx(
    checkpoint: str | Path,
    out: str | Path,
    opset: int = 17,
    calibration: np.ndarray | None = None,
    validation: tuple[FaceDataset, str] | None = None,
) -> Path:
    """Export a checkpoint to ONNX with a dynamic batch axis; input ``faces`` is the preprocessed
    (N, C, input_size, input_size) float batch, output ``logits``. The checkpoint's whole
    :class:`~balanced_fer.models.ModelDescription` goes into the metadata.

    With ``calibration`` (uint8 faces, N x size x size x C) the export is quantized to int8 (static:
    per-channel weights within 7 bits, uint8 activations whose ranges are measured on those faces; the
    layer that reads the image stays fp32) and records how. Its scores then differ slightly from the
    checkpoint's: with ``validation`` (a dataset and split) its own figures are measured and stored
    beside the checkpoint's (``validation["int8"]`` and ``["float"]``)."""
    onnx = _import_onnx()
    model, description = load_model(checkpoint, for_inference=True)
    pre = description.preprocessing
    example = torch.zeros(1, pre.channels, pre.input_size, pre.input_size)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fp32 = out if calibration is None else out.with_name(f".{out.name}.fp32.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, but needs no extra package
        try:
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
        except RuntimeError as err:
            if "opset" not in str(err):
                raise
            raise BalancedFerError(f"cannot export at ONNX opset {opset}: {err}") from None
    if calibration is None:
        _write_description(onnx, out, description)
        return out
    try:
        float_layers = quantize_int8(fp32, out, prepare_batch(calibration, pre, "cpu").numpy())
    finally:
        fp32.unlink(missing_ok=True)
    risks = saturation_risks(out)
    if risks:  # quantize_int8 keeps weights within 7 bits: this is a bug, not a user error
        raise BalancedFerError(f"{out}: int8 weights beyond +-{PORTABLE_WEIGHT_LIMIT}: {risks}")
    quantization = Quantization(
        weights=f"int8 within +-{PORTABLE_WEIGHT_LIMIT} (7 bits), per channel",
        activations="uint8",
        float_layers=tuple(float_layers),
        calibration_faces=len(calibration),
    )
    float_figures = {k: v for k, v in description.validation.items() if k == "float"}
    description = description.replace(quantization=quantization, validation=float_figures)
    _write_description(onnx, out, description)
    if validation is not None:
        figures = evaluate_checkpoint(out, *validation, progress=False)
        _write_description(onnx, out, description.replace(validation=float_figures | {"int8": figures.summary()}))
    return out


def export_gap(checkpoint: str | Path, exported: str | Path, faces: int = 8, seed: int = 0) -> float:
    """The largest difference between the logits of a checkpoint and of its ONNX export on ``faces``
    random faces: a float export differs by rounding only (around 1e-6)."""
    reference = TorchBackend(checkpoint)
    pre = reference.description.preprocessing
    images = np.random.default_rng(seed).integers(0, 256, (faces, pre.size, pre.size, pre.channels), np.uint8)
    return float((reference.logits(images) - OnnxBackend(exported).logits(images)).abs().max())


@dataclass(frozen=True)
class Int8Export:
    """What :func:`export_int8` wrote and how close it stays to the checkpoint."""

    path: Path
    calibration_faces: int
    checked_faces: int  # held apart from calibration
    agreement: float | None  # share of the checked faces given the checkpoint's label
    validation: dict[str, Any] | None  # the int8 file's own figures, stored in its metadata
    validation_note: str  # where they were measured, or why they were not


def export_int8(
    checkpoint: str | Path,
    out: str | Path,
    spec: str | Path,
    split: str = "train",
    faces: int = 512,
    opset: int = 17,
    progress: bool = False,
) -> Int8Export:
    """Quantize a checkpoint to an int8 ONNX file calibrated on ``faces`` faces of ``spec``'s
    ``split``, check its labels against the checkpoint on as many other faces, and store its own
    figures on the validation split its recipe names when that data is here."""
    if faces < 1:
        raise BalancedFerError(f"--faces must be at least 1, got {faces}")
    if opset < INT8_MIN_OPSET:
        raise BalancedFerError(f"int8 exports need ONNX opset {INT8_MIN_OPSET} or later, got {opset}")
    reference = TorchBackend(checkpoint)
    calibration, check = calibration_sample(
        open_dataset(spec), split, reference.description.preprocessing, faces, progress
    )
    try:
        validation = validation_dataset(reference.description)
        note = f"measured on {validation[0].name} {validation[1]}"
    except BalancedFerError as err:
        validation, note = None, f"not measured: {err}"
    path = export_onnx(checkpoint, out, opset=opset, calibration=calibration, validation=validation)
    exported = OnnxBackend(path)
    agreement = label_agreement(reference, exported, check) if len(check) else None
    return Int8Export(path, len(calibration), len(check), agreement, exported.description.figures, note)


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise BalancedFerError("bfer export needs the onnx package: pip install 'balanced-fer[onnx]'") from None
    return onnx


def _write_description(onnx, path: Path, description: ModelDescription) -> None:
    graph = onnx.load(str(path))
    del graph.metadata_props[:]
    graph.metadata_props.add(key=META_KEY, value=description.to_json())
    onnx.save(graph, str(path))


def calibration_sample(
    dataset: FaceDataset, split: str, preprocessing: Preprocessing, count: int, progress: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random samples of ``count`` faces of ``dataset``'s ``split`` (in file order, at the
    model's face size): one to measure int8 activation ranges on, one to check the quantized model
    against the checkpoint."""
    images = load_arrays(dataset, split, preprocessing.size, preprocessing.channels, progress=progress).images
    order = np.random.default_rng(seed).permutation(len(images))
    first, second = np.split(order[: 2 * count], [min(count, len(order))])
    return np.asarray(images[np.sort(first)]), np.asarray(images[np.sort(second)])


def quantize_int8(
    fp32: Path,
    out: Path,
    calibration: np.ndarray,
    batch_size: int = 64,
    *,
    activations: str = "uint8",
    weights: str = "int8",
    reduce_range: bool = True,
    float_input_layers: bool = True,
) -> list[str]:
    """Static int8 quantization (QDQ format, per-channel weights) of an fp32 ONNX model, activation
    ranges from the preprocessed ``calibration`` batch (the model is first shape-inferred and folded,
    as onnxruntime recommends). Returns the names of the layers left in fp32.

    The defaults are the portable scheme (module docstring): int8 weights within 7 bits, and the
    layers that read the image in fp32 (with one or three input channels their int8 products are the
    coarsest in the network, and they cost well under 1% of its operations). The other settings exist
    to compare schemes (benchmarks/int8_schemes.py)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    onnx = _import_onnx()
    types = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}

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
        graph = onnx.load(str(prepared)).graph
        inputs = {value.name for value in graph.input}
        float_layers = (
            [node.name for node in graph.node if inputs.intersection(node.input)] if float_input_layers else []
        )
        quantize_static(
            str(prepared),
            str(out),
            Batches(),
            quant_format=QuantFormat.QDQ,
            activation_type=types[activations],
            weight_type=types[weights],
            per_channel=True,
            reduce_range=reduce_range,
            nodes_to_exclude=float_layers,
        )
    finally:
        prepared.unlink(missing_ok=True)
    return float_layers


def saturation_risks(model: str | Path) -> dict[str, int]:
    """The int8 weight tensors of an ONNX file that CPUs without VNNI compute differently (their
    16-bit pair sums can saturate), with the largest magnitude each holds; empty when every weight is
    within +-64, so that the file computes the same integers on every x86-64 CPU."""
    from onnx import TensorProto, numpy_helper

    graph = _import_onnx().load(str(model)).graph
    risks = {}
    for tensor in graph.initializer:
        if tensor.data_type == TensorProto.INT8 and len(tensor.dims) >= 2:  # weights, not zero points
            largest = int(np.abs(numpy_helper.to_array(tensor).astype(np.int16)).max())
            if largest > PORTABLE_WEIGHT_LIMIT:
                risks[tensor.name] = largest
    return risks
