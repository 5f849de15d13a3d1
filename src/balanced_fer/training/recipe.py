"""Training recipes: YAML files naming model, data, loss, sampler, optimiser and schedule.

Unknown keys are errors (a typo must not silently train the default); ``--set a.b=value``
overrides any key, the value parsed as YAML.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..data.augment import AugmentConfig, augment_problems
from ..errors import BalancedFerError
from ..models.description import TTA_MODES, Preprocessing
from ..models.registry import model_kwargs_problems
from ..structs import build


@dataclass
class DataConfig:
    train: str = "../shared/datasets/fer2013"  # dataset spec
    train_split: str = "train"
    val: str | None = None  # spec of the validation set; None: same as train
    val_split: str = "val"
    size: int = 48  # cached face size
    input_size: int = 44  # network input (random crop in training, centre crop at eval)
    channels: int = 1
    options: dict[str, Any] = field(default_factory=dict)  # reader options (label_mode, class_map...)
    limit_per_class: int | None = None  # keep at most this many training faces per class (smoke runs)
    folds: int = 1  # with held_out_fold: the training split dealt into this many stratified folds...
    held_out_fold: int | None = None  # ...and this one left out (a teacher for bfer soft-targets --held-out)
    drop_label_issues: str | None = None  # out-of-sample soft targets: faces they flag as mislabelled are left out

    @property
    def preprocessing(self) -> Preprocessing:
        """How these faces become the network's input."""
        return Preprocessing(size=self.size, input_size=self.input_size, channels=self.channels)


@dataclass
class ModelConfig:
    name: str = "vgg_compact"
    pretrained: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class LossConfig:
    name: str = "ce"
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    name: str = "sgd"  # sgd or adamw
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    batch_size: int = 64  # global batch (split across processes)
    ema: float = 0.0  # decay of an exponential moving average of the weights, validated and saved (0 = off)


@dataclass
class ScheduleConfig:
    epochs: int = 30
    warmup_epochs: float = 1.0
    schedule: str = "cosine"  # cosine or step
    step_milestones: list[int] = field(default_factory=list)
    step_gamma: float = 0.1


@dataclass
class EvalConfig:
    select_metric: str = (
        "mean_class_accuracy"  # validation metric that picks the best checkpoint ("last": the last epoch)
    )
    tta: str = "none"  # none or flip: for validation, and stored as the model's default at prediction
    batch_size: int = 512


@dataclass
class DecoupleConfig:
    method: str | None = None  # crt, tau_norm, lws or None
    epochs: int = 10
    lr: float = 0.1
    tau: float = 1.0  # tau-normalisation exponent
    sampler: str = "class_balanced"


DISTILLATION_LOSSES = ("kl", "dkd")  # distill.loss


@dataclass
class DistillConfig:
    """Knowledge distillation (training/distill.py): off unless teachers or a targets file are named."""

    teachers: list[str] = field(default_factory=list)  # checkpoints whose ensemble teaches the student
    targets: str | None = None  # or their soft targets on the training faces (bfer soft-targets)
    tta: str = "flip"  # the teachers' test-time augmentation, folded into the targets
    held_out: bool = False  # each teacher scores only the faces its recipe held out (data.held_out_fold)
    live: bool = False  # the teachers score each augmented batch as the student sees it, not the faces once
    temperature: float = 4.0
    alpha: float = 0.5  # weight of the teachers' term; the labels' loss gets 1 - alpha
    loss: str = "kl"  # the teachers' term: kl (Hinton et al.) or dkd (decoupled KD, Zhao et al. 2022)
    nckd_weight: float = 8.0  # dkd: weight of the KL among the classes other than the label (DKD's beta)
    warmup_epochs: float = 0.0  # the teachers' term grows linearly from 0 over this many epochs


@dataclass
class PostHocConfig:
    tau: float = 0.0  # post-hoc logit adjustment at evaluation (0 = off)


@dataclass
class DBLConfig:
    """Deep Balanced Learning (docs/dbl.md); ``k = 0`` trains normally."""

    k: int = 0  # number of balanced subsets (tasks)
    divisors: list[float] | str | None = (
        "auto"  # class c keeps n_c / d_c (class order of the dataset; auto: the authors' rule)
    )
    target: int | str = "median"  # with divisors null: images per class (number, median, mean, min)...
    max_upsample: float = 3.0  # ...smaller classes repeated at most this many times
    class_weights: str = "subset"  # a class-weighted loss counts the phase's subset, or the full training set
    task_epochs: int = 4  # training epochs on each subset
    retrain_epochs: int = 2  # epochs after pruning each task
    prune: float = 0.5  # share of each task's weights released for later tasks
    prune_schedule: str = "gradual"  # gradual (cubic, during train) or one_shot (between train and retrain)
    task_heads: str = "separate"  # separate: each task starts a fresh head; shared: task t + 1 continues task t's
    final_epochs: int = 4  # the union classifier on the full training set
    final_sparsity: float = 0.0  # gradual cubic pruning of the union during the final stage
    linear_probe: bool = False  # final stage trains the head only


