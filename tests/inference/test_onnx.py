import numpy as np
import pytest
import torch

from balanced_fer.cli import main
from balanced_fer.errors import BalancedFerError
from balanced_fer.inference import OnnxBackend, TorchBackend, export_onnx, load_backend
from helpers import random_checkpoint

pytest.importorskip("onnxruntime")

CASES = {
    "vgg_compact_s": {},
    "resnet_compact_s": {},
    "rasn": {"backbone": "vgg_compact_s"},
    "resnet18": {"small_input": True},
}


def checkpoint(tmp_path, name: str, kwargs: dict):
    return random_checkpoint(tmp_path / f"{name}.safetensors", name, kwargs)


@pytest.mark.parametrize("name", CASES)
def test_onnx_matches_pytorch_with_a_dynamic_batch(tmp_path, name):
    path = checkpoint(tmp_path, name, CASES[name])
    onnx_path = export_onnx(path, tmp_path / f"{name}.onnx")
    faces = np.random.default_rng(1).integers(0, 256, (13, 48, 48, 1), dtype=np.uint8)
    torch_logits = TorchBackend(path).logits(faces, batch_size=5)
    onnx_backend = load_backend(onnx_path)
    assert isinstance(onnx_backend, OnnxBackend)
    assert torch.allclose(onnx_backend.logits(faces, batch_size=6), torch_logits, atol=1e-4)
    assert torch.allclose(
        onnx_backend.logits(faces, tta="flip"), TorchBackend(path).logits(faces, tta="flip"), atol=1e-4
    )
    assert onnx_backend.meta["class_names"][5] == "disgust" and onnx_backend.meta["preprocessing"]["input_size"] == 44


def test_a_model_runs_its_own_test_time_augmentation_unless_told_otherwise(tmp_path):
    path = random_checkpoint(tmp_path / "flip.safetensors", tta="flip")
    faces = np.random.default_rng(3).integers(0, 256, (6, 48, 48, 1), dtype=np.uint8)
    for backend in (TorchBackend(path), load_backend(export_onnx(path, tmp_path / "flip.onnx"))):
        assert backend.meta["tta"] == "flip"
        own, flip, none = backend.logits(faces), backend.logits(faces, tta="flip"), backend.logits(faces, tta="none")
        assert torch.equal(own, flip) and not torch.allclose(own, none)
        with pytest.raises(BalancedFerError, match="must be none or flip"):
            backend.logits(faces, tta="rotate")


def test_cli_export_and_bad_files(tmp_path, capsys):
    path = checkpoint(tmp_path, "vgg_compact_s", {})
    assert main(["export", str(path), str(tmp_path / "m.onnx")]) == 0
    assert "largest logit difference to PyTorch" in capsys.readouterr().out
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
