"""Models that ship inside the package: ``<name>.safetensors`` with its model card ``<name>.md``.

Every command and API that takes a checkpoint path also takes one of these names, or a tier's:
``default`` (the recommended model) and the others in :data:`TIERS`, each for one purpose. So ``bfer
predict photo.jpg`` and ``Recognizer.from_pretrained()`` work offline straight after ``pip install``.
A shipped file is an ordinary checkpoint: it carries its class names, preprocessing, training class
counts, post-hoc adjustment and validation figures. Its ONNX export ``<name>.onnx`` ships beside it
and is what prediction runs (onnxruntime is several times faster than PyTorch on small CPU batches);
training-side commands read the checkpoint.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import BalancedFerError

PRETRAINED_DIR = Path(__file__).parent


@dataclass(frozen=True)
class Tier:
    """A name for the shipped model that serves one purpose (``bfer predict --model fast``)."""

    model: str  # the shipped file's stem
    purpose: str  # one line for ``bfer models`` and the model card


TIERS = {
    "default": Tier("fer2013_compact_long", "the most accurate: vgg_compact with flip test-time augmentation"),
    "fast": Tier(
        "fer2013_fast", "for video and bulk work: a quarter of the default's compute, taught live by it, no TTA"
    ),
    "ferplus": Tier(
        "ferplus_compact",
        "eight classes with contempt: vgg_compact on FER+'s crowd-majority labels, a class-balanced head, flip TTA",
    ),
}
DEFAULT_MODEL = TIERS["default"].model
ALIASES = {alias: tier.model for alias, tier in TIERS.items()}


def list_pretrained() -> list[str]:
    """Names of the models shipped in this installation."""
    return sorted(path.stem for path in PRETRAINED_DIR.glob("*.safetensors"))


def pretrained_path(name: str = "default") -> Path:
    """The checkpoint file of a shipped model (a tier's name or one from :func:`list_pretrained`)."""
    path = PRETRAINED_DIR / f"{ALIASES.get(name, name)}.safetensors"
    if not path.is_file():
        available = ", ".join([*TIERS, *list_pretrained()])
        raise BalancedFerError(f"no shipped model named {name!r} (available: {available})")
    return path


def model_card(name: str = "default") -> str:
    """The model card (Markdown) of a shipped model."""
    return pretrained_path(name).with_suffix(".md").read_text()


def resolve_model(model: str | Path, prefer_onnx: bool = False) -> Path:
    """A model file from a path, or from a shipped model's name when no such file exists; with
    ``prefer_onnx`` a shipped name gives its ONNX export when onnxruntime is installed."""
    path = Path(model)
    if os.path.exists(path) or path.suffix or len(path.parts) > 1:
        return path
    checkpoint = pretrained_path(str(model))
    export = checkpoint.with_suffix(".onnx")
    if prefer_onnx and export.is_file() and importlib.util.find_spec("onnxruntime") is not None:
        return export
    return checkpoint
