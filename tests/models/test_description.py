"""The model-file contract: every field survives both file formats, damage is one clear error, and
format 1 files (free JSON, before the contract) are read by migration."""

import json

import pytest
from safetensors.torch import save_file

from balanced_fer.errors import BalancedFerError
from balanced_fer.models import (
    Architecture,
    Calibration,
    ModelDescription,
    Preprocessing,
    Provenance,
    Quantization,
    load_checkpoint,
    save_checkpoint,
)
from balanced_fer.models.description import FORMAT_VERSION, META_KEY
from helpers import random_checkpoint

EVERY_FIELD = ModelDescription(  # no field at its default
    architecture=Architecture("rasn", 3, 3, {"backbone": "vgg_compact_s"}),
    class_names=("happiness", "sadness", "fear"),
    preprocessing=Preprocessing(size=64, input_size=56, channels=3, mean=0.4, std=0.3),
    train_counts=(50, 20, 0),
    trained_prior_weight=-0.5,
    post_hoc_tau=0.75,
    calibration=Calibration(1.7, "data/val [val]"),
    tta="flip",
    validation={"float": {"accuracy": 0.7}, "int8": {"accuracy": 0.69}},
    quantization=Quantization("int8 within +-64", "uint8", ("/conv1/Conv",), 512),
    recipe={"name": "toy", "loss": {"name": "balanced_softmax", "kwargs": {}}},
    provenance=Provenance("abc123", 7, "crt", 1.5, {"phases": [{"phase": "task1"}]}),
)


def test_every_field_round_trips_through_json():
    assert ModelDescription.from_json(EVERY_FIELD.to_json(), "x") == EVERY_FIELD
    assert json.loads(EVERY_FIELD.to_json())["format_version"] == FORMAT_VERSION
    assert EVERY_FIELD.runtime == "int8" and EVERY_FIELD.figures == {"accuracy": 0.69}


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"train": "../shared/datasets/fer2013", "val": None, "val_split": "val"}, "fer2013 val"),
        ({"train": "ferplus:../shared/datasets/ferplus", "val": None, "val_split": "val"}, "ferplus val"),
        ({"train": "faces/train", "val": "rafdb:/data/raf", "val_split": "test"}, "rafdb test"),
    ],
)
def test_validation_data_names_the_recipes_dataset_and_split(data, named):
    assert EVERY_FIELD.replace(recipe={"data": data}).validation_data == named
    assert EVERY_FIELD.validation_data is None  # a recipe without data: nothing to name


def test_the_same_description_in_a_checkpoint_and_its_onnx_export(tmp_path):
    from balanced_fer.inference import OnnxBackend, TorchBackend, export_onnx

    pytest.importorskip("onnx")
    path = random_checkpoint(tmp_path / "m.safetensors", tta="flip")
    tensors, description = load_checkpoint(path)
    rich = description.replace(
        trained_prior_weight=0.0,
        post_hoc_tau=0.5,
        calibration=Calibration(1.3, "somewhere"),
        recipe={"name": "r"},
        validation={"float": {"accuracy": 0.5}},
        provenance=Provenance("abc", 3),
    )
    save_checkpoint(path, tensors, rich)
    assert TorchBackend(path).description == rich
    assert OnnxBackend(export_onnx(path, tmp_path / "m.onnx")).description == rich


DAMAGED = {  # case: (the metadata text, or a change to the description's JSON), the error
    "not JSON": ("{not json", "metadata is not valid JSON"),
    "a JSON list": ("[1, 2]", "metadata is not a JSON object"),
    "a billion classes": (
        lambda d: d["architecture"].update(num_classes=10**9),
        "architecture: num_classes must be 1 to 1000",
    ),
    "class names of another count": (lambda d: d.update(class_names=d["class_names"][:3]), "differs from the 3 class"),
    "a zero face size": (lambda d: d["preprocessing"].update(size=0), "preprocessing: size must be 8 to 1024"),
    "counts for other classes": (lambda d: d.update(train_counts=[1, 2]), "one non-negative integer per class"),
    "a string temperature": (lambda d: d["calibration"].update(temperature="hot"), "temperature: expected a number"),
    "a negative temperature": (lambda d: d["calibration"].update(temperature=-1), "temperature must be positive"),
    "an unknown runtime's figures": (lambda d: d.update(validation={"fp16": {}}), "keyed by runtime path"),
    "no class names": (lambda d: d.pop("class_names"), "missing field class_names"),
    "an unknown field": (lambda d: d.update(colour="red"), "unknown key(s) colour"),
    "a newer format": (lambda d: d.update(format_version=FORMAT_VERSION + 1), "is newer than this balanced-fer reads"),
}


