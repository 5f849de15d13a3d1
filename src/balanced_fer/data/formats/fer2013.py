"""FER2013: the original ``fer2013.csv`` and the Kaggle image-folder layout."""

from __future__ import annotations

from pathlib import Path

from ...labels import FER2013_CODES, SEVEN_CLASSES
from ..dataset import FaceDataset, Sample
from ..problems import Problems, read_csv_rows
from .folder import is_split_folder_layout, read_folder
from .registry import csv_header, register_format

USAGE_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
KAGGLE_FOLDERS = {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}


def _detect(path: Path) -> bool:
    if path.is_file():
        return {"emotion", "pixels"} <= set(csv_header(path))
    if (path / "fer2013.csv").is_file() and not is_split_folder_layout(path):
        return True
    return is_split_folder_layout(path, class_folders=KAGGLE_FOLDERS)


@register_format(
    "fer2013",
    "FER2013: fer2013.csv (emotion,pixels,Usage) or Kaggle folders <split>/<class>/*.jpg",
    _detect,
)
def read_fer2013(path: Path, *, strict: bool = False) -> FaceDataset:
    """Read FER2013 from its csv (a file, or a folder holding ``fer2013.csv``) or Kaggle folders."""
    if path.is_dir() and (path / "fer2013.csv").is_file() and not is_split_folder_layout(path):
        path = path / "fer2013.csv"
    if path.is_file():
        return _read_csv(path, strict)
    dataset = read_folder(path, strict=strict, class_names=SEVEN_CLASSES)
    dataset.name = dataset.format = "fer2013"
    return dataset


def _read_csv(path: Path, strict: bool) -> FaceDataset:
    problems = Problems(strict)
    index = {name: i for i, name in enumerate(SEVEN_CLASSES)}
    samples = []
    for line, row in read_csv_rows(path, problems, required=("emotion", "pixels")):
        code, usage = row["emotion"].strip(), row.get("Usage", "").strip()
        if not code.isdigit() or int(code) not in FER2013_CODES:
            problems.add(f"{path}:{line}: unknown emotion code {code!r} (expected 0-6)")
            continue
        if usage and usage not in USAGE_SPLITS:
            problems.add(f"{path}:{line}: unknown Usage {usage!r} (expected {', '.join(USAGE_SPLITS)})")
            continue
        samples.append(
            Sample(
                source=f"{path}:{line}",
                label=index[FER2013_CODES[int(code)]],
                split=USAGE_SPLITS.get(usage, "all"),
                pixels=row["pixels"],
            )
        )
    problems.warn(str(path), kept=len(samples))
    return FaceDataset("fer2013", "fer2013", path, SEVEN_CLASSES, samples)
