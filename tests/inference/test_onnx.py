import numpy as np
import pytest
import torch

from balanced_fer.cli import main
from balanced_fer.errors import BalancedFerError
from balanced_fer.inference import OnnxBackend, TorchBackend, export_onnx, load_backend
from helpers import random_checkpoint

pytest.importorskip("onnxruntime")

CASES = {  # test id: (model, model.kwargs)
    "vgg_compact_s": ("vgg_compact_s", {}),
    "vgg_compact_s with a pooling grid": ("vgg_compact_s", {"pool_grid": 5}),
    "resnet_compact_s": ("resnet_compact_s", {}),
    "rasn": ("rasn", {"backbone": "vgg_compact_s"}),
    "resnet18": ("resnet18", {"small_input": True}),
}


def checkpoint(tmp_path, name: str, kwargs: dict):
    return random_checkpoint(tmp_path / f"{name}.safetensors", name, kwargs)


@pytest.mark.parametrize(("name", "kwargs"), CASES.values(), ids=CASES)
def test_onnx_matches_pytorch_with_a_dynamic_batch(tmp_path, name, kwargs):
    path = checkpoint(tmp_path, name, kwargs)
    onnx_path = export_onnx(path, tmp_path / f"{name}.onnx")
    faces = np.random.default_rng(1).integers(0, 256, (13, 48, 48, 1), dtype=np.uint8)
    torch_logits = TorchBackend(path).logits(faces, batch_size=5)
    onnx_backend = load_backend(onnx_path)
    assert isinstance(onnx_backend, OnnxBackend)
    assert torch.allclose(onnx_backend.logits(faces, batch_size=6), torch_logits, atol=1e-4)
    assert torch.allclose(
        onnx_backend.logits(faces, tta="flip"), TorchBackend(path).logits(faces, tta="flip"), atol=1e-4
    )
    assert onnx_backend.description == TorchBackend(path).description  # the whole model-file contract


def test_a_repvgg_network_exports_as_the_plain_network_it_folds_into(tmp_path):
    onnx = pytest.importorskip("onnx")
    repvgg = random_checkpoint(tmp_path / "repvgg.safetensors", kwargs={"repvgg": True})
    plain = random_checkpoint(tmp_path / "plain.safetensors")
    paths = [export_onnx(path, tmp_path / f"{path.stem}.onnx") for path in (repvgg, plain)]
    graphs = [onnx.load(str(path)).graph for path in paths]
    assert [node.op_type for node in graphs[0].node] == [node.op_type for node in graphs[1].node]
    assert sum(node.op_type == "Conv" for node in graphs[0].node) == 8
    faces = np.random.default_rng(1).integers(0, 256, (5, 48, 48, 1), dtype=np.uint8)
    assert torch.allclose(load_backend(paths[0]).logits(faces), TorchBackend(repvgg).logits(faces), atol=1e-4)


def test_a_model_runs_its_own_test_time_augmentation_unless_told_otherwise(tmp_path):
    path = random_checkpoint(tmp_path / "flip.safetensors", tta="flip")
    faces = np.random.default_rng(3).integers(0, 256, (6, 48, 48, 1), dtype=np.uint8)
    for backend in (TorchBackend(path), load_backend(export_onnx(path, tmp_path / "flip.onnx"))):
        assert backend.description.tta == "flip"
        own, flip, none = backend.logits(faces), backend.logits(faces, tta="flip"), backend.logits(faces, tta="none")
        assert torch.equal(own, flip) and not torch.allclose(own, none)
        with pytest.raises(BalancedFerError, match="must be none or flip"):
            backend.logits(faces, tta="rotate")


def test_cli_export_and_bad_files(tmp_path, capsys, monkeypatch):
    path = checkpoint(tmp_path, "vgg_compact_s", {})
    assert main(["export", str(path), str(tmp_path / "m.onnx")]) == 0
    assert "largest logit difference to PyTorch" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert main(["export", "default"]) == 0  # no output name: ./<name>.onnx
    assert "wrote default.onnx" in capsys.readouterr().out and isinstance(load_backend("default.onnx"), OnnxBackend)
    (tmp_path / "bad.onnx").write_bytes(b"junk")
    with pytest.raises(BalancedFerError, match="not a loadable ONNX model"):
        load_backend(tmp_path / "bad.onnx")


def test_evaluate_runs_the_onnx_export_like_the_checkpoint(tmp_path):
    from balanced_fer.data import open_dataset
    from balanced_fer.inference import evaluate_checkpoint
    from helpers import write_toy_faces

    write_toy_faces(tmp_path / "faces", {"happy": 6, "sad": 6, "fear": 3}, size=48, splits=("val",))
    dataset = open_dataset(tmp_path / "faces")
    path = checkpoint(tmp_path, "vgg_compact_s", {})
    onnx_path = export_onnx(path, tmp_path / "m.onnx")
    a = evaluate_checkpoint(path, dataset, "val", cache_dir=tmp_path / "c", progress=False)
    b = evaluate_checkpoint(onnx_path, dataset, "val", cache_dir=tmp_path / "c", progress=False)
    assert a.confusion_matrix == b.confusion_matrix and a.nll == pytest.approx(b.nll, abs=1e-5)


TRAININGS = {  # how each training leaves the training prior in the scores
    "ce": [],
    "balanced_softmax": ["loss.name=balanced_softmax"],
    "logit_adjusted": ["loss.name=logit_adjusted", "loss.kwargs={tau: 0.5}"],
    "class_balanced_sampler": ["sampler=class_balanced"],
}


@pytest.fixture(scope="module")
def toy_faces(tmp_path_factory):
    from helpers import write_toy_faces

    return write_toy_faces(tmp_path_factory.mktemp("contract") / "faces", {"happy": 40, "sad": 16, "fear": 6})


@pytest.mark.parametrize("training", TRAININGS)
def test_an_onnx_export_scores_like_its_checkpoint_under_every_prior_and_temperature(
    toy_faces, tmp_path, monkeypatch, training
):
    """The export carries what scoring needs (the prior the scores follow, the calibration
    temperature), so ``--prior`` and ``bfer calibrate`` act on it as on the checkpoint."""
    import json

    import yaml

    from balanced_fer.inference import Recognizer

    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))
    recipe = {
        "name": training,
        "data": {"train": str(toy_faces), "size": 24, "input_size": 20},
        "model": {"name": "vgg_compact_s"},
        "optim": {"lr": 0.05, "batch_size": 16},
        "schedule": {"epochs": 1, "warmup_epochs": 0},
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    sets = [a for o in TRAININGS[training] for a in ("--set", o)]
    assert main(["train", str(tmp_path / "r.yaml"), "--out", str(tmp_path / "run"), "--no-progress", *sets]) == 0
    calibrated = tmp_path / "calibrated.safetensors"
    checkpoint = tmp_path / "run" / "final.safetensors"
    assert main(["calibrate", str(checkpoint), str(toy_faces), "--out", str(calibrated), "--no-progress"]) == 0
    assert main(["export", str(calibrated), str(tmp_path / "m.onnx")]) == 0
    (tmp_path / "prior.json").write_text(json.dumps({"happiness": 0.2, "sadness": 0.3, "fear": 0.5}))
    faces = np.random.default_rng(4).integers(0, 256, (9, 24, 24, 1), dtype=np.uint8)
    for prior in (None, "uniform", "train", str(tmp_path / "prior.json")):
        expected = Recognizer(calibrated, prior=prior).predict_proba(faces)
        assert np.allclose(Recognizer(tmp_path / "m.onnx", prior=prior).predict_proba(faces), expected, atol=1e-5)
