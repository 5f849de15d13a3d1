"""DBL: subsets, ownership masks, pruning, the staged pipeline, its export and mid-stage resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from balanced_fer.cli import main
from balanced_fer.dbl import (
    OwnershipMasks,
    cubic_sparsity,
    prunable_weights,
    prune_owned,
)
from balanced_fer.dbl.pipeline import Phase, PhaseHooks
from balanced_fer.imbalance.losses import build_loss
from balanced_fer.imbalance.subsets import auto_divisors, balanced_subsets, subset_overlap
from balanced_fer.models import create_model, load_checkpoint, load_model
from balanced_fer.training.recipe import load_recipe
from helpers import random_checkpoint, write_toy_recipe

DBL = [
    "--set",
    "dbl.k=2",
    "--set",
    "dbl.divisors=null",  # the target reading: a subset of 72 toy faces instead of 26
    "--set",
    "dbl.task_epochs=2",
    "--set",
    "dbl.retrain_epochs=1",
    "--set",
    "dbl.final_epochs=2",
    "--set",
    "dbl.final_sparsity=0.3",
    "--set",
    "dbl.prune=0.5",
]


def test_subsets_keep_the_tail_and_draw_the_head():
    labels = np.repeat([0, 1, 2], [500, 200, 40])
    subsets = balanced_subsets(labels, 3, target="median", max_upsample=3, seed=0)
    for s in subsets:
        assert s.counts == [200, 200, 120] and s.imbalance_ratio == pytest.approx(200 / 120)
        tail = s.indices[labels[s.indices] == 2]
        assert set(tail) == set(range(700, 740))  # every tail image, some repeated
    assert not np.array_equal(subsets[0].indices, subsets[1].indices)
    by_divisor = balanced_subsets(labels, 1, divisors=[5, 2, 1], seed=0)[0]
    assert by_divisor.counts == [100, 100, 40]


def test_auto_divisors_and_overlap():
    affectnet = [74874, 134415, 25459, 14090, 6378, 3803, 24882]  # the authors used 5, 5, 5, 3, 2, 1, 5
    assert auto_divisors(affectnet) == [5, 5, 5, 4, 2, 1, 5]
    labels = np.repeat([0, 1, 2], [500, 200, 40])
    subsets = balanced_subsets(labels, 2, divisors="auto", seed=0)
    assert subsets[0].counts == [100, 40, 40]  # d = 5, 5, 1
    overlap = subset_overlap(subsets)
    expected = (100 * 100 / 500 + 40 * 40 / 200 + 40) / 180  # independent draws of the head, all the tail
    assert np.allclose(np.diag(overlap), 1) and abs(overlap[0, 1] - expected) < 0.1
    with pytest.raises(Exception, match="divisors"):
        balanced_subsets(labels, 2, divisors="even")


def test_the_default_dbl_subsets_of_fer2013_differ(shared_datasets):
    """With the median target, 87% of each subset's faces are in every other; the recipe's divisors
    share about a quarter (independent draws of a fifth of each head class, and all of disgust)."""
    from balanced_fer.data import open_dataset

    recipe = load_recipe("configs/fer2013_dbl.yaml")
    labels = np.array([s.label for s in open_dataset(shared_datasets / "fer2013").split("train").samples])
    subsets = balanced_subsets(labels, recipe.dbl.k, divisors=recipe.dbl.divisors, target=recipe.dbl.target)
    overlap = subset_overlap(subsets)
    assert overlap[~np.eye(recipe.dbl.k, dtype=bool)].max() < 0.30
    assert all(s.imbalance_ratio < 4 for s in subsets)
    near_copies = subset_overlap(balanced_subsets(labels, 3, target="median"))
    assert near_copies[0, 1] > 0.8


@pytest.mark.parametrize("task_heads", ["separate", "shared"])
def test_a_task_starts_from_the_previous_head_only_when_heads_are_shared(tmp_path, task_heads):
    recipe = load_recipe(
        values={"model": {"name": "vgg_compact_s"}, "loss": {"name": "weighted_ce"}},
        overrides=["dbl.k=2", f"dbl.task_heads={task_heads}", "dbl.class_weights=full"],
    )
    task1 = random_checkpoint(tmp_path / "task1.safetensors", classes=["a", "b", "c"])
    previous = load_model(task1)[0]
    model = create_model("vgg_compact_s", num_classes=3)
    trainer = type("FakeTrainer", (), {})()
    trainer.model, trainer.device = model, torch.device("cpu")
    trainer.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    task2 = Phase("task2_train", "train", 2, 1)
    hooks = PhaseHooks(recipe, task2, OwnershipMasks(model), np.arange(30), task1)
    data = type("FakeData", (), {"train_counts": [100, 50, 10], "train_index": np.arange(160)})()
    hooks.prepare_data(data)
    hooks.on_setup(trainer)
    same_head = torch.equal(model.get_classifier().weight, previous.get_classifier().weight)
    assert same_head == (task_heads == "shared")
    name, first = next(iter(prunable_weights(model)))
    assert torch.equal(first, dict(prunable_weights(previous))[name])  # the backbone continues either way
    full = build_loss("weighted_ce", [100, 50, 10])  # the whole set's counts, not the subset's 30 rows
    assert torch.equal(trainer.loss_fn.weight, full.weight)


def test_cubic_schedule():
    assert cubic_sparsity(0.0, 0.0, 0.8) == 0.0 and cubic_sparsity(1.0, 0.0, 0.8) == pytest.approx(0.8)
    assert cubic_sparsity(0.5, 0.0, 0.8) == pytest.approx(0.8 * (1 - 0.5**3))
    assert cubic_sparsity(2.0, 0.0, 0.8) == pytest.approx(0.8)


def test_masks_and_pruning_on_a_model():
    model = create_model("vgg_compact_s", num_classes=3)
    names = [n for n, _ in prunable_weights(model)]
    assert names and not any(n.startswith("head") for n in names)
    masks = OwnershipMasks(model)
    masks.assign_free(1)
    prune_owned(model, masks, {1}, 0.5)
    weights = dict(prunable_weights(model))
    for name, owner in masks.owner.items():
        assert int((owner == 1).sum()) == round(0.5 * owner.numel())
        assert (weights[name][owner == 0] == 0).all()
        kept = weights[name][owner == 1].abs().min()
        assert kept >= 0
    prune_owned(model, masks, {1}, 0.5)  # the same target again prunes nothing more
    assert masks.share(1) == pytest.approx(0.5, abs=0.01)
    masks.assign_free(2)
    assert masks.share(1) + masks.share(2) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dbl")
    counts = {"happy": 48, "sad": 24, "fear": 8}
    write_toy_recipe(root, "toy", counts, loss={"name": "weighted_ce", "kwargs": {"scheme": "dbl"}})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BFER_CACHE_DIR", str(root / "cache"))
        yield root


def train_command(toy: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "balanced_fer.cli",
        "train",
        str(toy / "toy.yaml"),
        "--out",
        str(out),
        "--no-progress",
        *DBL,
    ]


def one_thread() -> dict[str, str]:
    """The environment of the subprocess runs: one thread, so that runs are bit-reproducible."""
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")


@pytest.fixture(scope="module")
def dbl_run(toy) -> Path:
    out = toy / "run"
    proc = subprocess.run(train_command(toy, out), env=one_thread(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def phase_masks(run: Path, phase: str) -> dict[str, torch.Tensor]:
    tensors, _ = load_checkpoint(run / phase / "last.safetensors")
    return {k[len("hooks.owner.") :]: v for k, v in tensors.items() if k.startswith("hooks.owner.")}


def phase_weights(run: Path, phase: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / phase / "final.safetensors")[0]


def test_masks_of_tasks_never_overlap_and_later_tasks_take_only_free_weights(dbl_run):
    after1, after2 = phase_masks(dbl_run, "task1_retrain"), phase_masks(dbl_run, "task2_retrain")
    for name in after1:
        assert set(after2[name].unique().tolist()) <= {0, 1, 2}
        assert ((after2[name] == 2) <= (after1[name] == 0)).all()  # task 2 only took what task 1 released
        assert torch.equal(after2[name] == 1, after1[name] == 1)  # task 1 kept everything it had


def test_earlier_task_weights_are_bit_identical_after_a_later_task(dbl_run):
    owners = phase_masks(dbl_run, "task1_retrain")
    before, after = phase_weights(dbl_run, "task1_retrain"), phase_weights(dbl_run, "task2_retrain")
    for name, owner in owners.items():
        mine = owner == 1
        assert torch.equal(before[name][mine], after[name][mine]), name


def test_each_layer_reaches_its_target_sparsity(dbl_run):
    """Gradual (the default) pruning: each task keeps half of what was free when it began, by the end
    of its training phase already, and retraining keeps it so."""
    for task, before in ((1, None), (2, "task1_retrain")):
        trained, retrained = phase_masks(dbl_run, f"task{task}_train"), phase_masks(dbl_run, f"task{task}_retrain")
        for name, owner in retrained.items():
            free = owner.numel() if before is None else int((phase_masks(dbl_run, before)[name] == 0).sum())
            assert int((trained[name] == task).sum()) == int((owner == task).sum()) == round(0.5 * free), (task, name)
    union_before = phase_masks(dbl_run, "task2_retrain")
    union_after = phase_masks(dbl_run, "final")
    weights = phase_weights(dbl_run, "final")
    for name in union_after:
        owned_before = int((union_before[name] > 0).sum())
        assert int((union_after[name] > 0).sum()) == round(0.7 * owned_before), name
        assert (weights[name][union_after[name] == 0] == 0).all()


def test_final_model_is_a_plain_dense_model_with_one_head(dbl_run, toy):
    model, description = load_model(dbl_run / "final.safetensors")
    plain = create_model("vgg_compact_s", num_classes=3)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in plain.parameters())
    dbl = description.provenance.dbl
    assert dbl["subsets"][0]["counts"] == [24, 24, 24] and len(dbl["phases"]) == 5
    assert json.loads((dbl_run / "summary.json").read_text())["validation"]["accuracy"] > 0
    report = toy / "eval.json"
    assert (
        main(
            ["evaluate", str(dbl_run / "final.safetensors"), str(toy / "faces"), "--json", str(report), "--no-progress"]
        )
        == 0
    )
    assert json.loads(report.read_text())["num_samples"] == 28


def test_resume_mid_stage_ends_with_the_uninterrupted_weights(dbl_run, toy):
    out = toy / "killed"
    command = train_command(toy, out)
    proc = subprocess.Popen(command, env=one_thread(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    target = out / "task2_train" / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and not target.exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "final.safetensors").exists(), "finished before it could be killed"
    assert subprocess.run(command + ["--resume"], env=one_thread(), capture_output=True).returncode == 0
    a, b = load_checkpoint(dbl_run / "final.safetensors")[0], load_checkpoint(out / "final.safetensors")[0]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
