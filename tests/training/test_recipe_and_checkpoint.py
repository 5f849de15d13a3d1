from pathlib import Path

import pytest
import torch

from balanced_fer.errors import BalancedFerError
from balanced_fer.models import create_model
from balanced_fer.training import load_checkpoint, load_recipe, save_checkpoint
from balanced_fer.training.checkpoint import flatten_state, unflatten_state

CONFIGS = sorted(Path(__file__).resolve().parents[2].joinpath("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_recipes_are_valid(path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem and recipe.schedule.epochs > 0
    assert recipe.data.val_split != "test"
    model = create_model(recipe.model.name, 7, in_chans=recipe.data.channels, **recipe.model.kwargs)
    x = torch.randn(2, recipe.data.channels, recipe.data.input_size, recipe.data.input_size)
    assert model(x).shape == (2, 7)


def test_overrides_and_unknown_keys(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("model:\n  name: vgg_compact_s\n")
    recipe = load_recipe(path, ["optim.lr=0.01", "loss.kwargs={tau: 2}", "augment.erase_area=[0.1, 0.2]"])
    assert recipe.optim.lr == 0.01 and recipe.loss.kwargs == {"tau": 2} and recipe.augment.erase_area == (0.1, 0.2)
    assert recipe.name == "r" and recipe.model.name == "vgg_compact_s"
    with pytest.raises(BalancedFerError, match="unknown key.*optim.learning_rate"):
        load_recipe(path, ["optim.learning_rate=0.1"])
    with pytest.raises(BalancedFerError, match="expected KEY=VALUE"):
        load_recipe(path, ["optim.lr"])
    path.write_text("model: [1, 2\n")
    with pytest.raises(BalancedFerError, match="not valid YAML"):
        load_recipe(path)
    with pytest.raises(BalancedFerError, match="recipe file not found"):
        load_recipe(tmp_path / "none.yaml")


def test_checkpoint_atomic_and_self_describing(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", {"w": torch.ones(2)}, {"class_names": ["a"], "epoch": 3})
    tensors, meta = load_checkpoint(path)
    assert torch.equal(tensors["w"], torch.ones(2)) and meta == {"class_names": ["a"], "epoch": 3}
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]  # no temporary left behind


def test_checkpoint_errors(tmp_path):
    with pytest.raises(BalancedFerError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(BalancedFerError, match="not a safetensors checkpoint"):
        load_checkpoint(tmp_path / "bad.safetensors")
    from safetensors.torch import save_file

    save_file({"w": torch.ones(1)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(BalancedFerError, match="without balanced-fer metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")


def test_optimizer_state_round_trip_without_pickle():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    tensors: dict = {}
    flat = flatten_state("optim", optimizer.state_dict(), tensors)
    import json

    restored = unflatten_state(json.loads(json.dumps(flat)), tensors)
    other = torch.optim.AdamW(torch.nn.Linear(3, 2).parameters(), lr=0.5)
    other.load_state_dict(restored)
    assert other.param_groups[0]["lr"] == 0.1
    assert torch.equal(other.state_dict()["state"][0]["exp_avg"], optimizer.state_dict()["state"][0]["exp_avg"])
