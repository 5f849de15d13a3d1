"""Knowledge distillation: a student learns from its teachers' scores on the training faces as well as
from the labels (Hinton et al. 2015).

The teachers' logits are computed once, before training, on the un-augmented training faces at each
teacher's own preprocessing and with its test-time augmentation (flip by default), so a student
without TTA inherits what TTA gave the teachers. Several teachers are ensembled by averaging their
log-probabilities. The targets can be written to a file (``bfer soft-targets``, fp16, about 0.4 MB for
FER2013's 28,709 faces and 7 classes) and committed, so a student retrains without the teachers.
Or the teachers run during training (:class:`LiveTeachers`) and score each augmented batch as the
student sees it. Or, between the two, they score once the very views the student will see in each
epoch (``bfer soft-targets --views RECIPE``: views fixed by :func:`~balanced_fer.data.augment.view_draws`,
about 12 MB for FER2013 over 30 epochs), so consistent teaching runs without the teachers, for instance
with teachers trained and scored on a GPU and a student trained on a CPU.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn
from tqdm import tqdm

from ..data import FaceDataset, load_arrays
from ..data.augment import AugmentConfig, augment_batch, to_float, view_config, view_draws
from ..data.folds import assign_folds
from ..data.matching import match_faces
from ..errors import BalancedFerError
from ..models import ModelDescription, Preprocessing, batch_logits, load_model, predict_logits
from ..models.description import TTA_MODES
from .recipe import Recipe

log = logging.getLogger(__name__)

TARGETS_KEY = "balanced_fer_soft_targets"
VOTES_SOURCE = "crowd votes"  # how a targets file made from votes names its source


@dataclass(frozen=True)
class TargetViews:
    """Which views of the faces a soft-targets file scored: ``epochs`` epochs of views ``seed``
    (:func:`~balanced_fer.data.augment.view_draws`) made by ``augment`` (its :func:`view_config`) for a
    student with ``preprocessing``. A student trains on them only with the same two."""

    seed: int
    epochs: int
    augment: dict
    preprocessing: Preprocessing

    @classmethod
    def of_recipe(cls, recipe: Recipe, epochs: int | None = None, seed: int | None = None) -> TargetViews:
        """The views ``recipe``'s student sees (in its first ``epochs`` epochs, by default all; views 0
        unless ``seed`` names others)."""
        return cls(seed or 0, epochs or recipe.schedule.epochs, view_config(recipe.augment), recipe.data.preprocessing)

    def to_dict(self) -> dict:
        return {**asdict(self), "preprocessing": asdict(self.preprocessing)}

    @classmethod
    def from_dict(cls, d: dict) -> TargetViews:
        return cls(d["seed"], d["epochs"], d["augment"], Preprocessing(**d["preprocessing"]))

    def mismatch(self, preprocessing: Preprocessing, augment: AugmentConfig) -> str | None:
        """What differs between these views and a student's, or None."""
        if preprocessing != self.preprocessing:
            return f"they are views for input {self.preprocessing}, the student takes {preprocessing}"
        ours = view_config(augment)
        changed = [k for k in sorted(ours.keys() | self.augment.keys()) if ours.get(k) != self.augment.get(k)]
        if changed:
            field = changed[0]
            return f"augment.{field} is {ours.get(field)} here, {self.augment.get(field)} in the views"
        return None


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


def to_input_of(x: torch.Tensor, source: Preprocessing, target: Preprocessing) -> torch.Tensor:
    """A batch made for ``source``'s network re-made for ``target``'s: the same pixels, resized
    (bilinear) to its input size, in its channels (grey repeated, colour averaged) and normalisation."""
    if source == target:
        return x
    x = x * source.std + source.mean
    if x.shape[-1] != target.input_size:
        smaller = target.input_size < x.shape[-1]
        x = F.interpolate(x, size=(target.input_size,) * 2, mode="bilinear", align_corners=False, antialias=smaller)
    if x.shape[1] != target.channels:
        x = x.repeat(1, 3, 1, 1) if target.channels == 3 else x.mean(1, keepdim=True)
    return (x - target.mean) / target.std


