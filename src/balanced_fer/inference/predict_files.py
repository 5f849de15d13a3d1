"""Prediction over image files and folders, written as JSON lines or CSV (``bfer predict``)."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from tqdm.auto import tqdm

from ..data import read_image
from ..data.formats.folder import IMAGE_SUFFIXES
from ..errors import BalancedFerError, ImageError
from .recognizer import Recognizer

log = logging.getLogger("balanced_fer")


def image_files(paths: list[str]) -> list[Path]:
    """The images named, and those under folders (recursively, sorted); a missing path is an error."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(
                Path(root) / f
                for root, _, files in os.walk(path)
                for f in files
                if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES
            )
        elif path.is_file():
            found.append(path)
        else:
            raise BalancedFerError(f"{path}: no such file or folder")
    return found


def predict_crops(
    recognizer: Recognizer, files: list[Path], batch_size: int = 256, progress: bool = True
) -> Iterator[dict]:
    """One record per file, each image taken as one face crop: path, faces (box, label, scores)
    or an error for an unreadable file (counted in a warning, never fatal)."""
    channels = recognizer.meta["preprocessing"]["channels"]
    bad = 0
    with tqdm(total=len(files), desc="predicting", unit="img", disable=not progress) as bar:
        for start in range(0, len(files), batch_size):
            chunk, faces, records = files[start : start + batch_size], [], []
            for path in chunk:
                try:
                    faces.append(read_image(path, channels))
                    records.append({"path": str(path)})
                except ImageError as err:
                    bad += 1
                    records.append({"path": str(path), "error": str(err), "faces": []})
            predictions = iter(recognizer.classify(faces))
            images = iter(faces)
            for record in records:
                if "error" not in record:
                    h, w = next(images).shape[:2]
                    p = next(predictions)
                    record["faces"] = [{"box": [0, 0, w, h], "label": p.label, "scores": p.scores}]
                yield record
            bar.update(len(chunk))
    if bad:
        log.warning("%d of %d images could not be read (their records carry the error)", bad, len(files))


def write_records(records: Iterator[dict], out: TextIO, fmt: str, classes: list[str]) -> int:
    """Write records as ``jsonl`` (one object per image) or ``csv`` (one row per face); returns the count."""
    count = 0
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record) + "\n")
            count += 1
        return count
    writer = csv.writer(out)
    writer.writerow(["path", "label"] + [f"score_{c}" for c in classes] + ["error"])
    for record in records:
        count += 1
        if record.get("error"):
            writer.writerow([record["path"], ""] + [""] * len(classes) + [record["error"]])
        for face in record["faces"]:
            writer.writerow([record["path"], face["label"]] + [f"{face['scores'][c]:.6f}" for c in classes] + [""])
    return count
