"""What a model file carries besides its weights: the one contract between training and inference.

A :class:`ModelDescription` is written by training (and by ``bfer calibrate`` / ``decouple`` /
``export``) and read by everything that scores faces. It is stored as JSON, the same in a
``.safetensors`` checkpoint (its header's ``balanced_fer`` entry) and in an ``.onnx`` export (its
``balanced_fer`` metadata property), so a file is self-describing whatever runs it:

==========================  =====================================================================
``architecture``            rebuilds the network: ``create_model(name, num_classes, in_chans, **kwargs)``
``class_names``             the order of the scores
``preprocessing``           face size, centre crop, channels, normalisation
``train_counts``            training faces per class: the training prior pi_train
``trained_prior_weight``    raw scores follow pi_train ** w: 1 after plain cross-entropy, 0 after a
                            loss or sampler that balances (each declares its share), computed at
                            training time
``post_hoc_tau``            logit adjustment applied at scoring: logits - tau log pi_train
``calibration``             temperature scaling (``bfer calibrate``) and where it was fitted
``tta``                     test-time augmentation the model was selected with and predicts with
``validation``              figures per runtime path: ``float`` (the checkpoint, an fp32 export) and
                            ``int8`` (a quantized export, measured through onnxruntime)
``quantization``            how an int8 export was made (None for float files)
``recipe``                  the complete training recipe (what ``bfer decouple`` retrains on)
``provenance``              git commit, selected epoch, decoupling, DBL's subsets and phases
``format_version``          2; version 1 files (free JSON) are migrated when read
==========================  =====================================================================

Every field is checked when read: a missing, malformed or out-of-range field is one clear error
naming the file, before any weight is allocated.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.spec import parse_spec
from ..errors import BalancedFerError
from ..structs import build

META_KEY = "balanced_fer"  # where the JSON lives in a .safetensors header and in ONNX metadata
FORMAT_VERSION = 2
MAX_CLASSES = 1_000  # a file declaring more is damaged or hostile (num_classes 1e9 asked for a TB)
TTA_MODES = ("none", "flip")
RUNTIMES = ("float", "int8")


def _require(checks: list[tuple[bool, str]]) -> None:
    """Raise one ValueError listing the messages of the failed checks."""
    failed = [message for ok, message in checks if not ok]
    if failed:
        raise ValueError("; ".join(failed))


@dataclass(frozen=True)
class Architecture:
    """What rebuilds the network: ``create_model(name, num_classes, in_chans=in_chans, **kwargs)``."""

    name: str
    num_classes: int
    in_chans: int
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        _require(
            [
                (1 <= self.num_classes <= MAX_CLASSES, f"num_classes must be 1 to {MAX_CLASSES}"),
                (self.in_chans in (1, 3), "in_chans must be 1 or 3"),
            ]
        )


@dataclass(frozen=True)
class Preprocessing:
    """How a face becomes the network's input: a uint8 ``size`` x ``size`` x ``channels`` face,
    centre-cropped to ``input_size``, scaled to (x / 255 - mean) / std."""

    size: int = 48
    input_size: int = 44
    channels: int = 1
    mean: float = 0.5
    std: float = 0.25

    def __post_init__(self):
        _require(
            [
                (8 <= self.size <= 1024, f"size must be 8 to 1024, got {self.size}"),
                (1 <= self.input_size <= self.size, f"input_size must be 1 to size, got {self.input_size}"),
                (self.channels in (1, 3), f"channels must be 1 or 3, got {self.channels}"),
                (
                    math.isfinite(self.mean) and math.isfinite(self.std) and self.std > 0,
                    "mean and std > 0 must be finite",
                ),
            ]
        )


@dataclass(frozen=True)
class Calibration:
    """Temperature scaling: scores are logits / ``temperature`` (Guo et al. 2017)."""

    temperature: float = 1.0
    data: str | None = None  # the validation split it was fitted on

    def __post_init__(self):
        _require([(0 < self.temperature < math.inf, f"temperature must be positive, got {self.temperature}")])


@dataclass(frozen=True)
class Quantization:
    """How an int8 ONNX export was made (see :mod:`balanced_fer.inference.export`)."""

    weights: str
    activations: str
    float_layers: tuple[str, ...] = ()
    calibration_faces: int = 0


@dataclass(frozen=True)
class Provenance:
    """Where the weights came from."""

    git_commit: str | None = None
    epoch: int | None = None  # the epoch validation selected
    decoupled: str | None = None  # crt, tau_norm or lws when the head was re-balanced afterwards
    decouple_seconds: float | None = None
    dbl: dict[str, Any] | None = None  # DBL's subsets, phases and layer sparsity


@dataclass(frozen=True)
class ModelDescription:
    """The typed, versioned description of a model file (module docstring)."""

    architecture: Architecture
    class_names: tuple[str, ...]
    preprocessing: Preprocessing
    train_counts: tuple[int, ...]
    trained_prior_weight: float = 1.0
    post_hoc_tau: float = 0.0
    calibration: Calibration = field(default_factory=Calibration)
    tta: str = "none"
    validation: dict[str, dict[str, Any]] = field(default_factory=dict)
    quantization: Quantization | None = None
    recipe: dict[str, Any] | None = None
    provenance: Provenance = field(default_factory=Provenance)
    format_version: int = FORMAT_VERSION

    def __post_init__(self):
        k = len(self.class_names)
        _require(
            [
                (1 <= k <= MAX_CLASSES, f"class_names must hold 1 to {MAX_CLASSES} names"),
                (
                    self.architecture.num_classes == k,
                    f"architecture.num_classes {self.architecture.num_classes} differs from the {k} class names",
                ),
                (
                    self.architecture.in_chans == self.preprocessing.channels,
                    "architecture.in_chans differs from preprocessing.channels",
                ),
                (
                    len(self.train_counts) == k and all(n >= 0 for n in self.train_counts),
                    "train_counts must be one non-negative integer per class",
                ),
                (
                    math.isfinite(self.trained_prior_weight) and math.isfinite(self.post_hoc_tau),
                    "trained_prior_weight and post_hoc_tau must be finite",
                ),
                (self.tta in TTA_MODES, f"tta must be one of {TTA_MODES}, got {self.tta!r}"),
                (set(self.validation) <= set(RUNTIMES), f"validation is keyed by runtime path {RUNTIMES}"),
                (self.format_version == FORMAT_VERSION, f"format_version must be {FORMAT_VERSION}"),
            ]
        )

    @property
    def runtime(self) -> str:
        """The runtime path this file's scores come from: ``int8`` or ``float``."""
        return "int8" if self.quantization else "float"

    @property
    def figures(self) -> dict[str, Any] | None:
        """This file's own validation figures (through its runtime path), when measured."""
        return self.validation.get(self.runtime)

    @property
    def validation_data(self) -> str | None:
        """The dataset and split the ``validation`` figures were measured on (the recipe's), e.g.
        ``ferplus val``; None when the file carries no recipe."""
        data = (self.recipe or {}).get("data") or {}
        source, split = data.get("val") or data.get("train"), data.get("val_split")
        if not (source and split):
            return None
        fmt, path = parse_spec(str(source))
        return f"{fmt or path.name} {split}"

    def replace(self, **changes: Any) -> ModelDescription:
        """A copy with ``changes`` (checked like any description)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str, source: str | Path) -> ModelDescription:
        """A description from a model file's JSON; ``source`` names the file in errors."""
        try:
            values = json.loads(text)
        except (json.JSONDecodeError, TypeError) as err:
            raise BalancedFerError(f"{source}: its metadata is not valid JSON ({err})") from None
        return cls.from_dict(values, source)

    @classmethod
    def from_dict(cls, values: Any, source: str | Path) -> ModelDescription:
        """A checked description from its JSON object, migrating older versions."""
        if not isinstance(values, dict):
            raise BalancedFerError(f"{source}: its metadata is not a JSON object")
        version = values.get("format_version", 1)
        if version == 1:  # format 1 files wrote "format_version": 1, or nothing
            values = migrate_v1(values)
        elif not isinstance(version, int) or version > FORMAT_VERSION:
            raise BalancedFerError(
                f"{source}: model format {version!r} is newer than this balanced-fer reads ({FORMAT_VERSION}); upgrade it"
            )
        problems: list[str] = []
        description = build(cls, values, "", problems)
        if problems or description is None:
            raise BalancedFerError(f"{source}: damaged model description: {'; '.join(problems)}")
        return description


