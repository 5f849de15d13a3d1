"""Label issues: confident learning on out-of-sample scores, and a recipe that leaves the flagged faces out."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from balanced_fer.data import load_arrays, open_dataset
from balanced_fer.training.distill import VOTES_SOURCE, save_soft_targets
from balanced_fer.training.label_issues import find_label_issues
from balanced_fer.training.recipe import load_recipe
from balanced_fer.training.trainer import load_training_data
from helpers import write_toy_recipe


def scores_that_contradict(labels: np.ndarray, wrong: np.ndarray, classes: int, seed: int = 0) -> torch.Tensor:
    """Log-probabilities that put most mass on each face's label, except on ``wrong`` faces, where
    they put it on the next class."""
    rng = np.random.default_rng(seed)
    believed = np.where(wrong, (labels + 1) % classes, labels)
    logits = rng.normal(0, 0.5, (len(labels), classes))
    logits[np.arange(len(labels)), believed] += 4
    return torch.from_numpy(logits).float().log_softmax(1)


def test_confident_learning_flags_the_faces_whose_scores_contradict_their_label(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 400)
    wrong = rng.random(400) < 0.1
    scores = scores_that_contradict(labels, wrong, 4)
    held_out = save_soft_targets(tmp_path / "h.safetensors", scores, labels, ["t0", "t1"], 1.0, held_out=True)
    flagged = find_label_issues(held_out, labels)
    assert flagged.dtype == bool and flagged.shape == labels.shape
    assert flagged[wrong].mean() > 0.9 and (~flagged[~wrong]).mean() > 0.97

    votes = save_soft_targets(tmp_path / "v.safetensors", scores, labels, [f"{VOTES_SOURCE}: x"], 1.0)
    assert np.array_equal(find_label_issues(votes, labels), flagged)  # crowd votes never saw the labels either

    in_sample = save_soft_targets(tmp_path / "s.safetensors", scores, labels, ["default"], 1.0)
    with pytest.raises(Exception, match="scored faces they trained on"):
        find_label_issues(in_sample, labels)
    with pytest.raises(Exception, match="are not this training split's"):
        find_label_issues(held_out, labels[::-1])


def test_a_recipe_leaves_the_flagged_faces_out_of_training(tmp_path, monkeypatch):
    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))
    recipe_path = write_toy_recipe(tmp_path, "toy", {"happy": 40, "sad": 24, "fear": 12})
    labels = load_arrays(open_dataset(tmp_path / "faces"), "train", 24, 1, progress=False).labels
    wrong = np.zeros(len(labels), bool)
    wrong[np.flatnonzero(labels == 0)[:4]] = wrong[np.flatnonzero(labels == 2)[:2]] = True
    targets = tmp_path / "held_out.safetensors"
    save_soft_targets(targets, scores_that_contradict(labels, wrong, 3), labels, ["t0", "t1"], 1.0, held_out=True)

    data = load_training_data(load_recipe(recipe_path, [f"data.drop_label_issues={targets}"]), progress=False)
    flagged = find_label_issues(targets, labels)
    assert flagged.any() and np.array_equal(data.train_index, np.flatnonzero(~flagged))
    everything = load_training_data(load_recipe(recipe_path), progress=False)
    assert len(everything.train_index) == len(labels)
