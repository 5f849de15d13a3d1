"""Dataset specs: ``PATH`` (format detected) or ``FORMAT:PATH`` (format forced)."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from ..errors import DatasetError
from .dataset import FaceDataset
from .formats import DETECTION_ORDER, FORMATS


def parse_spec(spec: str) -> tuple[str | None, Path]:
    """Split ``FORMAT:PATH`` into its parts; a plain path gives ``(None, path)``."""
    prefix, sep, rest = spec.partition(":")
    if sep and prefix in FORMATS:
        return prefix, Path(rest).expanduser()
    return None, Path(spec).expanduser()


def detect_format(path: Path) -> str:
    """The name of the first format (most specific first) whose layout ``path`` has."""
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    for name in DETECTION_ORDER:
        if FORMATS[name].detect(path):
            return name
    raise DatasetError(
        f"{path}: cannot tell the dataset format; prefix the path with one of "
        f"{', '.join(sorted(FORMATS))} and a colon (e.g. ferplus:{path})"
    )


def open_dataset(spec: str | Path, **options: Any) -> FaceDataset:
    """Read a dataset from a spec; ``options`` (``strict``, ``label_mode``, ``class_map``...) go to
    the format's reader, ``None`` values are left at the reader's default."""
    name, path = parse_spec(str(spec))
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    name = name or detect_format(path)
    reader = FORMATS[name].read
    accepted = set(inspect.signature(reader).parameters) - {"path"}
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - accepted)
    if unknown:
        raise DatasetError(
            f"format {name!r} takes no option {', '.join(unknown)} (its options: {', '.join(sorted(accepted))})"
        )
    dataset = reader(path.resolve(), **given)
    if not dataset.samples:
        raise DatasetError(
            f"{path}: no usable faces found (read as {name}; see the warnings above for what was skipped)"
        )
    return dataset
