import json

import numpy as np
import pytest
import torch

from balanced_fer.cli import main
from balanced_fer.data import open_dataset
from balanced_fer.errors import BalancedFerError
from balanced_fer.inference import OnnxBackend, TorchBackend, evaluate_checkpoint, export_onnx, saturation_risks
from balanced_fer.inference.export import PORTABLE_WEIGHT_LIMIT, export_int8, quantize_int8
from balanced_fer.models import prepare_batch
from balanced_fer.models.checkpoint import load_checkpoint, save_checkpoint
from helpers import random_checkpoint, write_toy_faces

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def faces(count: int, seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 48, 48, 1), dtype=np.uint8)


def test_int8_export_stays_close_to_pytorch_and_is_portable(tmp_path):
    path = random_checkpoint(tmp_path / "m.safetensors")
    int8 = OnnxBackend(export_onnx(path, tmp_path / "m8.onnx", calibration=faces(32)))
    quantization = int8.description.quantization
    assert quantization.calibration_faces == 32 and int8.description.figures is None  # not measured: no data
    graph = onnx.load(str(tmp_path / "m8.onnx")).graph
    assert "QuantizeLinear" in {node.op_type for node in graph.node}
    (first,) = [node for node in graph.node if "faces" in node.input]  # the layer reading the image stays fp32
    assert first.op_type == "Conv" and quantization.float_layers == (first.name,)
    assert saturation_risks(int8.path) == {}
    expected, got = TorchBackend(path).logits(faces(32, seed=5)), int8.logits(faces(32, seed=5))
    assert not torch.equal(expected, got)
    assert torch.corrcoef(torch.stack([expected.flatten(), got.flatten()]))[0, 1] > 0.95
    exact = OnnxBackend(int8.path, exact_int8=True).logits(faces(32, seed=5))  # dequantize -> fp32 ops -> quantize
    assert torch.allclose(exact, got, atol=0.05 * float(got.abs().max()))
    assert not list(tmp_path.glob(".*tmp*"))  # the fp32 intermediate is removed


def test_saturation_check_flags_full_range_int8_weights(tmp_path):
    path = random_checkpoint(tmp_path / "m.safetensors")
    fp32 = export_onnx(path, tmp_path / "fp32.onnx")
    batch = prepare_batch(faces(16), load_checkpoint(path)[1].preprocessing, "cpu").numpy()
    full_range = tmp_path / "full.onnx"  # onnxruntime's default scheme: weights up to +-127
    assert quantize_int8(fp32, full_range, batch, reduce_range=False, float_input_layers=False) == []
    risks = saturation_risks(full_range)
    assert risks and all(PORTABLE_WEIGHT_LIMIT < largest <= 128 for largest in risks.values())
    assert saturation_risks(fp32) == {}  # no int8 weights at all


def with_recipe_data(path, spec) -> None:
    """Give a test checkpoint a recipe naming its validation data, as bfer train writes it."""
    tensors, description = load_checkpoint(path)
    recipe = {"data": {"train": str(spec), "val": None, "val_split": "val", "options": {}}}
    save_checkpoint(path, tensors, description.replace(recipe=recipe, validation={"float": {"accuracy": 0.5}}))


def test_export_int8_stores_the_figures_of_the_file_itself(tmp_path):
    spec = write_toy_faces(tmp_path / "faces", {"happy": 9, "sad": 9, "fear": 9}, size=48)
    path = random_checkpoint(tmp_path / "m.safetensors")
    with_recipe_data(path, spec)
    result = export_int8(path, tmp_path / "m8.onnx", spec, faces=8)
    assert result.calibration_faces == 8 and result.checked_faces == 8 and 0 <= result.agreement <= 1
    measured = evaluate_checkpoint(result.path, open_dataset(spec), "val", progress=False)
    stored = OnnxBackend(result.path).description.validation
    assert result.validation == stored["int8"] == measured.summary()
    assert stored["float"] == {"accuracy": 0.5}  # the checkpoint's figures stay, under their own runtime path
    assert result.validation_note.endswith("val")
    with pytest.raises(BalancedFerError, match="--faces must be at least 1"):
        export_int8(path, tmp_path / "none.onnx", spec, faces=0)


def test_cli_int8_export_says_what_it_measured(tmp_path, capsys):
    spec = write_toy_faces(tmp_path / "faces", {"happy": 6, "sad": 6}, size=48, splits=("train",))
    path = random_checkpoint(tmp_path / "m.safetensors")  # no recipe: no validation data to measure on
    args = ["export", str(path), str(tmp_path / "cli8.onnx"), "--int8", str(spec), "--faces", "4", "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "calibrated on 4 faces" in printed and "same label as PyTorch on" in printed
    assert "validation figures not measured: the model file names no validation data" in printed
    assert json.loads(onnx.load(str(tmp_path / "cli8.onnx")).metadata_props[0].value)["quantization"]
