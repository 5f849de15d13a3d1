from pathlib import Path

import pytest
import torch

from balanced_fer.errors import BalancedFerError
from balanced_fer.models import create_model, load_checkpoint, save_checkpoint
from balanced_fer.models.checkpoint import flatten_state, unflatten_state
from balanced_fer.training import load_recipe
from helpers import random_checkpoint

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


def test_a_recipe_builds_on_its_base_section_by_section(tmp_path):
    (tmp_path / "base.yaml").write_text(
        "name: base\nmodel: {name: vgg_compact_s}\noptim: {lr: 0.05, momentum: 0.8}\n"
        "distill: {targets: t.safetensors, alpha: 0.7}\naugment: {flip: 0.3}\n"
    )
    (tmp_path / "sub").mkdir()
    child = tmp_path / "sub" / "child.yaml"
    child.write_text("base: ../base.yaml\noptim: {lr: 0.01}\ndistill: {targets: null, teachers: [a.safetensors]}\n")
    recipe = load_recipe(child, ["augment.flip=0.1"])
    assert recipe.name == "child" and recipe.model.name == "vgg_compact_s"  # the name is never inherited
    assert (recipe.optim.lr, recipe.optim.momentum) == (0.01, 0.8)
    assert recipe.distill.targets is None and recipe.distill.teachers == ["a.safetensors"]
    assert recipe.distill.alpha == 0.7 and recipe.augment.flip == 0.1
    grandchild = tmp_path / "sub" / "grandchild.yaml"
    grandchild.write_text("base: child.yaml\naugment: null\n")
    defaults = load_recipe(values={"model": {"name": "vgg_compact_s"}}).augment
    assert load_recipe(grandchild).optim.lr == 0.01 and load_recipe(grandchild).augment == defaults  # not 0.3
    (tmp_path / "base.yaml").write_text("base: sub/child.yaml\n")
    with pytest.raises(BalancedFerError, match="base.yaml: base sub/child.yaml leads back to itself"):
        load_recipe(child)
    child.write_text("base: ../missing.yaml\n")
    with pytest.raises(BalancedFerError, match=r"missing.yaml: recipe file not found \(the base of .*child.yaml\)"):
        load_recipe(child)
    child.write_text("base: [a, b]\n")
    with pytest.raises(BalancedFerError, match="base must be the path of another recipe file"):
        load_recipe(child)


def test_checkpoint_atomic_and_self_describing(tmp_path):
    from balanced_fer.models.checkpoint import load_training_state

    description = load_checkpoint(random_checkpoint(tmp_path / "model.safetensors"))[1]
    path = save_checkpoint(tmp_path / "c.safetensors", {"w": torch.ones(2)}, description, state={"epoch": 3})
    tensors, loaded = load_checkpoint(path)
    assert torch.equal(tensors["w"], torch.ones(2)) and loaded == description
    assert load_training_state(path)[1:] == (description, {"epoch": 3})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.safetensors", "model.safetensors"]  # no temporary left
    with pytest.raises(BalancedFerError, match="model.safetensors: not a training state"):
        load_training_state(tmp_path / "model.safetensors")


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


