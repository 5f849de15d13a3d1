"""Prediction over image files and folders, written as JSON lines or CSV (``bfer predict``)."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import TextIO

import cv2
import torch
from tqdm.auto import tqdm

from ..data import MAX_PIXELS, read_image
from ..data.formats.folder import IMAGE_SUFFIXES
from ..errors import BalancedFerError, ImageError
from . import FILE_BATCH
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
    batch_size: int = FILE_BATCH,
    workers: int = 1,
    progress: bool = True,
    max_pixels: int = MAX_PIXELS,
) -> Iterator[dict]:
    """One record per file, in order: ``path`` and ``faces`` (box, landmarks, label, scores). With
    ``detect=False`` each image is one face crop (box = the whole image). An unreadable file gets a
    record with its ``error`` and is counted in a warning, never fatal. ``annotate_dir`` receives a
    copy of each image with its faces drawn. A file of more than ``max_pixels`` is refused from its
    header, before decoding. Files go ``batch_size`` at a time, to ``workers`` processes when more than
    one (each loads its own copy of the recognizer)."""
    targets = _annotation_targets(files, annotate_dir)
    chunks = [
        (files[i : i + batch_size], targets[i : i + batch_size], detect, max_pixels)
        for i in range(0, len(files), batch_size)
    ]
    tally = Counter()
    with ExitStack() as stack:
        if workers > 1:
            pool = stack.enter_context(
                ProcessPoolExecutor(
                    workers,
                    mp_context=_spawn(),
                    initializer=_start_worker,
                    initargs=(recognizer.__getstate__() | {"threads": recognizer.threads or 1},),
                )
            )
            results = pool.map(_predict_chunk_in_worker, chunks)
        else:
            results = (_predict_chunk(recognizer, *chunk) for chunk in chunks)
        bar = stack.enter_context(tqdm(total=len(files), desc="predicting", unit="img", disable=not progress))
        for records, counts in results:
            tally.update(counts)
            yield from records
            bar.update(len(records))
    if tally["unreadable"]:
        log.warning(
            "%d of %d images could not be read (their records carry the error)", tally["unreadable"], len(files)
        )
    if tally["faceless"]:
        log.warning("%s", no_face_hint(tally["faceless"], tally["small"], len(files)))


def _predict_chunk(
    recognizer: Recognizer, paths: list[Path], targets: list[Path | None], detect: bool, max_pixels: int
) -> tuple[list[dict], Counter]:
    """Records for some files, and how many were unreadable, had no face, and were small."""
    images, records, counts = [], [], Counter()
    for path in paths:
        try:
            images.append(read_image(path, 3, max_pixels))
            records.append({"path": str(path)})
        except ImageError as err:
            counts["unreadable"] += 1
            records.append({"path": str(path), "error": str(err), "faces": []})
    if detect:
        found = recognizer.predict_batch(images, color_order="rgb")  # read_image gives RGB
    else:
        found = [
            [Face(p.label, p.scores, (0.0, 0.0, float(im.shape[1]), float(im.shape[0])))]
            for im, p in zip(images, recognizer.classify(images, color_order="rgb"))
        ]
    results, pictures = iter(found), iter(images)
    for record, target in zip(records, targets):
        if "error" in record:
            continue
        faces, image = next(results), next(pictures)
        record["faces"] = [face.to_dict() for face in faces]
        if not faces:
            counts["faceless"] += 1
            counts["small"] += max(image.shape[:2]) <= CROP_SIDE
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(target), annotate(image, faces))
    return records, counts


_worker_recognizer: Recognizer | None = None


def _start_worker(arguments: dict) -> None:
    """A worker process loads its recognizer once (one thread unless told otherwise: the processes
    share the cores)."""
    global _worker_recognizer
    torch.set_num_threads(arguments["threads"])  # a PyTorch checkpoint's threads, in this process only
    _worker_recognizer = Recognizer(**arguments)


def _predict_chunk_in_worker(chunk: tuple) -> tuple[list[dict], Counter]:
    return _predict_chunk(_worker_recognizer, *chunk)


def _spawn():
    import multiprocessing

    return multiprocessing.get_context("spawn")  # not fork: onnxruntime's and LiteRT's threads do not survive it


def _annotation_targets(files: list[Path], folder: Path | None) -> list[Path | None]:
    """Where each file's annotated copy goes: ``<stem>.jpg`` in ``folder``, numbered when stems repeat."""
    if folder is None:
        return [None] * len(files)
    used: set[str] = set()
    targets = []
    for source in files:
        name, n = f"{source.stem}.jpg", 1
        while name in used:
            n += 1
            name = f"{source.stem}_{n}.jpg"
        used.add(name)
        targets.append(folder / name)
    return targets


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
