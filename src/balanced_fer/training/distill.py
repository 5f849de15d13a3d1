"""Knowledge distillation: a student learns from its teachers' scores on the training faces as well as
from the labels (Hinton et al. 2015).

The teachers' logits are computed once, before training, on the un-augmented training faces at each
teacher's own preprocessing and with its test-time augmentation (flip by default), so a student
without TTA inherits what TTA gave the teachers. Several teachers are ensembled by averaging their
log-probabilities. The targets can be written to a file (``bfer soft-targets``, fp16, about 0.4 MB for
FER2013's 28,709 faces and 7 classes) and committed, so a student retrains without the teachers.
Or the teachers run during training (:class:`LiveTeachers`) and score each augmented batch as the
student sees it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..data import FaceDataset, load_arrays
from ..data.folds import assign_folds
from ..data.matching import match_faces
from ..errors import BalancedFerError
from ..models import ModelDescription, Preprocessing, batch_logits, load_model, predict_logits
from ..models.description import TTA_MODES

TARGETS_KEY = "balanced_fer_soft_targets"
VOTES_SOURCE = "crowd votes"  # how a targets file made from votes names its source


def load_teachers(
    teachers: Sequence[str | Path], class_names: Sequence[str], device: torch.device | str
) -> list[tuple[nn.Module, ModelDescription, list[int]]]:
    """Each teacher checkpoint ready to score (eval mode, training-only branches folded), its
    description, and the columns of its logits in ``class_names``' order; no teacher, or one that lacks
    a class, is an error naming it."""
    if not teachers:
        raise BalancedFerError("distillation needs at least one teacher checkpoint")
    loaded = []
    for teacher in teachers:
        model, description = load_model(teacher, device, for_inference=True)
        missing = [c for c in class_names if c not in description.class_names]
        if missing:
            raise BalancedFerError(f"{teacher}: the teacher does not know the classes {missing}")
        loaded.append((model, description, [description.class_names.index(c) for c in class_names]))
    return loaded


def teacher_log_probs(
    teachers: Sequence[str | Path],
    dataset: FaceDataset,
    split: str,
    *,
    tta: str = "flip",
    held_out: bool = False,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> tuple[torch.Tensor, np.ndarray, float]:
    """(N, K) log-probabilities the teachers' ensemble gives ``split``'s faces (in the dataset's class
    order), the labels of those faces, and the mean of the teachers' ``trained_prior_weight``.

    With ``held_out`` each teacher scores only the faces its recipe left out of training
    (``data.held_out_fold``), so every face's target comes from teachers that never saw it."""
    if tta not in TTA_MODES:
        raise BalancedFerError(f"the teachers' test-time augmentation must be {' or '.join(TTA_MODES)}, got {tta!r}")
    outputs, prior_weights, folds, labels = [], [], [], None
    for teacher, (model, description, columns) in zip(teachers, load_teachers(teachers, dataset.class_names, device)):
        if held_out:
            folds.append(held_out_fold(teacher, description.recipe, split))
        pre = description.preprocessing
        arrays = load_arrays(dataset, split, pre.size, pre.channels, progress=progress)
        if labels is None:
            labels = arrays.labels
        check_labels(arrays.labels, labels, f"{teacher}'s {pre.size} px faces")
        logits = predict_logits(model, arrays.images, pre, device=device, tta=tta)
        outputs.append(F.log_softmax(logits[:, columns], dim=1))
        prior_weights.append(description.trained_prior_weight)
    scored = torch.ones(len(teachers), len(labels))
    if held_out:
        scored = torch.stack([torch.from_numpy(assign_folds(labels, count) == fold) for fold, count in folds]).float()
        unscored = int((scored.sum(0) == 0).sum())
        if unscored:
            raise BalancedFerError(
                f"{unscored:,} of the {len(labels):,} faces are in no teacher's held-out fold: "
                "name a teacher for every fold"
            )
    ensemble = (torch.stack(outputs) * scored[..., None]).sum(0) / scored.sum(0)[:, None]
    return ensemble.log_softmax(1), labels, float(np.mean(prior_weights))


class LiveTeachers:
    """Teachers that score every augmented (and mixed) batch as the student sees it, instead of the
    un-augmented faces once: "consistent teaching" (Beyer et al., CVPR 2022, "Knowledge distillation: a
    good teacher is patient and consistent"), where the student learns the teachers' function on the
    very views it trains on. Each step costs the teachers' forward passes; they must take the student's
    input, so their preprocessing must be the student's."""

    def __init__(
        self,
        teachers: Sequence[str | Path],
        class_names: Sequence[str],
        preprocessing: Preprocessing,
        *,
        tta: str = "flip",
        device: torch.device | str = "cpu",
    ):
        self.tta = tta
        self.models, self.columns, prior_weights = [], [], []
        for teacher, (model, description, columns) in zip(teachers, load_teachers(teachers, class_names, device)):
            if description.preprocessing != preprocessing:
                raise BalancedFerError(
                    f"{teacher}: a live teacher must take the student's input ({preprocessing}), "
                    f"not {description.preprocessing}; score the faces once instead (distill.live false)"
                )
            self.models.append(model)
            self.columns.append(columns)
            prior_weights.append(description.trained_prior_weight)
        self.prior_weight = float(np.mean(prior_weights))

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The ensemble's (N, K) log-probabilities for a batch of the student's input."""
        outputs = [
            F.log_softmax(batch_logits(model, x, self.tta)[:, columns], dim=1)
            for model, columns in zip(self.models, self.columns)
        ]
        return torch.stack(outputs).mean(0).log_softmax(1)


def held_out_fold(teacher: str | Path, recipe: dict | None, split: str) -> tuple[int, int]:
    """The fold of ``split`` a teacher's recipe left out of training, and how many folds it dealt."""
    data = (recipe or {}).get("data") or {}
    if data.get("held_out_fold") is None or data.get("train_split") != split:
        raise BalancedFerError(
            f"{teacher}: it held out no fold of the {split!r} split (data.held_out_fold in its recipe), "
            "so it would score faces it trained on"
        )
    return int(data["held_out_fold"]), int(data["folds"])


