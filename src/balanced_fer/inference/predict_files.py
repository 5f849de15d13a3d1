"""Prediction over image files and folders, written as JSON lines or CSV (``bfer predict``)."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import cv2
from tqdm.auto import tqdm

from ..data import MAX_PIXELS, read_image
from ..data.formats.folder import IMAGE_SUFFIXES
from ..errors import BalancedFerError, ImageError
from .annotate import annotate
from .recognizer import Face, Recognizer
from .results import face_rows, table_columns

log = logging.getLogger("balanced_fer")


def image_files(paths: list[str]) -> list[Path]:
    """The images named, and those under folders (recursively, sorted). A missing path, or nothing to
    read, is an error; folders that cannot be listed and files that are not regular files (a FIFO
    named .jpg would block the run) are skipped with a warning naming them."""
    found: list[Path] = []
    skipped: list[str] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found += sorted(
                Path(root) / f
                for root, _, files in os.walk(
                    path, onerror=lambda err: skipped.append(f"{err.filename} ({err.strerror})")
                )
                for f in files
                if os.path.splitext(f)[1].lower() in IMAGE_SUFFIXES and _regular(Path(root) / f, skipped)
            )
        elif path.is_file():
            found.append(path)
        elif path.exists():
            raise BalancedFerError(f"{path}: not a regular file or folder")
        else:
            raise BalancedFerError(f"{path}: no such file or folder")
    if skipped:
        log.warning("skipped %d unreadable folder(s) or special file(s): %s", len(skipped), "; ".join(skipped[:5]))
    if not found:
        raise BalancedFerError(f"no images in {', '.join(paths)} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def _regular(path: Path, skipped: list[str]) -> bool:
    if path.is_file():
        return True
    skipped.append(f"{path} (not a regular file)")
    return False


def predict_files(
    recognizer: Recognizer,
    files: list[Path],
    *,
    detect: bool = True,
    annotate_dir: Path | None = None,
    batch_size: int = 64,
    progress: bool = True,
    max_pixels: int = MAX_PIXELS,
) -> Iterator[dict]:
    """One record per file: ``path`` and ``faces`` (box, landmarks, label, scores). With
    ``detect=False`` each image is one face crop (box = the whole image). An unreadable file gets a
    record with its ``error`` and is counted in a warning, never fatal. ``annotate_dir`` receives a
    copy of each image with its faces drawn. A file of more than ``max_pixels`` is refused from its
    header, before decoding."""
    bad, used, faceless, small = 0, set(), 0, 0
    with tqdm(total=len(files), desc="predicting", unit="img", disable=not progress) as bar:
        for start in range(0, len(files), batch_size):
            chunk, images, records = files[start : start + batch_size], [], []
            for path in chunk:
                try:
                    images.append(read_image(path, 3, max_pixels))
                    records.append({"path": str(path)})
                except ImageError as err:
                    bad += 1
                    records.append({"path": str(path), "error": str(err), "faces": []})
            if detect:
                found = recognizer.predict_batch(images, color_order="rgb")  # read_image gives RGB
            else:
                found = [
                    [Face(p.label, p.scores, (0.0, 0.0, float(im.shape[1]), float(im.shape[0])))]
                    for im, p in zip(images, recognizer.classify(images, color_order="rgb"))
                ]
            results, pictures = iter(found), iter(images)
            for record in records:
                if "error" not in record:
                    faces, image = next(results), next(pictures)
                    record["faces"] = [face.to_dict() for face in faces]
                    if not faces:
                        faceless += 1
                        small += max(image.shape[:2]) <= CROP_SIDE
                    if annotate_dir is not None:
                        target = _unique(annotate_dir, Path(record["path"]), used)
                        cv2.imwrite(str(target), annotate(image, faces))
                yield record
            bar.update(len(chunk))
    if bad:
        log.warning("%d of %d images could not be read (their records carry the error)", bad, len(files))
    if faceless:
        log.warning("%s", no_face_hint(faceless, small, len(files)))


CROP_SIDE = 160  # images this small with no face found are likely face crops (FER2013's are 48 px)


def no_face_hint(faceless: int, small: int, total: int) -> str:
    """The end-of-run line for images where the detector found no face."""
    line = f"no face found in {faceless} of {total} images"
    if small * 2 >= faceless:  # mostly small pictures: likely crops that are all face, too tight to detect
        line += (
            f"; {small} of them are at most {CROP_SIDE} px, like face crops: if the images are crops of one "
            "face each, run with --no-detect (detect=False) to score each whole image"
        )
    return line


def _unique(folder: Path, source: Path, used: set[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    name, n = f"{source.stem}.jpg", 1
    while name in used:
        n += 1
        name = f"{source.stem}_{n}.jpg"
    used.add(name)
    return folder / name


def describe(record: dict) -> str:
    """One image's (or video frame's) record as readable lines."""
    where = record["path"] + (f" frame {record['frame']}" if "frame" in record else "")
    if record.get("error"):
        return f"{where}: error: {record['error']}\n"
    faces = record["faces"]
    lines = [f"{where}: {len(faces)} face{'s' * (len(faces) != 1)}"]
    for i, face in enumerate(faces, 1):
        x, y, w, h = (round(v) for v in face["box"])
        top = sorted(face["scores"].items(), key=lambda item: -item[1])[:3]
        scores = ", ".join(f"{name} {100 * p:.0f}%" for name, p in top)
        lines.append(f"  face {i} at x={x} y={y} {w}x{h}: {face['label']} ({scores})")
    return "\n".join(lines) + "\n"


def write_records(records: Iterator[dict], out: TextIO, fmt: str, classes: list[str]) -> int:
    """Write records as ``jsonl`` (one object per image), ``csv`` (one row per face) or ``text`` (for
    people: each face's box and its three highest scores); returns the count."""
    count = 0
    if fmt in ("jsonl", "text"):
        for record in records:
            out.write(json.dumps(record) + "\n" if fmt == "jsonl" else describe(record))
            count += 1
        return count
    columns = table_columns(classes)
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    for record in records:
        count += 1
        for row in face_rows([record], classes):
            writer.writerow({k: f"{v:.6f}" if k.startswith("score_") else v for k, v in row.items()})
    return count
