"""FER+: ``FER2013Train|Valid|Test/`` folders with headerless ``label.csv``, or ``fer2013new.csv``.

Label modes (``label_mode``), after Microsoft's FERPlus reference code (``ferplus.py``):

* ``majority`` (the FER+ paper, the default): a face is kept when one emotion holds more than half
  of its votes and that emotion is not unknown / not-a-face. On FER2013Train this gives the
  published counts (neutral 7485 ... disgust 52, contempt 76).
* ``probability``: soft targets from the top emotions covering 75% of the votes (at most three),
  kept when they cover more than half; the hard label is their argmax.
* ``plurality``: the most-voted of the ten columns; faces whose top vote is unknown / not-a-face, or
  tied between emotions, are dropped.

``drop_single_votes`` removes emotions that got a single vote before the rule is applied, as the
reference training code does ("outlier removal"); it keeps more faces (FER2013Train majority:
neutral 8733 ... disgust 116, contempt 120). Off by default so that counts match the paper's table.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import DatasetError
from ...labels import CANONICAL_CLASSES, FERPLUS_VOTE_COLUMNS
from ..dataset import FaceDataset, Sample
from ..problems import Problems, read_csv_rows
from .registry import csv_header, register_format

LABEL_MODES = ("majority", "plurality", "probability")
SPLIT_FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
USAGE_FOLDERS = {"Training": "FER2013Train", "PublicTest": "FER2013Valid", "PrivateTest": "FER2013Test"}
MASTER_VOTE_COLUMNS = CANONICAL_CLASSES + ("unknown", "NF")  # fer2013new.csv header
LABEL_COLUMNS = ("image", "box") + FERPLUS_VOTE_COLUMNS
NUM_EMOTIONS = len(CANONICAL_CLASSES)
_BOX = re.compile(r"^\(\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)$")


def _detect(path: Path) -> bool:
    if path.is_file():
        return path.name == "label.csv" or {"Image name", "Usage"} <= set(csv_header(path))
    return (path / "label.csv").is_file() or any((path / f / "label.csv").is_file() for f in SPLIT_FOLDERS)


@register_format(
    "ferplus",
    "FER+: FER2013Train|Valid|Test/ with label.csv (10 votes), or fer2013new.csv; --label-mode majority|plurality|probability",
    _detect,
)
def read_ferplus(
    path: Path, *, strict: bool = False, label_mode: str = "majority", drop_single_votes: bool = False
) -> FaceDataset:
    """Read FER+ labels and images with one of :data:`LABEL_MODES`."""
    if label_mode not in LABEL_MODES:
        raise DatasetError(f"unknown FER+ label mode {label_mode!r} (expected one of {', '.join(LABEL_MODES)})")
    problems = Problems(strict)
    rule = LabelRule(label_mode, drop_single_votes)
    if path.is_file() and path.name != "label.csv":
        samples = _read_master(path, rule, problems)
        root = path.parent
    else:
        label_files = _label_files(path)
        samples = [s for split, f in label_files for s in _read_label_csv(f, split, rule, problems)]
        root = path if path.is_dir() else path.parent
    problems.warn(str(path))
    options = {"label_mode": label_mode, "drop_single_votes": drop_single_votes}
    return FaceDataset("ferplus", "ferplus", root, CANONICAL_CLASSES, samples, options)


def _label_files(path: Path) -> list[tuple[str, Path]]:
    if path.is_file():
        return [(SPLIT_FOLDERS.get(path.parent.name, "all"), path)]
    if (path / "label.csv").is_file():
        return [(SPLIT_FOLDERS.get(path.name, "all"), path / "label.csv")]
    files = [(split, path / folder / "label.csv") for folder, split in SPLIT_FOLDERS.items()]
    files = [(split, f) for split, f in files if f.is_file()]
    if not files:
        raise DatasetError(f"{path}: no FER2013Train/FER2013Valid/FER2013Test folder with a label.csv")
    return files


def _read_label_csv(path: Path, split: str, rule: LabelRule, problems: Problems) -> list[Sample]:
    samples = []
    for line, row in read_csv_rows(path, problems, columns=LABEL_COLUMNS):
        where = f"{path}:{line}"
        box = _BOX.match(row["box"].strip())
        votes = _votes([row[c] for c in FERPLUS_VOTE_COLUMNS], where, problems)
        if box is None:
            problems.add(f"{where}: face box {row['box']!r} is not '(x, y, w, h)'")
        elif votes is not None:
            face_box = tuple(int(v) for v in box.groups())
            sample = _labelled(os.path.join(path.parent, row["image"].strip()), split, votes, rule, face_box)
            if sample is not None:
                samples.append(sample)
    return samples


def _read_master(path: Path, rule: LabelRule, problems: Problems) -> list[Sample]:
    samples = []
    for line, row in read_csv_rows(path, problems, required=("Usage", "Image name") + MASTER_VOTE_COLUMNS):
        where = f"{path}:{line}"
        usage, name = row["Usage"].strip(), row["Image name"].strip()
        if usage not in USAGE_FOLDERS:
            problems.add(f"{where}: unknown Usage {usage!r} (expected {', '.join(USAGE_FOLDERS)})")
            continue
        if not name:  # FER+ dropped these faces as not-a-face
            continue
        votes = _votes([row[c] for c in MASTER_VOTE_COLUMNS], where, problems)
        folder = USAGE_FOLDERS[usage]
        if votes is not None:
            sample = _labelled(os.path.join(path.parent, folder, name), SPLIT_FOLDERS[folder], votes, rule)
            if sample is not None:
                samples.append(sample)
    return samples


def _votes(fields: list[str], where: str, problems: Problems) -> list[float] | None:
    try:
        votes = [float(v) for v in fields]
    except ValueError:
        problems.add(f"{where}: vote counts {fields} are not numbers")
        return None
    if min(votes) < 0:
        problems.add(f"{where}: negative vote count in {fields}")
        return None
    return votes


@dataclass(frozen=True)
class LabelRule:
    """How ten vote counts become a label: a :data:`LABEL_MODES` entry and the outlier option."""

    mode: str
    drop_single_votes: bool = False


def _labelled(
    image: str, split: str, votes: list[float], rule: LabelRule, box: tuple[int, ...] | None = None
) -> Sample | None:
    target = ferplus_target(votes, rule.mode, rule.drop_single_votes)
    if target is None:
        return None
    label = max(range(NUM_EMOTIONS), key=target.__getitem__)
    soft = tuple(target) if rule.mode == "probability" else None
    return Sample(image, label, split, box=box, soft_label=soft)  # type: ignore[arg-type]


def ferplus_target(votes: list[float], mode: str, drop_single_votes: bool = False) -> list[float] | None:
    """The 8-emotion target distribution for ten vote counts, or None when the face is dropped."""
    if drop_single_votes:
        votes = [0.0 if v <= 1.0 else v for v in votes]
    peak, total = max(votes), sum(votes)
    if mode == "plurality":
        if peak <= 0 or votes.count(peak) > 1:
            return None
        emotion = [v if v == peak else 0.0 for v in votes]
    elif mode == "majority":
        emotion = [v if v == peak and peak > 0.5 * total else 0.0 for v in votes]
    else:
        emotion = _probability_votes(votes, total)
    if sum(emotion) <= 0 or emotion.index(max(emotion)) >= NUM_EMOTIONS:
        return None
    kept = sum(emotion[:NUM_EMOTIONS])
    return [v / kept for v in emotion[:NUM_EMOTIONS]]


def _probability_votes(votes: list[float], total: float) -> list[float]:
    """Microsoft's ``probability`` rule: the top emotions until 75% of votes, at most three."""
    raw = list(votes)
    emotion = [0.0] * len(raw)
    covered, count, valid = 0.0, 0, True
    while covered < 0.75 * total and count < 3 and valid:
        peak = max(raw)
        for i, value in enumerate(raw):
            if value == peak:
                emotion[i], raw[i] = peak, 0.0
                covered += peak
                count += 1
                if i >= NUM_EMOTIONS:  # unknown or not-a-face ties with the peak
                    valid = False
                    if sum(emotion) > peak:  # other emotions came first: drop the unknown share
                        emotion[i] = 0.0
                        count -= 1
                    break
    if sum(emotion) <= 0.5 * total or count > 3:
        return [0.0] * len(raw)
    return emotion