def vote_log_probs(
    dataset: FaceDataset, split: str, votes: FaceDataset, votes_split: str = "train", *, progress: bool = True
) -> tuple[torch.Tensor, np.ndarray, int]:
    """(N, K) log-probabilities of crowd votes for ``split``'s faces (in the dataset's class order),
    the labels of those faces, and how many of them got votes. ``votes`` is a dataset whose faces carry
    vote distributions (FER+ read with ``label_mode="probability"``); its faces are found among ours
    by their pixels (:func:`~balanced_fer.data.matching.match_faces`), and a face without votes keeps
    its own label as its target. Every target keeps a 0.1% floor, so no class is impossible."""
    theirs = load_arrays(votes, votes_split, 48, 1, progress=progress)
    if theirs.soft_labels is None:
        raise BalancedFerError(
            f"{votes.root}: its {votes_split} faces carry no vote distributions (FER+ with label_mode probability)"
        )
    missing = [c for c in dataset.class_names if c not in votes.class_names]
    if missing:
        raise BalancedFerError(f"{votes.root}: no votes for the classes {missing}")
    ours = load_arrays(dataset, split, 48, 1, progress=progress)
    soft = np.asarray(theirs.soft_labels)[:, [votes.class_names.index(c) for c in dataset.class_names]]
    found = match_faces(np.asarray(ours.images), np.asarray(theirs.images))
    targets = np.eye(len(dataset.class_names))[ours.labels]
    mass = np.where(found >= 0, soft[found].sum(1), 0.0)
    voted = mass > 0
    targets[voted] = soft[found[voted]] / mass[voted, None]
    floor = 1e-3
    targets = targets * (1 - floor * targets.shape[1]) + floor
    return torch.log(torch.from_numpy(targets).float()), ours.labels, int(voted.sum())


def check_labels(scored: np.ndarray, expected: np.ndarray, source: str) -> None:
    """Soft targets belong to one split's faces in one order: anything else is an error naming ``source``."""
    if len(scored) != len(expected) or not np.array_equal(scored, expected):
        raise BalancedFerError(
            f"{source}: its {len(scored):,} faces are not this training split's {len(expected):,} (other data or order)"
        )


def save_soft_targets(
    path: str | Path,
    log_probs: torch.Tensor,
    labels: np.ndarray,
    teachers: Sequence[str],
    prior_weight: float,
    held_out: bool = False,
) -> Path:
    """Write soft targets (fp16) with the labels they belong to, so a mismatch is caught on reading."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"teachers": [str(t) for t in teachers], "trained_prior_weight": prior_weight, "held_out": held_out}
    tensors = {"log_probs": log_probs.half().contiguous(), "labels": torch.as_tensor(labels, dtype=torch.int16)}
    try:
        save_file(tensors, str(path), metadata={TARGETS_KEY: json.dumps(meta)})
    except SafetensorError as err:  # a full disk, a folder taken away meanwhile
        raise BalancedFerError(f"{path}: could not write the soft targets ({err})") from None
    return path


def _read_soft_targets(path: str | Path, tensor_names: Sequence[str]) -> tuple[dict, dict[str, torch.Tensor]]:
    """A soft-targets file's metadata and the named tensors; anything else is an error naming it."""
    try:
        with safe_open(str(path), "pt") as handle:
            meta = json.loads((handle.metadata() or {})[TARGETS_KEY])
            return meta, {name: handle.get_tensor(name) for name in tensor_names}
    except (OSError, SafetensorError, KeyError, ValueError) as err:
        raise BalancedFerError(f"{path}: not a soft-targets file written by bfer soft-targets ({err})") from None


def load_soft_targets(path: str | Path, labels: np.ndarray) -> tuple[torch.Tensor, float]:
    """Soft targets from a file, checked against the training labels they must belong to."""
    meta, tensors = _read_soft_targets(path, ("log_probs", "labels"))
    check_labels(tensors["labels"].numpy(), labels, str(path))
    return tensors["log_probs"].float(), float(meta["trained_prior_weight"])


def soft_targets_sources(path: str | Path) -> list[str]:
    """Where a soft-targets file's scores came from: teacher checkpoints, or a ``VOTES_SOURCE`` line."""
    return _read_soft_targets(path, ())[0]["teachers"]


def soft_targets_out_of_sample(path: str | Path) -> bool:
    """Whether a soft-targets file's scores never saw the labels: held-out teachers, or crowd votes."""
    meta = _read_soft_targets(path, ())[0]
    return bool(meta.get("held_out")) or all(source.startswith(VOTES_SOURCE) for source in meta["teachers"])


def distillation_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL(teacher || student) at ``temperature``, times T^2 so that its gradients keep their scale."""
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    return F.kl_div(log_student, teacher_probs, reduction="batchmean") * temperature**2


def soften(log_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """The teachers' probabilities at ``temperature``."""
    return F.softmax(log_probs / temperature, dim=1)