class LiveTeachers:
    """Teachers that score every augmented (and mixed) batch as the student sees it, instead of the
    un-augmented faces once: "consistent teaching" (Beyer et al., CVPR 2022, "Knowledge distillation: a
    good teacher is patient and consistent"), where the student learns the teachers' function on the
    very views it trains on. Each step costs the teachers' forward passes. A teacher with other
    preprocessing than the student's gets the student's view at its own input size and channels
    (:func:`to_input_of`)."""

    def __init__(
        self,
        teachers: Sequence[str | Path],
        class_names: Sequence[str],
        preprocessing: Preprocessing,
        *,
        tta: str = "flip",
        device: torch.device | str = "cpu",
    ):
        self.tta, self.preprocessing = tta, preprocessing
        self.models, self.columns, self.inputs, prior_weights = [], [], [], []
        for model, description, columns in load_teachers(teachers, class_names, device):
            self.models.append(model)
            self.columns.append(columns)
            self.inputs.append(description.preprocessing)
            prior_weights.append(description.trained_prior_weight)
        self.prior_weight = float(np.mean(prior_weights))

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The ensemble's (N, K) log-probabilities for a batch of the student's input."""
        outputs = [
            F.log_softmax(batch_logits(model, to_input_of(x, self.preprocessing, pre), self.tta)[:, columns], dim=1)
            for model, columns, pre in zip(self.models, self.columns, self.inputs)
        ]
        return torch.stack(outputs).mean(0).log_softmax(1)


def view_log_probs(
    teachers: Sequence[str | Path],
    dataset: FaceDataset,
    split: str,
    views: TargetViews,
    *,
    tta: str = "none",
    device: torch.device | str = "cpu",
    progress: bool = True,
    batch_size: int = 512,
) -> tuple[torch.Tensor, np.ndarray, float]:
    """(N, epochs, K) log-probabilities the teachers' ensemble gives ``views`` of ``split``'s faces
    (each epoch's view of each face, as the student will see it), the faces' labels, and the
    teachers' mean ``trained_prior_weight``. Batch mixing is left to training, which mixes the targets."""
    pre, augment = views.preprocessing, AugmentConfig(**views.augment)
    live = LiveTeachers(teachers, dataset.class_names, pre, tta=tta, device=device)
    arrays = load_arrays(dataset, split, pre.size, pre.channels, progress=progress)
    images, count = np.asarray(arrays.images), len(arrays.labels)
    scores = torch.empty(count, views.epochs, len(dataset.class_names))
    with tqdm(total=views.epochs * count, unit="view", desc="teachers", disable=not progress) as bar:
        for epoch in range(views.epochs):
            draws = view_draws(views.seed, epoch, count)
            for start in range(0, count, batch_size):
                stop = min(start + batch_size, count)
                faces = to_float(torch.from_numpy(images[start:stop].copy()).to(device), pre.mean, pre.std)
                scores[start:stop, epoch] = live(augment_batch(faces, pre.input_size, augment, draws[start:stop])).cpu()
                bar.update(stop - start)
            log.info("teachers scored the views of epoch %d of %d", epoch + 1, views.epochs)
    return scores, arrays.labels, live.prior_weight


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
    views: TargetViews | None = None,
) -> Path:
    """Write soft targets (fp16) with the labels they belong to, so a mismatch is caught on reading;
    ``views`` says which views (N, epochs, K) targets scored."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"teachers": [str(t) for t in teachers], "trained_prior_weight": prior_weight, "held_out": held_out}
    if views is not None:
        meta["views"] = views.to_dict()
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
    """Soft targets from a file, checked against the training labels they must belong to: (N, K), or
    (N, epochs, K) for a file of views (:func:`soft_targets_views`)."""
    meta, tensors = _read_soft_targets(path, ("log_probs", "labels"))
    check_labels(tensors["labels"].numpy(), labels, str(path))
    return tensors["log_probs"].float(), float(meta["trained_prior_weight"])


def soft_targets_views(path: str | Path) -> TargetViews | None:
    """The views a soft-targets file's teachers scored, or None for scores of the faces themselves."""
    views = _read_soft_targets(path, ())[0].get("views")
    return None if views is None else TargetViews.from_dict(views)


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


def decoupled_distillation_loss(
    student_logits: torch.Tensor,
    teacher_probs: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    nckd_weight: float,
) -> torch.Tensor:
    """Decoupled KD (Zhao et al., CVPR 2022), times T^2: the KL of the binary labelled-class-or-not
    distributions (TCKD) plus ``nckd_weight`` times the KL among the other classes (NCKD). Plain KD is
    TCKD + (1 - p_label) NCKD, so a teacher sure of the label teaches little about how the other
    classes rank; DKD gives that part a fixed weight instead."""
    target = F.one_hot(labels, student_logits.shape[1]).bool()
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    log_student_rest = F.log_softmax((student_logits / temperature).masked_fill(target, -torch.inf), dim=1)

    def binary(p: torch.Tensor) -> torch.Tensor:  # (the label, the rest)
        return torch.stack([p, 1 - p], dim=1).clamp_min(1e-12)

    teacher_binary, student_binary = binary(teacher_probs[target]), binary(log_student[target].exp())
    tckd = (teacher_binary * (teacher_binary.log() - student_binary.log())).sum(1)
    teacher_rest = teacher_probs.masked_fill(target, 0)
    teacher_rest = teacher_rest / teacher_rest.sum(1, keepdim=True).clamp_min(1e-12)
    nckd = (torch.xlogy(teacher_rest, teacher_rest) - teacher_rest * log_student_rest.masked_fill(target, 0)).sum(1)
    return (tckd + nckd_weight * nckd).mean() * temperature**2


def soften(log_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """The teachers' probabilities at ``temperature``."""
    return F.softmax(log_probs / temperature, dim=1)
