import json
from pathlib import Path

import numpy as np
import pytest

from balanced_fer import Recognizer
from balanced_fer.cli import main
from balanced_fer.data import load_arrays, open_dataset
from balanced_fer.errors import BalancedFerError
from balanced_fer.inference import saturation_risks
from balanced_fer.inference.backends import OnnxBackend, TorchBackend, load_backend
from balanced_fer.inference.evaluate import deployed_labels, evaluate_checkpoint, validation_dataset
from balanced_fer.labels import CANONICAL_CLASSES
from balanced_fer.models.checkpoint import load_checkpoint
from balanced_fer.models.description import FORMAT_VERSION
from balanced_fer.pretrained import (
    DEFAULT_MODEL,
    PRETRAINED_DIR,
    TIERS,
    list_pretrained,
    model_card,
    pretrained_path,
    resolve_model,
)
from helpers import EXAMPLES

REPO = Path(__file__).resolve().parents[2]  # recipes name their data relative to the repository


def test_every_tier_ships_and_all_model_files_stay_small():
    assert TIERS["default"].model == DEFAULT_MODEL
    assert {tier.model for tier in TIERS.values()} <= set(list_pretrained())
    shipped = sum(path.stat().st_size for path in PRETRAINED_DIR.iterdir() if path.suffix in (".safetensors", ".onnx"))
    assert shipped <= 20 * 2**20  # weights and their ONNX exports, every model together


@pytest.mark.parametrize("tier", TIERS)
def test_each_tier_ships_with_its_card(tier):
    path = pretrained_path(tier)
    assert path == pretrained_path(TIERS[tier].model) and path.with_suffix(".onnx").is_file()
    _, description = load_checkpoint(tier)
    assert len(description.class_names) in (7, 8)  # FER2013's seven, or FER+'s eight with contempt
    assert description.class_names == CANONICAL_CLASSES[: len(description.class_names)]
    assert description.format_version == FORMAT_VERSION  # shipped files are written in the current format
    exported = load_backend(tier).description
    assert exported.replace(validation={}, quantization=None) == description.replace(validation={})
    card = model_card(tier)
    assert f"`bfer predict --model {tier}`" in card and TIERS[tier].purpose in card
    for runtime in (description, exported):  # the checkpoint, and the file prediction runs
        figures = " | ".join(
            f"{100 * runtime.figures[f]:.2f}%" for f in ("accuracy", "mean_class_accuracy", "macro_f1")
        )
        assert f"| {figures} |" in card
    recipe = description.recipe["name"]
    assert "Known limits" in card and f"configs/{recipe}.yaml" in card
    assert (REPO / "configs" / f"{recipe}.yaml").is_file()


@pytest.fixture(scope="module")
def val_faces(shared_datasets, cache_dir) -> np.ndarray:
    return np.asarray(load_arrays(open_dataset(shared_datasets / "fer2013"), "val", 48, 1, cache_dir=cache_dir).images)


@pytest.mark.parametrize("tier", TIERS)
def test_shipped_export_gives_the_checkpoints_labels_on_every_cpu(val_faces, tier):
    export = load_backend(tier)
    assert isinstance(export, OnnxBackend)  # prediction runs the export
    assert resolve_model(tier, prefer_onnx=False).suffix == ".safetensors"
    checkpoint = TorchBackend(pretrained_path(tier))
    if not export.description.quantization:
        assert np.abs(checkpoint.logits(val_faces).numpy() - export.logits(val_faces).numpy()).max() < 1e-4
        return
    # int8: no weight lets a CPU without VNNI (AVX2) saturate, so it computes what VNNI / AMX CPUs do
    assert saturation_risks(export.path) == {}
    exact = OnnxBackend(export.path, exact_int8=True)  # the integer arithmetic of a CPU that never saturates
    labels = {
        name: deployed_labels(b, val_faces) for name, b in (("pytorch", checkpoint), ("here", export), ("exact", exact))
    }
    assert (labels["here"] == labels["exact"]).mean() >= 0.998  # this CPU's kernels compute the same
    assert (labels["pytorch"] == labels["here"]).mean() >= 0.99  # on this CPU, every FER2013 val face
    assert (labels["pytorch"] == labels["exact"]).mean() >= 0.99  # on CPUs with VNNI or AMX


def test_names_resolve_and_unknown_names_are_clear(tmp_path):
    assert resolve_model(tmp_path / "model.onnx") == tmp_path / "model.onnx"  # paths pass through
    assert resolve_model("default") == pretrained_path()
    with pytest.raises(BalancedFerError, match="no shipped model named 'nonsense'.*available: default"):
        resolve_model("nonsense")
    with pytest.raises(BalancedFerError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.safetensors")


@pytest.mark.parametrize("tier", TIERS)
def test_shipped_model_reproduces_its_validation_figures(shared_datasets, cache_dir, capsys, monkeypatch, tier):
    _, description = load_checkpoint(tier)
    checkpoint = description.figures
    monkeypatch.chdir(REPO)
    val, split = validation_dataset(description)  # the data its recipe was selected on
    result = evaluate_checkpoint(pretrained_path(tier), val, split, cache_dir=cache_dir, progress=False)
    assert result.accuracy == pytest.approx(checkpoint["accuracy"], abs=1e-6)
    assert result.mean_class_accuracy == pytest.approx(checkpoint["mean_class_accuracy"], abs=1e-6)
    assert result.mean_class_accuracy > 0.5  # far above chance (1/7): a trained model, not a placeholder
    runs = evaluate_checkpoint(tier, val, split, cache_dir=cache_dir, progress=False)  # what prediction runs
    stored = load_backend(tier).description.figures  # the figures it carries, for bfer models and the service
    assert runs.accuracy == pytest.approx(stored["accuracy"], abs=1e-6)
    assert runs.mean_class_accuracy == pytest.approx(stored["mean_class_accuracy"], abs=1e-6)
    assert (
        abs(runs.accuracy - result.accuracy) <= 0.003
        and abs(runs.mean_class_accuracy - result.mean_class_accuracy) <= 0.003
    )
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith(f"{TIERS[tier].model} "))
    assert f"{description.validation_data}: accuracy {100 * stored['accuracy']:.2f}%" in lines[at]
    assert f"mean class accuracy {100 * stored['mean_class_accuracy']:.2f}%" in lines[at]
    assert f"= {tier}" in lines[at] and f"{tier}: {TIERS[tier].purpose}" in lines[at + 1]


def test_service_reports_the_figures_of_what_it_runs():
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from balanced_fer.serving import ServiceLimits, create_app

    with TestClient(create_app("default", ServiceLimits())) as client:
        (model,) = client.get("/v1/models").json()["models"]
    assert model["validation"] == load_backend("default").description.figures
    assert model["validation_data"] == "fer2013 val"
    assert model["validation"]["accuracy"] > 0.5


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
