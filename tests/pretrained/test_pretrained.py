import json
from pathlib import Path

import numpy as np
import pytest

from balanced_fer import Recognizer
from balanced_fer.cli import main
from balanced_fer.data import load_arrays, open_dataset
from balanced_fer.errors import BalancedFerError
from balanced_fer.inference.backends import OnnxBackend, TorchBackend, load_backend
from balanced_fer.inference.evaluate import evaluate_checkpoint
from balanced_fer.pretrained import DEFAULT_MODEL, list_pretrained, model_card, pretrained_path, resolve_model
from balanced_fer.training.checkpoint import load_checkpoint
from helpers import EXAMPLES


def test_default_model_ships_small_with_its_card():
    assert DEFAULT_MODEL in list_pretrained()
    path = pretrained_path("default")
    shipped = path.stat().st_size + path.with_suffix(".onnx").stat().st_size
    assert path == pretrained_path(DEFAULT_MODEL) and shipped <= 20 * 2**20  # weights and their ONNX export
    _, meta = load_checkpoint("default")
    assert meta["class_names"] == ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear"]
    card = model_card()
    for figure in ("accuracy", "mean_class_accuracy", "macro_f1"):
        assert f"{100 * meta['validation'][figure]:.2f}%" in card  # the card reports the checkpoint's figures
    assert "Known limits" in card and f"configs/{meta['recipe']['name']}.yaml" in card
    assert (Path(__file__).resolve().parents[2] / "configs" / f"{meta['recipe']['name']}.yaml").is_file()


def test_shipped_onnx_export_agrees_with_the_checkpoint(shared_datasets, cache_dir):
    export = load_backend("default")
    assert isinstance(export, OnnxBackend)  # prediction runs the export
    assert resolve_model("default", prefer_onnx=False).suffix == ".safetensors"
    val = load_arrays(open_dataset(shared_datasets / "fer2013"), "val", 48, 1, cache_dir=cache_dir, progress=False)
    faces = np.asarray(val.images[:512])
    torch_logits, onnx_logits = TorchBackend(pretrained_path()).logits(faces), export.logits(faces)
    if "quantization" in export.meta:  # int8: the same label on nearly every face
        assert (torch_logits.argmax(1) == onnx_logits.argmax(1)).float().mean() >= 0.97
    else:
        assert np.abs(torch_logits.numpy() - onnx_logits.numpy()).max() < 1e-4


def test_names_resolve_and_unknown_names_are_clear(tmp_path):
    assert resolve_model(tmp_path / "model.onnx") == tmp_path / "model.onnx"  # paths pass through
    assert resolve_model("default") == pretrained_path()
    with pytest.raises(BalancedFerError, match="no shipped model named 'nonsense'.*available: default"):
        resolve_model("nonsense")
    with pytest.raises(BalancedFerError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_shipped_model_reproduces_its_validation_figures(shared_datasets, cache_dir):
    _, meta = load_checkpoint("default")
    val = open_dataset(shared_datasets / "fer2013")
    result = evaluate_checkpoint(pretrained_path(), val, "val", cache_dir=cache_dir, progress=False)
    assert result.accuracy == pytest.approx(meta["validation"]["accuracy"], abs=1e-6)
    assert result.mean_class_accuracy == pytest.approx(meta["validation"]["mean_class_accuracy"], abs=1e-6)
    assert result.mean_class_accuracy > 0.5  # far above chance (1/7): a trained model, not a placeholder
    export = evaluate_checkpoint("default", val, "val", cache_dir=cache_dir, progress=False)
    if "quantization" in load_backend("default").meta:  # the card gives the int8 file's own figures
        assert f"accuracy {100 * export.accuracy:.2f}%, mean class accuracy" in model_card()
        assert f"mean class accuracy {100 * export.mean_class_accuracy:.2f}%" in model_card()
    else:
        assert export.accuracy == pytest.approx(result.accuracy, abs=1e-6)


def test_from_pretrained_and_predict_without_model(tmp_path, capsys):
    recognizer = Recognizer.from_pretrained()
    faces = recognizer.predict(EXAMPLES / "astronaut.jpg")
    assert len(faces) == 1 and faces[0].label in recognizer.classes_
    assert main(["predict", str(EXAMPLES / "astronaut.jpg"), "--annotate", str(tmp_path), "--no-progress"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["faces"][0]["label"] == faces[0].label
    assert record["faces"][0]["scores"] == pytest.approx(faces[0].scores, abs=1e-5)
    assert (tmp_path / "astronaut.jpg").is_file()
    with pytest.raises(BalancedFerError, match="no shipped model named"):
        Recognizer.from_pretrained("nonsense")
