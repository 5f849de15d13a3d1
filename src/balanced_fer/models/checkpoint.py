"""Checkpoints: one ``.safetensors`` file holding the weights and, as JSON in its header, a
:class:`~.description.ModelDescription` (the model-file contract) and, for a run's resumable state,
the training state. Loading never unpickles code. Files are written to a temporary name and
renamed, so a crash never leaves a half-written checkpoint.
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
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ..errors import BalancedFerError
from ..pretrained import resolve_model
from .base import reparameterize_model
from .description import META_KEY, ModelDescription

STATE_KEY = "balanced_fer_state"  # a training state's own header entry (optimizer, epoch, history)
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


def save_checkpoint(
    path: Path,
    tensors: dict[str, torch.Tensor],
    description: ModelDescription | None = None,
    state: dict[str, Any] | None = None,
) -> Path:
    """Atomically write tensors with a model description and / or a training state (JSON) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        header = {META_KEY: description.to_json()} if description is not None else {}
        if state is not None:
            header[STATE_KEY] = json.dumps(state)
        save_file(tensors, tmp, metadata=header)
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


def _read(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if not path.is_file():
        raise BalancedFerError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        return load_file(str(path)), header
    except (SafetensorError, OSError, ValueError) as err:
        raise BalancedFerError(f"{path}: not a safetensors checkpoint ({err})") from None


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], ModelDescription]:
    """Tensors and checked description of a model file (or a shipped model's name such as
    ``default``); a missing or foreign file, or a damaged description, is a clear error."""
    path = resolve_model(path)
    tensors, header = _read(path)
    if META_KEY not in header:
        raise BalancedFerError(f"{path}: safetensors file without balanced-fer metadata")
    return tensors, ModelDescription.from_json(header[META_KEY], path)


def load_training_state(path: str | Path) -> tuple[dict[str, torch.Tensor], ModelDescription | None, dict[str, Any]]:
    """Tensors, model description (None for states that hold no model) and training state of a
    file written with ``save_checkpoint(..., state=...)``."""
    path = Path(path)
    tensors, header = _read(path)
    if STATE_KEY not in header:
        raise BalancedFerError(f"{path}: not a training state of this balanced-fer version; start the run again")
    try:
        state = json.loads(header[STATE_KEY])
    except json.JSONDecodeError as err:
        raise BalancedFerError(f"{path}: damaged training state ({err})") from None
    description = ModelDescription.from_json(header[META_KEY], path) if META_KEY in header else None
    return tensors, description, state


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


def load_model(
    path: str | Path, device: str | torch.device = "cpu", for_inference: bool = False
) -> tuple[torch.nn.Module, ModelDescription]:
    """Rebuild a model from a model file (or a training state) in eval mode, with its description;
    ``for_inference`` also folds the branches it trained with (:func:`~.base.reparameterize_model`), so
    it runs faster but can no longer be trained or saved."""
    from .registry import create_model

    tensors, description = load_checkpoint(path)
    spec = description.architecture
    try:
        model = create_model(spec.name, spec.num_classes, in_chans=spec.in_chans, **spec.kwargs)
    except (TypeError, ValueError) as err:
        raise BalancedFerError(f"{path}: cannot build its model {spec.name!r} ({err})") from None
    weights = {k.removeprefix("model."): v for k, v in tensors.items() if not k.startswith("optim.")}
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise BalancedFerError(f"{path}: weights do not fit model {spec.name!r} ({err})") from None
    model = model.to(device).eval()
    return (reparameterize_model(model) if for_inference else model), description
