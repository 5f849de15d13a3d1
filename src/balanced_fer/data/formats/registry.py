"""Registry of dataset formats: each reader registers its name, description and detector."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..dataset import FaceDataset


@dataclass(frozen=True)
class DatasetFormat:
    """A published dataset layout that balanced-fer can read."""

    name: str
    description: str
    read: Callable[..., FaceDataset]
    detect: Callable[[Path], bool]


FORMATS: dict[str, DatasetFormat] = {}


def register_format(name: str, description: str, detect: Callable[[Path], bool]):
    """Decorator registering ``read(path, *, strict=False, **options) -> FaceDataset`` as a format."""

    def decorate(read: Callable[..., FaceDataset]) -> Callable[..., FaceDataset]:
        FORMATS[name] = DatasetFormat(name, description, read, detect)
        return read

    return decorate


def csv_header(path: Path) -> list[str]:
    """The stripped header fields of a csv file, or [] when it is not a readable csv."""
    if path.suffix.lower() != ".csv" or not path.is_file():
        return []
    try:
        with path.open(encoding="utf-8-sig") as handle:
            return [field.strip() for field in handle.readline().split(",")]
    except (OSError, UnicodeDecodeError):
        return []
