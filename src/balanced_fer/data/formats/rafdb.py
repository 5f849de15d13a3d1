"""RAF-DB basic: ``EmoLabel/list_patition_label.txt`` and ``Image/aligned/*_aligned.jpg``."""

from __future__ import annotations

from pathlib import Path

from ...errors import DatasetError
from ...labels import RAFDB_CODES, SEVEN_CLASSES
from ..dataset import FaceDataset, Sample
from ..problems import Problems
from .registry import register_format

LABEL_FILE = Path("EmoLabel") / "list_patition_label.txt"  # sic: the published spelling


@register_format(
    "rafdb",
    "RAF-DB basic: EmoLabel/list_patition_label.txt + Image/aligned/*_aligned.jpg (codes 1-7)",
    lambda path: (path / LABEL_FILE).is_file(),
)
def read_rafdb(path: Path, *, strict: bool = False, aligned: bool = True) -> FaceDataset:
    """Read RAF-DB basic; ``aligned`` picks ``Image/aligned/X_aligned.jpg`` over ``Image/original/X.jpg``."""
    label_file = path / LABEL_FILE
    if not label_file.is_file():
        raise DatasetError(f"{path}: not a RAF-DB folder (no {LABEL_FILE})")
    problems = Problems(strict)
    index = {name: i for i, name in enumerate(SEVEN_CLASSES)}
    samples = []
    for line_number, line in enumerate(label_file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{label_file}:{line_number}"
        fields = line.split()
        if len(fields) != 2 or not fields[1].isdigit() or int(fields[1]) not in RAFDB_CODES:
            problems.add(f"{where}: expected '<name>.jpg <code 1-7>', found {line.strip()!r}")
            continue
        name, code = fields[0], int(fields[1])
        split = name.split("_", 1)[0]
        if split not in ("train", "test"):
            problems.add(f"{where}: image name {name!r} starts with neither train_ nor test_")
            continue
        stem, suffix = name.rsplit(".", 1)
        image = (
            path / "Image" / ("aligned" if aligned else "original") / (f"{stem}_aligned.{suffix}" if aligned else name)
        )
        samples.append(Sample(str(image), index[RAFDB_CODES[code]], split))
    problems.warn(str(label_file))
    return FaceDataset("rafdb", "rafdb", path, SEVEN_CLASSES, samples, {"aligned": aligned})