@pytest.mark.parametrize("case", DAMAGED)
def test_damaged_descriptions_are_one_clear_error_in_both_formats(tmp_path, case):
    from balanced_fer.inference import OnnxBackend, TorchBackend, export_onnx

    onnx = pytest.importorskip("onnx")
    damage, message = DAMAGED[case]
    path = random_checkpoint(tmp_path / "good.safetensors")
    exported = onnx.load(str(export_onnx(path, tmp_path / "good.onnx")))
    tensors, description = load_checkpoint(path)
    if isinstance(damage, str):
        text = damage
    else:
        values = description.to_dict()
        damage(values)
        text = json.dumps(values)
    save_file(tensors, str(tmp_path / "bad.safetensors"), metadata={META_KEY: text})
    del exported.metadata_props[:]
    exported.metadata_props.add(key=META_KEY, value=text)
    onnx.save(exported, str(tmp_path / "bad.onnx"))
    for load, name in ((TorchBackend, "bad.safetensors"), (OnnxBackend, "bad.onnx")):
        with pytest.raises(BalancedFerError, match=f"{name}: .*{message}".replace("(", r"\(").replace(")", r"\)")):
            load(tmp_path / name)


FORMAT_1 = {  # what the trainer wrote before the contract (the shipped model's fields)
    "kind": "model",
    "format_version": 1,
    "model": {"name": "vgg_compact_s", "kwargs": {}, "num_classes": 2, "in_chans": 1},
    "class_names": ["a", "b"],
    "preprocessing": {"size": 48, "input_size": 44, "channels": 1, "mean": 0.5, "std": 0.25},
    "train_counts": [90, 10],
    "logit_adjustment": {"tau": 0.5},
    "tta": "flip",
    "recipe": {"name": "old", "loss": {"name": "logit_adjusted", "kwargs": {"tau": 0.25}}, "sampler": "square_root"},
    "epoch": 12,
    "validation": {"accuracy": 0.7},
    "git_commit": "abc",
    "calibration": {"temperature": 1.5, "data": "d"},
}


def test_format_1_descriptions_are_migrated():
    description = ModelDescription.from_dict(FORMAT_1, "old.safetensors")
    assert description.format_version == FORMAT_VERSION
    assert description.architecture == Architecture("vgg_compact_s", 2, 1)
    assert description.trained_prior_weight == pytest.approx(1 - 0.25 - 0.5)  # the loss's and the sampler's share
    assert description.post_hoc_tau == 0.5 and description.calibration == Calibration(1.5, "d")
    assert description.validation == {"float": {"accuracy": 0.7}} and description.tta == "flip"
    assert description.provenance == Provenance(git_commit="abc", epoch=12)
    onnx_v1 = {k: FORMAT_1[k] for k in ("class_names", "preprocessing", "train_counts", "model", "tta")}
    onnx_v1["quantization"] = {"weights": "int8", "activations": "uint8", "float_layers": [], "calibration_faces": 8}
    onnx_v1["validation"] = {"accuracy": 0.69}  # a format 1 export: no recipe, its own figures
    exported = ModelDescription.from_dict(onnx_v1, "old.onnx")
    assert exported.trained_prior_weight == 1.0 and exported.figures == {"accuracy": 0.69}


def test_a_format_1_checkpoint_loads(tmp_path):
    tensors, _ = load_checkpoint(random_checkpoint(tmp_path / "new.safetensors", classes=["a", "b"]))
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata={META_KEY: json.dumps(FORMAT_1)})
    _, description = load_checkpoint(tmp_path / "old.safetensors")
    assert description.class_names == ("a", "b") and description.recipe["name"] == "old"
