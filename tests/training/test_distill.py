"""Knowledge distillation: the loss, soft-target files, and a student trained from a teacher."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from balanced_fer.models import load_checkpoint
from balanced_fer.training.distill import distillation_loss, load_soft_targets, save_soft_targets, soften
from helpers import run_cli, write_toy_recipe


def test_the_loss_is_zero_when_the_student_matches_and_pulls_towards_the_teacher():
    teacher = torch.tensor([[2.0, 0.0, -1.0]])
    assert distillation_loss(teacher, soften(teacher, 4.0), 4.0).abs() < 1e-6
    student = torch.zeros(1, 3, requires_grad=True)
    loss = distillation_loss(student, soften(teacher, 4.0), 4.0)
    loss.backward()
    assert loss > 0 and student.grad[0, 0] < 0 < student.grad[0, 2]  # raise class 0, lower class 2


def test_a_soft_targets_file_must_match_the_training_labels(tmp_path):
    labels = np.array([0, 1, 2, 1])
    path = save_soft_targets(tmp_path / "t.safetensors", torch.randn(4, 3).log_softmax(1), labels, ["a"], 1.0)
    log_probs, prior_weight = load_soft_targets(path, labels)
    assert log_probs.shape == (4, 3) and log_probs.dtype == torch.float32 and prior_weight == 1.0
    with pytest.raises(Exception, match="are not this training split's"):
        load_soft_targets(path, np.array([0, 1, 2, 2]))
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(Exception, match="not a soft-targets file"):
        load_soft_targets(tmp_path / "junk.safetensors", labels)


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("distill")
    counts = {"happy": 40, "sad": 24, "fear": 8}
    write_toy_recipe(root, "toy", counts, schedule={"epochs": 2, "warmup_epochs": 0.5})
    return root


def test_a_student_learns_from_a_teacher_or_from_its_soft_targets(toy, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))
    train = ["train", str(toy / "toy.yaml"), "--no-progress"]
    assert run_cli([*train, "--out", str(tmp_path / "teacher")], capsys)[0] == 0
    teacher = tmp_path / "teacher" / "final.safetensors"
    targets = tmp_path / "targets.safetensors"
    code, out, err = run_cli(
        ["soft-targets", str(toy / "faces"), "--teacher", str(teacher), "--out", str(targets), "--no-progress"], capsys
    )
    assert code == 0 and "72 faces x 3 classes from 1 teacher(s)" in out, err
    student = [
        "--set",
        f"distill.targets={targets}",
        "--set",
        "distill.alpha=0.7",
        "--set",
        "loss.name=balanced_softmax",
    ]
    assert run_cli([*train, "--out", str(tmp_path / "student"), *student], capsys)[0] == 0
    _, description = load_checkpoint(tmp_path / "student" / "final.safetensors")
    assert description.recipe["distill"]["targets"] == str(targets)
    assert description.trained_prior_weight == pytest.approx(0.7)  # 0.3 x balanced softmax (0) + 0.7 x CE teacher (1)
    direct = ["--set", f"distill.teachers=[{teacher}]", "--set", "distill.tta=none"]
    assert run_cli([*train, "--out", str(tmp_path / "direct"), *direct], capsys)[0] == 0
    code, _, err = run_cli(
        [*train, "--out", str(tmp_path / "both"), *direct, "--set", f"distill.targets={targets}"], capsys
    )
    assert code == 2 and "name distill.teachers or distill.targets, not both" in err
