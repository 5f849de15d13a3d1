"""One registry of model constructors: ``create_model(name, num_classes, in_chans)``, ``list_models()``."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..errors import BalancedFerError
from ..pretrained import resolve_model
from .base import Classifier

_MODELS: dict[str, Callable[..., nn.Module]] = {}
_DEFAULT_SIZES: dict[str, int] = {}


def register_model(name: str, input_size: int) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register a constructor ``fn(num_classes, in_chans, **kwargs)`` under ``name``; ``input_size``
    is the face size (pixels) it is designed for."""

    def decorate(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        _MODELS[name] = fn
        _DEFAULT_SIZES[name] = input_size
        return fn

    return decorate


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a glob pattern, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def default_input_size(name: str) -> int:
    """The face size a registered model is designed for."""
    _check(name)
    return _DEFAULT_SIZES[name]


def _check(name: str) -> None:
    if name not in _MODELS:
        raise BalancedFerError(f"unknown model {name!r}; available: {', '.join(list_models())}")


def model_kwargs_problems(name: str, kwargs: dict) -> list[str]:
    """What is wrong with a model's name or its keyword arguments: the model is built on PyTorch's
    ``meta`` device (shapes only, no memory), so a wrong argument is found before any work."""
    if name not in _MODELS:
        return [f"unknown model {name!r}; available: {', '.join(list_models())}"]
    if not kwargs:
        return []
    try:
        with torch.device("meta"):
            _MODELS[name](num_classes=2, in_chans=1, **kwargs)
    except (TypeError, ValueError) as err:
        return [f"model.kwargs of {name!r}: {err}"]
    return []


def create_model(
    name: str, num_classes: int, in_chans: int = 1, pretrained: str | Path | None = None, **kwargs
) -> nn.Module:
    """Build a registered model. ``pretrained`` is a local ``.safetensors`` or ``.pth`` state dict
    (torchvision parameter names for ResNets) or a shipped model's name; a classifier of another
    shape is left initialised, a grey model takes RGB first-layer weights summed over colours, and a
    compact VGG takes a wider one's strongest channels (:meth:`.compact.CompactVGG.fit_state`).
    Nothing is downloaded."""
    _check(name)
    model = _MODELS[name](num_classes=num_classes, in_chans=in_chans, **kwargs)
    if pretrained:
        load_pretrained(model, resolve_model(pretrained))
    return model


def load_pretrained(model: nn.Module, path: Path) -> list[str]:
    """Load matching weights from a local file; returns the names left at their initial values."""
    if not path.is_file():
        raise BalancedFerError(f"{path}: pretrained weights file not found")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file becomes one clear error
            raise BalancedFerError(f"{path}: not a readable state dict ({err})") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else state
    state = {key.removeprefix("module."): value for key, value in state.items()}
    if isinstance(model, Classifier):
        try:
            state = model.fit_state(state)
        except BalancedFerError as err:
            raise BalancedFerError(f"{path}: {err}") from None
    own = model.state_dict()
    loaded = {}
    for key, value in state.items():
        if key not in own:
            continue
        if value.shape != own[key].shape and value.ndim == 4 and value.shape[1] == 3 and own[key].shape[1] == 1:
            value = value.sum(dim=1, keepdim=True)  # RGB stem -> grey stem
        if value.shape == own[key].shape:
            loaded[key] = value
    if not loaded:
        raise BalancedFerError(f"{path}: no parameter matches the model's names and shapes")
    model.load_state_dict(loaded, strict=False)
    return sorted(set(own) - set(loaded))