DEVICES = ("auto", "cpu", "cuda")  # auto: a GPU when there is one


@dataclass
class Recipe:
    name: str = "run"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    sampler: str = "instance"
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    decouple: DecoupleConfig = field(default_factory=DecoupleConfig)
    post_hoc: PostHocConfig = field(default_factory=PostHocConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    dbl: DBLConfig = field(default_factory=DBLConfig)
    device: str = "auto"  # one of DEVICES
    channels_last: bool = True
    amp: bool = True  # bf16 autocast where the hardware runs bf16 natively (CUDA, AVX512-BF16 / AMX CPUs)

    def to_dict(self) -> dict[str, Any]:
        """Every setting as JSON values (tuples as lists), as stored in a model file."""
        return json.loads(json.dumps(dataclasses.asdict(self)))


def _bounds_problems(recipe: Recipe) -> list[str]:
    """Values of the right type that no run can use."""
    checks = [
        (recipe.schedule.epochs >= 1, f"schedule.epochs must be at least 1, got {recipe.schedule.epochs}"),
        (recipe.optim.batch_size >= 1, f"optim.batch_size must be at least 1, got {recipe.optim.batch_size}"),
        (recipe.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, got {recipe.device!r}"),
        (0 < recipe.optim.lr < math.inf, f"optim.lr must be a positive finite number, got {recipe.optim.lr}"),
        (0 <= recipe.optim.momentum < 1, f"optim.momentum must be from 0 to below 1, got {recipe.optim.momentum}"),
        (recipe.optim.weight_decay >= 0, f"optim.weight_decay must be 0 or positive, got {recipe.optim.weight_decay}"),
        (
            0 <= recipe.schedule.warmup_epochs <= recipe.schedule.epochs,
            f"schedule.warmup_epochs must be from 0 to schedule.epochs, got {recipe.schedule.warmup_epochs}",
        ),
        (recipe.schedule.step_gamma > 0, f"schedule.step_gamma must be positive, got {recipe.schedule.step_gamma}"),
        (math.isfinite(recipe.post_hoc.tau), f"post_hoc.tau must be a finite number, got {recipe.post_hoc.tau}"),
        (recipe.dbl.k >= 0, f"dbl.k must be 0 (off) or a number of subsets, got {recipe.dbl.k}"),
        (0 <= recipe.dbl.prune < 1, f"dbl.prune must be from 0 to below 1, got {recipe.dbl.prune}"),
        (
            0 <= recipe.dbl.final_sparsity < 1,
            f"dbl.final_sparsity must be from 0 to below 1, got {recipe.dbl.final_sparsity}",
        ),
        (
            1 <= recipe.dbl.max_upsample < math.inf,
            f"dbl.max_upsample must be at least 1, got {recipe.dbl.max_upsample}",
        ),
        (recipe.decouple.epochs >= 1, f"decouple.epochs must be at least 1, got {recipe.decouple.epochs}"),
        (0 < recipe.decouple.lr < math.inf, f"decouple.lr must be a positive finite number, got {recipe.decouple.lr}"),
        (math.isfinite(recipe.decouple.tau), f"decouple.tau must be a finite number, got {recipe.decouple.tau}"),
        (recipe.data.channels in (1, 3), f"data.channels must be 1 or 3, got {recipe.data.channels}"),
        (recipe.data.size >= 8, f"data.size must be at least 8, got {recipe.data.size}"),
        (0 <= recipe.distill.alpha <= 1, f"distill.alpha must be from 0 to 1, got {recipe.distill.alpha}"),
        (0 <= recipe.optim.ema < 1, f"optim.ema must be from 0 (off) to below 1, got {recipe.optim.ema}"),
        (
            not isinstance(recipe.dbl.divisors, str) or recipe.dbl.divisors == "auto",
            f"dbl.divisors must be auto, null or one number per class, got {recipe.dbl.divisors!r}",
        ),
        (
            not (recipe.optim.ema and recipe.dbl.k),
            "optim.ema does not combine with dbl: an average of pruned weights is no longer pruned",
        ),
        (recipe.distill.temperature > 0, f"distill.temperature must be positive, got {recipe.distill.temperature}"),
        (recipe.distill.nckd_weight >= 0, f"distill.nckd_weight must be 0 or more, got {recipe.distill.nckd_weight}"),
        (
            recipe.distill.warmup_epochs >= 0,
            f"distill.warmup_epochs must be 0 or more, got {recipe.distill.warmup_epochs}",
        ),
        (
            recipe.distill.loss != "dkd" or not (recipe.augment.mixup or recipe.augment.cutmix),
            "distill.loss dkd needs each face's own label and does not combine with augment.mixup or augment.cutmix",
        ),
        (
            not (recipe.distill.teachers and recipe.distill.targets),
            "name distill.teachers or distill.targets, not both",
        ),
        (
            not recipe.distill.held_out or recipe.distill.teachers,
            "distill.held_out needs distill.teachers (a targets file was made with or without it)",
        ),
        (
            not recipe.distill.live or (recipe.distill.teachers and not recipe.distill.held_out),
            "distill.live needs distill.teachers (checkpoints to run) and does not combine with distill.held_out",
        ),
        (
            recipe.data.held_out_fold is None or 0 <= recipe.data.held_out_fold < recipe.data.folds,
            f"data.held_out_fold must be from 0 to data.folds - 1 ({recipe.data.folds - 1}), "
            f"got {recipe.data.held_out_fold}",
        ),
        (
            recipe.data.held_out_fold is None or recipe.data.folds >= 2,
            f"data.held_out_fold needs data.folds of at least 2, got {recipe.data.folds}",
        ),
        (
            0 < recipe.data.input_size <= recipe.data.size,
            f"data.input_size must be from 1 to data.size ({recipe.data.size}), got {recipe.data.input_size}",
        ),
    ]
    choices = {
        "dbl.prune_schedule": (recipe.dbl.prune_schedule, ("gradual", "one_shot")),
        "dbl.task_heads": (recipe.dbl.task_heads, ("separate", "shared")),
        "dbl.class_weights": (recipe.dbl.class_weights, ("subset", "full")),
        "distill.tta": (recipe.distill.tta, TTA_MODES),
        "distill.loss": (recipe.distill.loss, DISTILLATION_LOSSES),
    }
    checks += [
        (value in allowed, f"{key} must be one of {', '.join(allowed)}, got {value!r}")
        for key, (value, allowed) in choices.items()
    ]
    problems = [message for ok, message in checks if not ok] + augment_problems(recipe.augment)
    return problems + model_kwargs_problems(recipe.model.name, recipe.model.kwargs)


def apply_override(values: dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a nested dict in place."""
    key, sep, raw = assignment.partition("=")
    if not sep or not key:
        raise BalancedFerError(f"--set {assignment!r}: expected KEY=VALUE, e.g. optim.lr=0.05")
    parts = key.strip().split(".")
    node = values
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise BalancedFerError(f"--set {assignment!r}: {part} is not a section")
    node[parts[-1]] = yaml.safe_load(raw)


def merge_sections(base: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` over ``base``, section by section: a mapping in both is merged key by key, anything
    else (a number, a list, ``null``) replaces what the base had."""
    merged = dict(base)
    for key, value in values.items():
        inherited = merged.get(key)
        merged[key] = (
            merge_sections(inherited, value) if isinstance(value, dict) and isinstance(inherited, dict) else value
        )
    return merged


def read_recipe_file(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe file's values. One that says ``base: OTHER.yaml`` (a path relative to it) is that recipe
    with its own sections merged over it (:func:`merge_sections`); the name is never inherited."""
    if not path.is_file():
        raise BalancedFerError(f"{path}: recipe file not found" + (f" (the base of {chain[-1]})" if chain else ""))
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise BalancedFerError(f"{where}: not valid YAML ({getattr(err, 'problem', None) or err})") from None
    if not isinstance(data, dict):
        raise BalancedFerError(f"{path}: a recipe is a mapping of sections, got {type(data).__name__}")
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise BalancedFerError(f"{path}: base must be the path of another recipe file, got {base!r}")
    base_path = path.parent / base
    if base_path.resolve() in [p.resolve() for p in (*chain, path)]:
        raise BalancedFerError(f"{path}: base {base} leads back to itself")
    inherited = read_recipe_file(base_path, (*chain, path))
    inherited.pop("name", None)
    return merge_sections(inherited, data)


def load_recipe(path: str | Path | None = None, overrides: list[str] = (), values: dict | None = None) -> Recipe:
    """A recipe from a YAML file (which may build on a ``base`` recipe) or a dict, with ``--set``
    overrides applied."""
    data: dict[str, Any] = dict(values or {})
    if path is not None:
        path = Path(path)
        data = read_recipe_file(path)
        data.setdefault("name", path.stem)
    for assignment in overrides:
        apply_override(data, assignment)
    problems: list[str] = []
    recipe = build(Recipe, data, "", problems)  # a badly typed value is reported and left at its default
    problems += _bounds_problems(recipe)
    if problems:
        where = f"{path}: " if path is not None else ""
        raise BalancedFerError(f"{where}recipe has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    return recipe
