"""Any image folder: ``<root>/<split>/<class>/*`` or ``<root>/<class>/*``, with a class map."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ...errors import DatasetError
from ...labels import CANONICAL_CLASSES, IGNORE, canonical_name, ordered_classes
from ..dataset import FaceDataset, Sample
from .registry import register_format

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}
SPLIT_FOLDERS = {
    "train": "train",
    "training": "train",
    "val": "val",
    "valid": "val",
    "validation": "val",
    "publictest": "val",
    "test": "test",
    "testing": "test",
    "privatetest": "test",
}


def _subfolders(path: Path) -> list[str]:
    return sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))


def is_split_folder_layout(path: Path, class_folders: set[str] | None = None) -> bool:
    """Whether ``path`` holds split folders (train/val/test...), optionally of exactly these class folders."""
    if not path.is_dir():
        return False
    splits = [name for name in _subfolders(path) if name.lower() in SPLIT_FOLDERS]
    if not splits:
        return False
    if class_folders is None:
        return True
    return all({n.lower() for n in _subfolders(path / s)} == class_folders for s in splits)


def list_images(folder: Path) -> list[str]:
    """Image files directly inside ``folder``, sorted by name."""
    return sorted(
        e.path for e in os.scandir(folder) if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
    )


@register_format("folder", "any image folder: <root>/[<split>/]<class>/*, class names via --class-map", Path.is_dir)
def read_folder(
    path: Path,
    *,
    strict: bool = False,
    class_map: Mapping[str, str] | None = None,
    class_names: tuple[str, ...] | None = None,
) -> FaceDataset:
    """Read class folders; split folders (train, val, test, PublicTest...) are optional.

    Folder names are mapped with :func:`~balanced_fer.labels.canonical_name` (``class_map`` first);
    a folder mapped to ``ignore`` is skipped. ``class_names`` fixes the class set (FER2013's seven),
    otherwise it is the classes found, in canonical order.
    """
    if not path.is_dir():
        raise DatasetError(f"{path}: no such folder")
    if is_split_folder_layout(path):
        split_dirs = [(SPLIT_FOLDERS[n.lower()], path / n) for n in _subfolders(path) if n.lower() in SPLIT_FOLDERS]
    else:
        split_dirs = [("all", path)]
    found: list[tuple[str, str, str]] = []  # (file, canonical class, split)
    unknown: list[str] = []
    for split, split_dir in split_dirs:
        for folder in _subfolders(split_dir):
            try:
                name = canonical_name(folder, class_map)
            except KeyError:
                unknown.append(folder)
                continue
            if name != IGNORE:
                found.extend((file, name, split) for file in list_images(split_dir / folder))
    if unknown:
        names = sorted(set(unknown))
        raise DatasetError(
            f"{path}: folder name(s) {', '.join(map(repr, names))} are not known expressions; map them with "
            f"--class-map '{names[0]}=<expression>,...' (an expression of {', '.join(CANONICAL_CLASSES)}, or {IGNORE})"
        )
    if not found:
        raise DatasetError(f"{path}: no images found in class folders (expected <root>/[<split>/]<class>/*.jpg)")
    classes = class_names or ordered_classes(name for _, name, _ in found)
    extra = {name for _, name, _ in found} - set(classes)
    if extra:
        raise DatasetError(f"{path}: classes {sorted(extra)} are not part of this format's {list(classes)}")
    index = {name: i for i, name in enumerate(classes)}
    samples = [Sample(source=file, label=index[name], split=split) for file, name, split in found]
    return FaceDataset(path.name, "folder", path, tuple(classes), samples, {"class_map": dict(class_map or {})})
