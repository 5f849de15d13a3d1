"""Knowledge distillation: the loss, soft-target files, and a student trained from a teacher."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from balanced_fer.data import load_arrays, open_dataset
from balanced_fer.models import load_checkpoint
from balanced_fer.training.distill import (
    VOTES_SOURCE,
    decoupled_distillation_loss,
    distillation_loss,
    load_soft_targets,
    save_soft_targets,
    soft_targets_sources,
    soften,
)
from helpers import random_checkpoint, run_cli, write_toy_recipe


def test_the_loss_is_zero_when_the_student_matches_and_pulls_towards_the_teacher():
    teacher = torch.tensor([[2.0, 0.0, -1.0]])
    assert distillation_loss(teacher, soften(teacher, 4.0), 4.0).abs() < 1e-6
    student = torch.zeros(1, 3, requires_grad=True)
    loss = distillation_loss(student, soften(teacher, 4.0), 4.0)
    loss.backward()
    assert loss > 0 and student.grad[0, 0] < 0 < student.grad[0, 2]  # raise class 0, lower class 2


def test_decoupled_kd_is_plain_kd_when_its_other_classes_weigh_what_the_teacher_leaves_them():
    torch.manual_seed(0)
    student, teacher, labels = torch.randn(6, 7), torch.randn(6, 7), torch.randint(0, 7, (6,))
    taught = soften(teacher, 4.0)
    for i in range(6):  # KD = TCKD + (1 - p_label) NCKD, face by face
        rest = float(1 - taught[i, labels[i]])
        plain = distillation_loss(student[i : i + 1], taught[i : i + 1], 4.0)
        decoupled = decoupled_distillation_loss(student[i : i + 1], taught[i : i + 1], labels[i : i + 1], 4.0, rest)
        assert decoupled == pytest.approx(float(plain), abs=1e-5)  # fp32 rounding
    assert decoupled_distillation_loss(teacher, taught, labels, 4.0, 8.0).abs() < 1e-4  # x T^2 x 8 of fp32 rounding
    logits = student.clone().requires_grad_(True)
    decoupled_distillation_loss(logits, taught, labels, 4.0, 8.0).backward()
    heavier = student.clone().requires_grad_(True)
    decoupled_distillation_loss(heavier, taught, labels, 4.0, 16.0).backward()
    assert logits.grad.isfinite().all() and not torch.allclose(logits.grad, heavier.grad)


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


def test_live_teachers_score_the_batch_the_student_sees_in_its_class_order(tmp_path):
    from balanced_fer.labels import SEVEN_CLASSES
    from balanced_fer.models import Preprocessing, load_model
    from balanced_fer.training.distill import LiveTeachers

    path = random_checkpoint(tmp_path / "teacher.safetensors")
    classes = list(reversed(SEVEN_CLASSES))
    teachers = LiveTeachers([path], classes, Preprocessing(size=48, input_size=44), tta="none")
    x = torch.randn(5, 1, 44, 44)
    model, _ = load_model(path)
    expected = torch.log_softmax(model(x), 1)[:, [SEVEN_CLASSES.index(c) for c in classes]]
    assert torch.allclose(teachers(x), expected, atol=1e-5)
    flipped = LiveTeachers([path], classes, Preprocessing(size=48, input_size=44), tta="flip")
    mirrored = torch.log_softmax((model(x) + model(x.flip(3))) / 2, 1)[:, [SEVEN_CLASSES.index(c) for c in classes]]
    assert torch.allclose(flipped(x), mirrored, atol=1e-5)
    wider = random_checkpoint(tmp_path / "wider.safetensors", size=64)  # takes 60 px faces, not the student's 44
    other = LiveTeachers([wider], classes, Preprocessing(size=48, input_size=44), tta="none")
    model, _ = load_model(wider)
    resized = torch.nn.functional.interpolate(x, size=(60, 60), mode="bilinear", align_corners=False)
    expected = torch.log_softmax(model(resized), 1)[:, [SEVEN_CLASSES.index(c) for c in classes]]
    assert torch.allclose(other(x), expected, atol=1e-5)


def test_a_batch_is_remade_for_a_teacher_with_other_preprocessing():
    from balanced_fer.models import Preprocessing
    from balanced_fer.training.distill import to_input_of

    student = Preprocessing(size=48, input_size=44)
    grey = torch.full((2, 1, 44, 44), 0.8)  # (x / 255 - 0.5) / 0.25 = 0.8: x / 255 = 0.7
    assert to_input_of(grey, student, student) is grey
    colour = to_input_of(grey, student, Preprocessing(size=112, input_size=100, channels=3, mean=0.4, std=0.2))
    assert colour.shape == (2, 3, 100, 100) and torch.allclose(colour, torch.tensor(1.5))  # (0.7 - 0.4) / 0.2
    back = to_input_of(colour, Preprocessing(size=112, input_size=100, channels=3, mean=0.4, std=0.2), student)
    assert back.shape == grey.shape and torch.allclose(back, grey, atol=1e-5)


def test_teachers_score_the_views_a_student_will_see_and_the_file_says_which(toy, tmp_path, monkeypatch):
    from balanced_fer.data.augment import augment_batch, to_float, view_draws
    from balanced_fer.training import load_recipe
    from balanced_fer.training.distill import (
        LiveTeachers,
        TargetViews,
        soft_targets_views,
        view_log_probs,
    )

    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))
    recipe = load_recipe(toy / "toy.yaml", [])
    teacher = random_checkpoint(tmp_path / "teacher.safetensors", size=24)
    views = TargetViews.of_recipe(recipe, epochs=3, seed=5)
    assert views.epochs == 3 and views.preprocessing == recipe.data.preprocessing
    dataset = open_dataset(str(toy / "faces"))
    scores, labels, prior_weight = view_log_probs([teacher], dataset, "train", views, progress=False, batch_size=16)
    assert scores.shape == (72, 3, 3) and prior_weight == 1.0
    arrays = load_arrays(dataset, "train", 24, 1, progress=False)
    faces = to_float(torch.from_numpy(np.array(arrays.images)), 0.5, 0.25)
    live = LiveTeachers([teacher], dataset.class_names, views.preprocessing, tta="none")
    second = live(augment_batch(faces, 20, recipe.augment, view_draws(5, 1, 72)))  # all faces in one batch
    assert torch.allclose(scores[:, 1], second, atol=1e-5)
    assert not torch.equal(scores[:, 0], scores[:, 1])  # each epoch its own views (a random teacher: small changes)
    path = save_soft_targets(tmp_path / "views.safetensors", scores, labels, [str(teacher)], prior_weight, views=views)
    assert soft_targets_views(path) == views and load_soft_targets(path, labels)[0].shape == (72, 3, 3)
    assert views.mismatch(recipe.data.preprocessing, recipe.augment) is None
    assert "augment.rotate is 3" in views.mismatch(recipe.data.preprocessing, replace(recipe.augment, rotate=3))
    assert "views for input" in views.mismatch(replace(recipe.data.preprocessing, input_size=18), recipe.augment)
    plain = save_soft_targets(tmp_path / "plain.safetensors", scores[:, 0], labels, [str(teacher)], prior_weight)
    assert soft_targets_views(plain) is None


def test_a_student_trains_on_the_views_its_teachers_scored(toy, tmp_path, capsys, monkeypatch):
    from balanced_fer.data.augment import view_draws
    from balanced_fer.training import trainer

    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))
    train = ["train", str(toy / "toy.yaml"), "--no-progress"]
    teacher = random_checkpoint(tmp_path / "teacher.safetensors", size=24)
    targets = tmp_path / "views.safetensors"
    score = ["soft-targets", str(toy / "faces"), "--teacher", str(teacher), "--views", str(toy / "toy.yaml")]
    code, out, err = run_cli([*score, "--epochs", "1", "--tta", "none", "--out", str(targets), "--no-progress"], capsys)
    assert code == 0 and "72 faces x 3 classes from 1 teacher(s) on 1 epochs of" in out, err
    seen = []
    real = trainer.augment_batch
    monkeypatch.setattr(
        trainer, "augment_batch", lambda x, size, cfg, draws: seen.append(draws) or real(x, size, cfg, draws)
    )
    student = ["--set", f"distill.targets={targets}", "--set", "augment.mixup=0.2"]
    assert run_cli([*train, "--out", str(tmp_path / "student"), *student], capsys)[0] == 0
    table = view_draws(0, 0, 72)  # two epochs on one epoch of views: the second repeats the first
    assert len(seen) == 2 * (72 // 16) and all((draws[:, None] == table).all(-1).any(1).all() for draws in seen)
    assert len({tuple(draws[:, 0].tolist()) for draws in seen[: len(seen) // 2]}) == len(seen) // 2
    code, _, err = run_cli([*train, "--out", str(tmp_path / "other"), *student, "--set", "augment.rotate=3"], capsys)
    assert code == 2 and f"{targets}: not views this recipe makes: augment.rotate is 3 here, 10" in err
    code, _, err = run_cli([*score, "--held-out", "--out", str(targets)], capsys)
    assert code == 2 and "--views is for teachers that score every face: not with --votes or --held-out" in err


def test_a_student_trains_with_live_teachers_and_the_recipe_says_which(toy, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))
    train = ["train", str(toy / "toy.yaml"), "--no-progress"]
    assert run_cli([*train, "--out", str(tmp_path / "teacher")], capsys)[0] == 0
    teacher = tmp_path / "teacher" / "final.safetensors"
    live = ["--set", f"distill.teachers=[{teacher}]", "--set", "distill.live=true", "--set", "augment.mixup=0.2"]
    assert run_cli([*train, "--out", str(tmp_path / "student"), *live], capsys)[0] == 0
    _, description = load_checkpoint(tmp_path / "student" / "final.safetensors")
    assert description.recipe["distill"]["live"] is True
    assert description.trained_prior_weight == pytest.approx(1.0)  # CE labels and a CE teacher
    code, _, err = run_cli([*train, "--out", str(tmp_path / "none"), "--set", "distill.live=true"], capsys)
    assert code == 2 and "distill.live needs distill.teachers" in err
    decoupled, unmixed = ["--set", "distill.loss=dkd", "--set", "distill.warmup_epochs=1"], live[:-2]
    code, _, err = run_cli([*train, "--out", str(tmp_path / "mixed"), *live, *decoupled], capsys)
    assert code == 2 and "does not combine with augment.mixup" in err
    assert run_cli([*train, "--out", str(tmp_path / "dkd"), *unmixed, *decoupled], capsys)[0] == 0
    _, description = load_checkpoint(tmp_path / "dkd" / "final.safetensors")
    assert description.recipe["distill"]["loss"] == "dkd" and description.recipe["distill"]["warmup_epochs"] == 1.0
    code, _, err = run_cli([*train, "--out", str(tmp_path / "bad"), *unmixed, "--set", "distill.loss=mse"], capsys)
    assert code == 2 and "distill.loss must be one of kl, dkd" in err


def test_the_fast_tiers_control_is_its_recipe_without_distillation(shared_datasets, cache_dir):
    from balanced_fer.training.recipe import load_recipe
    from seed_study import STUDIES

    rows = STUDIES["fast"].rows
    (recipe, sets), (control_recipe, control_sets) = (
        rows["fast tier (distilled)"],
        rows["fast tier without distillation"],
    )
    student, control = load_recipe(recipe, sets).to_dict(), load_recipe(control_recipe, control_sets).to_dict()
    distill, without = student.pop("distill"), control.pop("distill")
    assert distill["alpha"] > 0 and distill["targets"] and not without["targets"] and not without["teachers"]
    assert student.pop("name") == "fer2013_fast" and control.pop("name") != "fer2013_fast"
    assert student == control
    # the committed teacher scores belong to FER2013's training faces, in order
    labels = load_arrays(open_dataset(shared_datasets / "fer2013"), "train", 48, 1, cache_dir=cache_dir).labels
    log_probs, _ = load_soft_targets(Path(__file__).resolve().parents[2] / distill["targets"], labels)
    assert log_probs.shape == (len(labels), 7)
    assert (log_probs.argmax(1).numpy() == labels).mean() > 0.8  # a trained teacher, not noise
    votes = load_recipe(*rows["fast tier, FER+ crowd votes as targets"]).distill
    vote_targets, prior_weight = load_soft_targets(Path(__file__).resolve().parents[2] / votes.targets, labels)
    assert vote_targets.shape == (len(labels), 7) and prior_weight == 1.0


def test_the_fast_tiers_reshaped_rows_change_only_the_networks_shape_and_the_face_size():
    from balanced_fer.models import create_model
    from balanced_fer.training.recipe import load_recipe
    from seed_study import RESHAPED_ROWS, STUDIES

    rows = STUDIES["fast"].rows
    reference = load_recipe(*rows["fast tier, three ResNet-18 teachers"]).to_dict()
    assert len(RESHAPED_ROWS) == 6
    for name in RESHAPED_ROWS:
        recipe = load_recipe(*rows[name])
        settings = recipe.to_dict()
        changed = {key for key, value in settings.items() if value != reference[key]}
        assert {"name", "model"} <= changed <= {"name", "model", "data"}, name
        assert settings["data"] | {"size": 48, "input_size": 44} == reference["data"]
        assert recipe.data.input_size / recipe.data.size == pytest.approx(44 / 48, abs=0.01)  # the same framing
        model = create_model(recipe.model.name, 7, 1, **recipe.model.kwargs)
        assert model(torch.zeros(2, 1, recipe.data.input_size, recipe.data.input_size)).shape == (2, 7)


def test_crowd_votes_become_soft_targets_for_the_same_faces_stored_otherwise(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    classes = ("happy", "sad", "surprise")
    faces = [cv2.resize(rng.integers(0, 256, (12, 12), dtype=np.uint8), (48, 48)) for _ in range(9)]
    for i, face in enumerate(faces):  # the FER2013 copy: JPEG in class folders
        folder = tmp_path / "fer2013" / "train" / classes[i % 3]
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"Training_{i}.jpg"), face)
    votes = {  # neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, not-a-face
        0: [0, 6, 4, 0, 0, 0, 0, 0, 0, 0],  # happy in FER2013, 60% happiness / 40% surprise for the crowd
        1: [0, 0, 0, 10, 0, 0, 0, 0, 0, 0],  # sad in FER2013 and for the crowd
        4: [0, 0, 0, 0, 0, 0, 0, 0, 10, 0],  # unknown for everyone: no usable votes
    }
    ferplus = tmp_path / "ferplus" / "FER2013Train"
    ferplus.mkdir(parents=True)
    rows = []
    for k, i in enumerate(sorted(votes, reverse=True)):  # another order, PNG; faces 2, 3, 5-8 are missing
        cv2.imwrite(str(ferplus / f"fer{k:07d}.png"), faces[i])
        rows.append(f'fer{k:07d}.png,"(0, 0, 48, 48)",' + ",".join(str(v) for v in votes[i]))
    (ferplus / "label.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "votes.safetensors"
    command = [
        "soft-targets",
        str(tmp_path / "fer2013"),
        "--votes",
        f"ferplus:{tmp_path / 'ferplus'}",
        "--out",
        str(out),
    ]
    code, printed, err = run_cli([*command, "--no-progress"], capsys)
    assert code == 0 and "crowd votes for 2 of them" in printed, err
    dataset = open_dataset(tmp_path / "fer2013")
    arrays = load_arrays(dataset, "train", 48, 1, progress=False)
    log_probs, prior_weight = load_soft_targets(out, arrays.labels)
    targets = log_probs.exp().numpy()
    by_source = {Path(s).stem: row for s, row in zip(arrays.sources, targets)}
    names = list(dataset.class_names)
    happy = by_source["Training_0"]
    assert happy[names.index("happiness")] == pytest.approx(0.6, abs=0.01)
    assert happy[names.index("surprise")] == pytest.approx(0.4, abs=0.01)
    for unvoted in ("Training_2", "Training_4"):  # missing from FER+, or voted unknown: its own label
        label = arrays.labels[[Path(s).stem for s in arrays.sources].index(unvoted)]
        assert by_source[unvoted][label] > 0.99
    assert prior_weight == 1.0 and soft_targets_sources(out)[0].startswith(f"{VOTES_SOURCE}: ferplus:")
    code, _, err = run_cli([*command[:2], "--teacher", "x.safetensors", *command[2:]], capsys)
    assert code == 2 and "not allowed with argument" in err


def test_the_repvgg_and_live_teacher_rows_change_only_what_they_name():
    from balanced_fer.training.recipe import load_recipe
    from seed_study import (
        DEFAULT_FILE,
        LIVE,
        LIVE_DKD,
        LIVE_FLIP,
        LIVE_FP32,
        LIVE_GRID,
        LIVE_KL,
        LIVE_MIXUP,
        LIVE_NARROWED,
        LIVE_NO_LABELS,
        LIVE_SQRT,
        LIVE_VIEWS,
        LIVE_VIEWS_FILE,
        REPVGG,
        STUDIES,
    )

    rows = STUDIES["fast"].rows

    def changes(row: str, reference: str) -> dict:
        settings, base = load_recipe(*rows[row]).to_dict(), load_recipe(*rows[reference]).to_dict()
        return {key: value for key, value in settings.items() if value != base[key] and key != "name"}

    repvgg = changes(REPVGG, "fast tier, three ResNet-18 teachers")
    assert set(repvgg) == {"model"} and repvgg["model"]["kwargs"] == {"repvgg": True}
    live = changes(LIVE, "fast tier (distilled)")
    assert set(live) == {"distill"} and live["distill"]["live"] and live["distill"]["teachers"] == ["default"]
    assert live["distill"]["targets"] is None
    live_recipe = load_recipe(*rows[LIVE]).to_dict()
    assert changes(LIVE_MIXUP, LIVE) == {"augment": live_recipe["augment"] | {"mixup": 0.2}}
    assert changes(LIVE_FLIP, LIVE) == {"distill": live_recipe["distill"] | {"tta": "flip"}}
    assert changes(LIVE_KL, LIVE) == {"distill": live_recipe["distill"] | {"alpha": 1.0, "temperature": 1.0}}
    assert changes(LIVE_GRID, LIVE) == {"model": live_recipe["model"] | {"kwargs": {"pool_grid": 5}}}
    assert changes(LIVE_SQRT, LIVE) == {"sampler": "square_root"}
    assert changes(LIVE_NARROWED, LIVE) == {"model": live_recipe["model"] | {"pretrained": DEFAULT_FILE}}
    views = {"teachers": [], "live": False, "targets": LIVE_VIEWS_FILE}
    assert changes(LIVE_VIEWS, LIVE) == {"distill": live_recipe["distill"] | views}  # tta none, as the file's scores
    decoupled = {"loss": "dkd", "alpha": 0.5, "nckd_weight": 8.0, "warmup_epochs": 2.5}
    assert changes(LIVE_DKD, LIVE_FP32) == {"distill": live_recipe["distill"] | decoupled}
    assert changes(LIVE_NO_LABELS, LIVE_FP32) == {"distill": live_recipe["distill"] | {"alpha": 1.0}}


def test_held_out_teachers_score_only_the_faces_they_never_trained_on(toy, tmp_path, capsys, monkeypatch):
    from balanced_fer.data.folds import assign_folds
    from balanced_fer.training.distill import teacher_log_probs

    monkeypatch.setenv("BFER_CACHE_DIR", str(tmp_path / "cache"))
    train = [
        "train",
        str(toy / "toy.yaml"),
        "--no-progress",
        "--set",
        "data.folds=2",
        "--set",
        "schedule.epochs=8",
        "--set",
        "eval.select_metric=last",
    ]
    teachers = []
    for fold in (0, 1):
        out = tmp_path / f"fold{fold}"
        assert run_cli([*train, "--set", f"data.held_out_fold={fold}", "--out", str(out)], capsys)[0] == 0
        teachers.append(out / "final.safetensors")
    dataset = open_dataset(toy / "faces")
    labels = load_arrays(dataset, "train", 24, 1).labels
    folds = assign_folds(labels, 2)
    _, description = load_checkpoint(teachers[0])
    assert description.train_counts == tuple(np.bincount(labels[folds == 1], minlength=3))  # fold 0 left out

    targets = tmp_path / "held_out.safetensors"
    command = ["soft-targets", str(toy / "faces"), "--teacher", str(teachers[0]), "--teacher", str(teachers[1])]
    code, out, err = run_cli([*command, "--held-out", "--tta", "none", "--out", str(targets), "--no-progress"], capsys)
    assert code == 0 and "each on the faces it held out" in out, err
    held_out, _ = load_soft_targets(targets, labels)
    own = [teacher_log_probs([teacher], dataset, "train", tta="none", progress=False)[0] for teacher in teachers]
    assert (own[0] - own[1]).abs().max() > 0.05  # the two teachers can be told apart
    for fold in (0, 1):
        assert torch.allclose(held_out[folds == fold], own[fold][folds == fold], atol=2e-3)  # fp16 file

    with pytest.raises(Exception, match="faces are in no teacher's held-out fold"):
        teacher_log_probs(teachers[:1], dataset, "train", held_out=True, progress=False)
    assert run_cli(["train", str(toy / "toy.yaml"), "--no-progress", "--out", str(tmp_path / "all")], capsys)[0] == 0
    code, _, err = run_cli(
        [
            "soft-targets",
            str(toy / "faces"),
            "--teacher",
            str(tmp_path / "all" / "final.safetensors"),
            "--held-out",
            "--out",
            str(targets),
            "--no-progress",
        ],
        capsys,
    )
    assert code == 2 and "held out no fold of the 'train' split" in err
    code, _, err = run_cli(
        ["soft-targets", str(toy / "faces"), "--votes", "ferplus:x", "--held-out", "--out", str(targets)], capsys
    )
    assert code == 2 and "--held-out is for --teacher" in err
