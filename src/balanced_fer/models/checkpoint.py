"""Checkpoints: one ``.safetensors`` file holding the weights and a JSON description.

The JSON (stored in the safetensors header under ``balanced_fer``) carries the recipe, class names,
preprocessing, validation figures and git commit, so a checkpoint is self-describing; loading never
unpickles code. Files are written to a temporary name and renamed, so a crash never leaves a
half-written checkpoint.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import BalancedFerError
from ..pretrained import resolve_model

META_KEY = "balanced_fer"
log = logging.getLogger("balanced_fer")


@functools.cache
def git_commit() -> str | None:
    """The source tree's git commit, or None outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).resolve().parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def save_checkpoint(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> Path:
    """Atomically write tensors and JSON metadata to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={META_KEY: json.dumps(meta)})
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def remove_partial_saves(folder: Path) -> list[Path]:
    """Delete, with a warning each, the temporary files (``.NAME.safetensors.XXXX``) that
    :func:`save_checkpoint` leaves when killed before its rename, anywhere below ``folder``."""
    stale = [path for path in Path(folder).rglob(".*.safetensors.*") if path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
        log.warning("removed %s, a checkpoint save interrupted by the last run's end", path)
    return stale


def load_checkpoint(path: str | Path, required: tuple[str, ...] = ()) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and metadata of a checkpoint (a file, or a shipped model's name such as ``default``);
    a missing or foreign file, or a description without the ``required`` fields, is a clear error."""
    path = resolve_model(path)
    if not path.is_file():
        raise BalancedFerError(f"{path}: checkpoint not found")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise BalancedFerError(f"{path}: not a safetensors checkpoint ({err})") from None
    if META_KEY not in header:
        raise BalancedFerError(f"{path}: safetensors file without balanced-fer metadata")
    return tensors, parse_meta(header[META_KEY], path, required)


MAX_CLASSES = 1_000  # a model file declaring more is damaged or hostile (num_classes 1e9 asked for a TB)
INFERENCE_FIELDS = ("class_names", "preprocessing", "train_counts")  # what scoring a face needs


def parse_meta(text: str, source: str | Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A model file's JSON description, checked by :func:`check_meta`."""
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, TypeError) as err:
        raise BalancedFerError(f"{source}: its metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise BalancedFerError(f"{source}: its metadata is not a JSON object")
    return check_meta(meta, source, required)


def check_meta(meta: dict[str, Any], source: str | Path, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """``meta`` if the ``required`` fields are present and every field the code reads has the right
    shape and bounds; else one :class:`BalancedFerError` naming the file and each problem."""
    problems = [f"missing field {name!r}" for name in required if name not in meta]
    classes, model, pre, counts = (meta.get(k) for k in ("class_names", "model", "preprocessing", "train_counts"))
    if classes is not None and not (
        isinstance(classes, list) and 1 <= len(classes) <= MAX_CLASSES and all(isinstance(c, str) for c in classes)
    ):
        problems.append(f"class_names must be a list of 1 to {MAX_CLASSES} names")
    if model is not None:
        if (
            not isinstance(model, dict)
            or not isinstance(model.get("name"), str)
            or not isinstance(model.get("kwargs", {}), dict)
        ):
            problems.append("model must name its network and its keyword arguments")
        elif not (_integer(model.get("num_classes"), 1, MAX_CLASSES) and model.get("in_chans") in (1, 3)):
            problems.append(f"model.num_classes must be 1 to {MAX_CLASSES} and model.in_chans 1 or 3")
        elif isinstance(classes, list) and model["num_classes"] != len(classes):
            problems.append(f"model.num_classes {model['num_classes']} differs from the {len(classes)} class names")
    if pre is not None:
        if not isinstance(pre, dict) or not (
            _integer(pre.get("size"), 8, 1024)
            and _integer(pre.get("input_size"), 1, pre["size"])
            and pre.get("channels") in (1, 3)
            and all(isinstance(pre.get(k), (int, float)) for k in ("mean", "std"))
            and pre["std"] > 0
        ):
            problems.append(
                "preprocessing must give size 8-1024, input_size <= size, channels 1 or 3, mean and std > 0"
            )
    if counts is not None and not (
        isinstance(counts, list)
        and all(_integer(n, 0, None) for n in counts)
        and (not isinstance(classes, list) or len(counts) == len(classes))
    ):
        problems.append("train_counts must be one non-negative integer per class")
    if problems:
        raise BalancedFerError(f"{source}: damaged model description: {'; '.join(problems)}")
    return meta


def _integer(value: Any, low: int, high: int | None) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)


def flatten_state(prefix: str, state: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Move every tensor of a nested state (optimizer state dicts) into ``tensors`` under a dotted
    key and return the JSON-able rest, with ``{"__tensor__": key}`` where a tensor was."""
    if isinstance(state, torch.Tensor):
        tensors[prefix] = state
        return {"__tensor__": prefix}
    if isinstance(state, dict):
        return {"__dict__": [[k, flatten_state(f"{prefix}.{k}", v, tensors)] for k, v in state.items()]}
    if isinstance(state, (list, tuple)):
        return [flatten_state(f"{prefix}.{i}", v, tensors) for i, v in enumerate(state)]
    return state


def unflatten_state(state: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state` (dict keys keep their types: ints stay ints)."""
    if isinstance(state, dict) and "__tensor__" in state:
        return tensors[state["__tensor__"]]
    if isinstance(state, dict) and "__dict__" in state:
        return {k: unflatten_state(v, tensors) for k, v in state["__dict__"]}
    if isinstance(state, list):
        return [unflatten_state(v, tensors) for v in state]
    return state


def model_meta(model_name: str, model_kwargs: dict, num_classes: int, in_chans: int) -> dict[str, Any]:
    """The part of a checkpoint's metadata that rebuilds the network."""
    return {"name": model_name, "kwargs": model_kwargs, "num_classes": num_classes, "in_chans": in_chans}


def load_model(
    path: str | Path, device: str | torch.device = "cpu", required: tuple[str, ...] = ()
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a model from a checkpoint (a model file or a training state) in eval mode; ``required``
    as for :func:`load_checkpoint`."""
    from .registry import create_model

    tensors, meta = load_checkpoint(path, required)
    spec = meta.get("model")
    if not spec:
        raise BalancedFerError(f"{path}: checkpoint does not describe its model")
    try:
        model = create_model(spec["name"], spec["num_classes"], in_chans=spec["in_chans"], **spec.get("kwargs", {}))
    except (TypeError, ValueError) as err:
        raise BalancedFerError(f"{path}: cannot build its model {spec['name']!r} ({err})") from None
    weights = {k.removeprefix("model."): v for k, v in tensors.items() if not k.startswith("optim.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise BalancedFerError(f"{path}: weights do not fit model {spec['name']!r} ({err})") from None
    return model.to(device).eval(), meta
