"""Registry-wide tests: every model builds, runs forward and backward, and round-trips a checkpoint."""

import pytest
import torch

from balanced_fer.errors import BalancedFerError
from balanced_fer.models import (
    Architecture,
    ModelDescription,
    Preprocessing,
    create_model,
    default_input_size,
    list_models,
    load_model,
    load_pretrained,
    save_checkpoint,
)


def _kwargs(name: str) -> dict:
    """Small-input variants of the 112 px models, so the registry-wide tests stay fast."""
    if name.startswith("resnet") and "compact" not in name:
        return {"small_input": True}
    if name == "rasn_resnet18":
        return {"backbone_kwargs": {"small_input": True}}
    return {}


def _input(name: str, in_chans: int) -> torch.Tensor:
    size = 64 if _kwargs(name) else default_input_size(name)
    return torch.randn(2, in_chans, size, size)


@pytest.mark.parametrize("name", list_models())
def test_forward_backward_and_features(name):
    model = create_model(name, num_classes=7, in_chans=1, **_kwargs(name))
    x = _input(name, 1)
    features = model.forward_features(x)
    assert features.shape == (2, model.num_features)
    logits = model(x)
    assert logits.shape == (2, 7)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.reset_classifier(3)
    assert model(x).shape == (2, 3) and model.get_classifier().out_features == 3


@pytest.mark.parametrize("name", list_models())
def test_checkpoint_round_trip(name, tmp_path):
    kwargs = _kwargs(name)
    model = create_model(name, num_classes=5, in_chans=1, **kwargs)
    model(_input(name, 1))  # one training step's worth of running statistics
    model.eval()
    description = ModelDescription(Architecture(name, 5, 1, kwargs), tuple("abcde"), Preprocessing(), (1,) * 5)
    path = save_checkpoint(tmp_path / "m.safetensors", model.state_dict(), description)
    loaded, loaded_description = load_model(path)
    x = _input(name, 1)
    assert torch.equal(model(x), loaded(x)) and loaded_description == description


@pytest.mark.parametrize("name,params", [("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032)])
def test_resnets_match_torchvision(name, params):
    model = create_model(name, num_classes=1000, in_chans=3)
    assert sum(p.numel() for p in model.parameters()) == params
    keys = set(model.state_dict())
    assert {
        "conv1.weight",
        "bn1.running_mean",
        "layer1.0.conv1.weight",
        "layer2.0.downsample.0.weight",
        "layer2.0.downsample.1.running_var",
        "fc.weight",
        "fc.bias",
    } <= keys


def test_pretrained_from_a_local_file(tmp_path):
    source = create_model("resnet18", num_classes=1000, in_chans=3)
    torch.save(source.state_dict(), tmp_path / "resnet18.pth")
    model = create_model("resnet18", num_classes=7, in_chans=1, pretrained=tmp_path / "resnet18.pth")
    assert torch.allclose(model.conv1.weight, source.conv1.weight.sum(1, keepdim=True))
    assert torch.equal(model.layer3[1].conv2.weight, source.layer3[1].conv2.weight)
    assert model.fc.weight.shape == (7, 512)  # head of another shape stays initialised
    missing = load_pretrained(create_model("resnet18", num_classes=7, in_chans=3), tmp_path / "resnet18.pth")
    assert missing == ["fc.bias", "fc.weight"]


def test_clear_errors(tmp_path):
    with pytest.raises(BalancedFerError, match="unknown model 'vgg99'"):
        create_model("vgg99", 7)
    with pytest.raises(BalancedFerError, match="not found"):
        create_model("resnet18", 7, pretrained=tmp_path / "none.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(BalancedFerError, match="not a readable state dict"):
        create_model("resnet18", 7, pretrained=tmp_path / "junk.pth")