BAD_RECIPES = {
    "a string for an integer": ('schedule: {epochs: "3"}', ["schedule.epochs: expected an integer, got '3'"]),
    "a word for a number": ("optim: {lr: fast}", ["optim.lr: expected a number, got 'fast'"]),
    "a word for a size": ("data: {size: big}", ["data.size: expected an integer, got 'big'"]),
    "a list of strings for divisors": (
        "dbl: {divisors: [a, b]}",
        ["dbl.divisors: expected a list of a number or a string or null"],
    ),
    "an unknown device": ("device: gpu", ["device must be one of auto, cpu, cuda, got 'gpu'"]),
    "a word for divisors": ("dbl: {divisors: even}", ["dbl.divisors must be auto, null or one number per class"]),
    "an unknown choice": (
        "dbl: {task_heads: both, prune_schedule: sudden}",
        [
            "dbl.task_heads must be one of separate, shared, got 'both'",
            "dbl.prune_schedule must be one of gradual, one_shot, got 'sudden'",
        ],
    ),
    "a boolean for an integer": ("seed: true", ["seed: expected an integer, got True"]),
    "negative epochs": ("schedule: {epochs: -1}", ["schedule.epochs must be at least 1, got -1"]),
    "zero batch": ("optim: {batch_size: 0}", ["optim.batch_size must be at least 1, got 0"]),
    "crop larger than the face": ("data: {size: 32, input_size: 40}", ["data.input_size must be from 1 to data.size"]),
    "two channels": ("data: {channels: 2}", ["data.channels must be 1 or 3, got 2"]),
    "unknown model": ("model: {name: vgg_huge}", ["unknown model 'vgg_huge'"]),
    "unknown model argument": (
        "model: {name: vgg_compact_s, kwargs: {widthz: 3}}",
        ["model.kwargs of 'vgg_compact_s'", "unexpected keyword argument 'widthz'"],
    ),
    "a section that is not a mapping": ("optim: 3", ["optim must be a mapping, got 3"]),
    "augmentation no run can use": (
        "augment: {blur: 2, flip: .nan, rotate: -5, scale: 1.5, downscale_min: 0, erase_area: [0.3, 0.1], mixup: .inf}",
        [
            "7 problem(s)",
            "augment.blur is a probability from 0 to 1, got 2",
            "augment.flip is a probability from 0 to 1, got nan",
            "augment.rotate must be 0 (off) or a positive finite number, got -5",
            "augment.mixup must be 0 (off) or a positive finite number, got inf",
            "augment.scale must be from 0 to below 1 (zooms 1 +- scale), got 1.5",
            "augment.downscale_min must be above 0 and at most 1, got 0",
            "augment.erase_area must be fractions 0 < low <= high <= 1, got [0.3, 0.1]",
        ],
    ),
    "optimiser and schedule values no run can use": (
        "optim: {lr: .inf, momentum: 1.0, weight_decay: -0.1}\nschedule: {epochs: 5, warmup_epochs: 9}\npost_hoc: {tau: .nan}",
        [
            "5 problem(s)",
            "optim.lr must be a positive finite number, got inf",
            "optim.momentum must be from 0 to below 1, got 1.0",
            "optim.weight_decay must be 0 or positive, got -0.1",
            "schedule.warmup_epochs must be from 0 to schedule.epochs, got 9",
            "post_hoc.tau must be a finite number, got nan",
        ],
    ),
    "DBL and decoupling values no run can use": (
        "dbl: {k: -1, prune: 1.0, final_sparsity: -0.5, max_upsample: 0.5}\ndecouple: {epochs: 0, lr: 0, tau: .inf}",
        [
            "7 problem(s)",
            "dbl.k must be 0 (off) or a number of subsets, got -1",
            "dbl.prune must be from 0 to below 1, got 1.0",
            "dbl.final_sparsity must be from 0 to below 1, got -0.5",
            "dbl.max_upsample must be at least 1, got 0.5",
            "decouple.epochs must be at least 1, got 0",
            "decouple.lr must be a positive finite number, got 0",
            "decouple.tau must be a finite number, got inf",
        ],
    ),
    "several problems at once": (
        "schedule: {epochs: x}\noptim: {lr: y}",
        ["2 problem(s)", "schedule.epochs: expected an integer", "optim.lr: expected a number"],
    ),
}


@pytest.mark.parametrize("case", BAD_RECIPES)
def test_recipes_are_checked_whole_before_any_work(tmp_path, case):
    text, messages = BAD_RECIPES[case]
    path = tmp_path / "recipe.yaml"
    path.write_text(text + "\n")
    with pytest.raises(BalancedFerError) as raised:
        load_recipe(path)
    for message in messages:
        assert message in str(raised.value)


def test_a_recipe_must_be_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(BalancedFerError, match="list.yaml: a recipe is a mapping of sections, got list"):
        load_recipe(path)
