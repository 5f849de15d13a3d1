"""CK+: the ``CK+48/<class>/`` layout, or the original sequences with ``Emotion/`` label files."""

from __future__ import annotations

from pathlib import Path

from ...errors import DatasetError
from ...labels import CKPLUS_CODES, canonical_name, ordered_classes
from ..dataset import FaceDataset, Sample
from ..problems import Problems
from .folder import list_images, read_folder
from .registry import register_format

SEQUENCE_IMAGES, SEQUENCE_LABELS = "cohn-kanade-images", "Emotion"


def _detect(path: Path) -> bool:
    return path.name == "CK+48" or (path / "CK+48").is_dir() or (path / SEQUENCE_LABELS).is_dir()


@register_format(
    "ckplus",
    "CK+: CK+48/<class>/*.png, or cohn-kanade-images/ + Emotion/ sequences (last --peak-frames frames)",
    _detect,
)
def read_ckplus(
    path: Path, *, strict: bool = False, peak_frames: int = 3, include_neutral: bool = False
) -> FaceDataset:
    """Read CK+. Sequences give their last ``peak_frames`` frames the sequence's label, and with
    ``include_neutral`` their first frame the label neutral. Everything is split ``all``: CK+ has no
    official split (use subject-wise folds)."""
    if (path / SEQUENCE_LABELS).is_dir():
        return _read_sequences(path, strict, peak_frames, include_neutral)
    folder = path if path.name == "CK+48" or not (path / "CK+48").is_dir() else path / "CK+48"
    dataset = read_folder(folder, strict=strict)
    dataset.name = dataset.format = "ckplus"
    return dataset


def _read_sequences(path: Path, strict: bool, peak_frames: int, include_neutral: bool) -> FaceDataset:
    if peak_frames < 1:
        raise DatasetError(f"peak_frames must be at least 1, got {peak_frames}")
    images_root = path / SEQUENCE_IMAGES
    if not images_root.is_dir():
        raise DatasetError(f"{path}: no {SEQUENCE_IMAGES}/ folder beside {SEQUENCE_LABELS}/")
    problems = Problems(strict)
    labelled: list[tuple[str, str]] = []
    for label_file in sorted((path / SEQUENCE_LABELS).glob("*/*/*_emotion.txt")):
        try:
            code = int(float(label_file.read_text().strip()))
            name = canonical_name(CKPLUS_CODES[code])
        except (ValueError, KeyError):
            problems.add(f"{label_file}: expected one emotion code 0-7")
            continue
        subject, sequence = label_file.parent.parent.name, label_file.parent.name
        frames = list_images(images_root / subject / sequence) if (images_root / subject / sequence).is_dir() else []
        if not frames:
            problems.add(f"{label_file}: no frames in {images_root / subject / sequence}")
            continue
        labelled.extend((frame, name) for frame in frames[-peak_frames:])
        if include_neutral:
            labelled.append((frames[0], "neutral"))
    problems.warn(str(path))
    if not labelled:
        raise DatasetError(f"{path}: no labelled CK+ sequence found under {SEQUENCE_LABELS}/")
    classes = ordered_classes(name for _, name in labelled)
    index = {name: i for i, name in enumerate(classes)}
    samples = [Sample(frame, index[name], "all") for frame, name in labelled]
    options = {"peak_frames": peak_frames, "include_neutral": include_neutral}
    return FaceDataset("ckplus", "ckplus", path, classes, samples, options)
