"""AffectNet: ``training.csv`` / ``validation.csv`` manifests, faces cropped by their box."""

from __future__ import annotations

from pathlib import Path

from ...errors import DatasetError
from ...labels import AFFECTNET_CODES, CANONICAL_CLASSES, IGNORE
from ..dataset import FaceDataset, Sample
from ..problems import Problems, read_csv_rows
from .registry import csv_header, register_format

MANIFESTS = {"training.csv": "train", "validation.csv": "val"}
IMAGE_FOLDER = "Manually_Annotated_Images"
REQUIRED = ("subDirectory_filePath", "face_x", "face_y", "face_width", "face_height", "expression")


def _detect(path: Path) -> bool:
    if path.is_file():
        return "subDirectory_filePath" in csv_header(path)
    return any((path / name).is_file() for name in MANIFESTS)


@register_format(
    "affectnet",
    "AffectNet: training.csv / validation.csv manifests + Manually_Annotated_Images/ (codes 0-7; 8-10 dropped)",
    _detect,
)
def read_affectnet(path: Path, *, strict: bool = False) -> FaceDataset:
    """Read AffectNet manifests (a folder holding them, or one csv); images relative to the folder."""
    if path.is_file():
        root, manifests = path.parent, [(MANIFESTS.get(path.name, "all"), path)]
    else:
        root = path
        manifests = [(split, path / name) for name, split in MANIFESTS.items() if (path / name).is_file()]
        if not manifests:
            raise DatasetError(f"{path}: no AffectNet manifest ({' or '.join(MANIFESTS)})")
    image_root = root / IMAGE_FOLDER if (root / IMAGE_FOLDER).is_dir() else root
    index = {name: i for i, name in enumerate(CANONICAL_CLASSES)}
    problems = Problems(strict)
    samples = []
    for split, manifest in manifests:
        for line, row in read_csv_rows(manifest, problems, required=REQUIRED):
            where = f"{manifest}:{line}"
            try:
                code = int(row["expression"])
                box = tuple(int(float(row[k])) for k in ("face_x", "face_y", "face_width", "face_height"))
            except ValueError:
                problems.add(f"{where}: expression and face box must be numbers")
                continue
            if code not in AFFECTNET_CODES:
                problems.add(f"{where}: unknown expression code {code} (expected 0-10)")
                continue
            if AFFECTNET_CODES[code] == IGNORE:
                continue
            image = image_root / row["subDirectory_filePath"].strip()
            samples.append(Sample(str(image), index[AFFECTNET_CODES[code]], split, box=box))  # type: ignore[arg-type]
    problems.warn(str(path))
    return FaceDataset("affectnet", "affectnet", root, CANONICAL_CLASSES, samples)