def migrate_v1(values: dict[str, Any]) -> dict[str, Any]:
    """A format 1 description (a free JSON object written before this contract) in format 2.

    Format 1 left the prior its scores follow to be guessed from the recipe's loss and sampler
    names at prediction time; this is that guess, frozen for the losses and samplers format 1 files
    could name (new ones declare their share in ``balanced_fer.imbalance``). An ONNX export of
    format 1 carried no recipe and no calibration: it reads as plain cross-entropy, uncalibrated,
    which is what format 1 itself assumed."""

    def section(key: str) -> dict[str, Any]:
        return values[key] if isinstance(values.get(key), dict) else {}

    recipe = section("recipe")
    figures = values.get("validation")
    migrated = {
        "architecture": section("model"),
        "class_names": values.get("class_names"),
        "preprocessing": values.get("preprocessing"),
        "train_counts": values.get("train_counts"),
        "trained_prior_weight": 1.0 - _v1_prior_removed(recipe),
        "post_hoc_tau": section("logit_adjustment").get("tau", 0.0),
        "calibration": section("calibration"),
        "tta": values.get("tta", "none"),
        "validation": {("int8" if values.get("quantization") else "float"): figures} if figures else {},
        "quantization": values.get("quantization"),
        "recipe": recipe or None,
        "provenance": {k: values.get(k) for k in ("git_commit", "epoch", "decoupled", "decouple_seconds", "dbl")},
    }
    return {k: v for k, v in migrated.items() if v is not None}


def _v1_prior_removed(recipe: dict[str, Any]) -> float:
    """How much of the training prior format 1's scoring took a recipe's loss and sampler to remove."""
    loss = recipe.get("loss") if isinstance(recipe.get("loss"), dict) else {}
    name, kwargs = loss.get("name", "ce"), loss.get("kwargs") or {}
    removed = {"balanced_softmax": 1.0, "logit_adjusted": float(kwargs.get("tau", 1.0))}.get(name, 0.0)
    if name == "weighted_ce" and kwargs.get("scheme", "inverse") in ("inverse", "effective", "dbl"):
        removed = 1.0
    samplers = {"square_root": 0.5, "class_balanced": 1.0, "progressive": 1.0}
    return removed + samplers.get(recipe.get("sampler", "instance"), 0.0)
