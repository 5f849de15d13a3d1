"""Decoded, resized uint8 face arrays, memory-mapped from a cache built once per dataset split.

A cache entry is keyed by (dataset root, format options, split, size, channels) plus a fingerprint
of every sample (source, label, box, file size and modification time), so editing, adding or
removing an image or a label rebuilds it. Entries are written to a temporary folder and renamed
into place, so an interrupted build never leaves a half-written cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..errors import DatasetError, ImageError
from .dataset import FaceDataset, Sample, resize_square
from .problems import Problems

CACHE_VERSION = 1
CHUNK = 256


def default_cache_dir() -> Path:
    """``$BFER_CACHE_DIR``, else ``$XDG_CACHE_HOME/balanced-fer``, else ``~/.cache/balanced-fer``."""
    if os.environ.get("BFER_CACHE_DIR"):
        return Path(os.environ["BFER_CACHE_DIR"]).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "balanced-fer"


@dataclass
class FaceArrays:
    """One dataset split as arrays: ``images`` is (N, size, size, channels) uint8, memory-mapped."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    sources: list[str]
    content_hashes: np.ndarray
    soft_labels: np.ndarray | None
    skipped: list[str]
    path: Path

    def __len__(self) -> int:
        return len(self.labels)


def load_arrays(
    dataset: FaceDataset,
    split: str,
    size: int = 48,
    channels: int = 1,
    *,
    cache_dir: Path | None = None,
    strict: bool = False,
    rebuild: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> FaceArrays:
    """Arrays of ``dataset``'s ``split`` at ``size`` x ``size`` with 1 (grey) or 3 (RGB) channels,
    built on first use (in parallel, with a progress bar) and memory-mapped afterwards."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    part = dataset.split(split)
    if not part.samples:
        raise DatasetError(f"{dataset.root}: split {split!r} has no samples")
    prefix, fingerprint = _entry_name(part, split, size, channels)
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    entry = root / f"{prefix}-{fingerprint}"
    if rebuild or not (entry / "meta.json").is_file():
        _build(part, entry, size, channels, strict, workers, progress, f"caching {dataset.name}/{split}", rebuild)
        for stale in root.glob(f"{prefix}-*"):
            if stale != entry:
                shutil.rmtree(stale, ignore_errors=True)
    return _open(entry)


def _entry_name(part: FaceDataset, split: str, size: int, channels: int) -> tuple[str, str]:
    where = hashlib.sha256(f"{part.root}|{part.format}|{sorted(part.options.items())}".encode()).hexdigest()[:10]
    prefix = f"{part.name}-{where}-{split}-{size}px-{channels}c"
    digest = hashlib.sha256(f"v{CACHE_VERSION}|{part.class_names}".encode())
    stats: dict[str, str] = {}
    for sample in part.samples:
        origin = str(part.root) if sample.pixels is not None else sample.source
        if origin not in stats:
            try:
                st = os.stat(origin)
                stats[origin] = f"{st.st_size}:{st.st_mtime_ns}"
            except OSError:
                stats[origin] = "missing"
        digest.update(f"\n{sample.source}|{sample.label}|{sample.box}|{sample.soft_label}|{stats[origin]}".encode())
    return prefix, digest.hexdigest()[:16]


def _build(
    part: FaceDataset,
    entry: Path,
    size: int,
    channels: int,
    strict: bool,
    workers: int | None,
    progress: bool,
    description: str,
    replace: bool = False,
) -> None:
    """Decode into a staging folder and rename it to ``entry``; ``replace`` swaps out an existing
    entry (a rebuild), otherwise an entry another process finished meanwhile is kept."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{entry.name}-", dir=entry.parent))
    try:
        samples = part.samples
        images = np.lib.format.open_memmap(
            staging / "images.npy", mode="w+", dtype=np.uint8, shape=(len(samples), size, size, channels)
        )
        hashes = np.zeros(len(samples), dtype="S40")
        problems = Problems(strict, kind="image")
        failed: list[int] = []

        def work(start: int) -> list[tuple[int, str]]:
            errors = []
            for i in range(start, min(start + CHUNK, len(samples))):
                try:
                    hashes[i], images[i] = _prepare(samples[i], size, channels)
                except ImageError as err:
                    errors.append((i, str(err)))
            return errors

        with (
            ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool,
            tqdm(total=len(samples), desc=description, unit="img", disable=not progress, leave=False) as bar,
        ):
            for start, errors in zip(range(0, len(samples), CHUNK), pool.map(work, range(0, len(samples), CHUNK))):
                for i, message in errors:
                    failed.append(i)
                    problems.add(message)
                bar.update(min(CHUNK, len(samples) - start))
        problems.warn(f"{part.root} [{samples[0].split}]")
        keep = np.setdiff1d(np.arange(len(samples)), failed)
        if len(keep) == 0:
            raise DatasetError(f"{part.root}: none of the {len(samples)} images could be read")
        images.flush()
        if failed:
            compact = np.lib.format.open_memmap(
                staging / "kept.npy", mode="w+", dtype=np.uint8, shape=(len(keep), size, size, channels)
            )
            compact[:] = images[keep]
            compact.flush()
            del images
            os.replace(staging / "kept.npy", staging / "images.npy")
        else:
            del images
        kept = [samples[i] for i in keep]
        np.save(staging / "labels.npy", np.array([s.label for s in kept], dtype=np.int64))
        np.save(staging / "hashes.npy", hashes[keep])
        if kept[0].soft_label is not None:
            np.save(staging / "soft_labels.npy", np.array([s.soft_label for s in kept], dtype=np.float32))
        meta = {
            "version": CACHE_VERSION,
            "class_names": list(part.class_names),
            "sources": [s.source for s in kept],
            "skipped": [samples[i].source for i in failed],
        }
        (staging / "meta.json").write_text(json.dumps(meta))
        if entry.exists() and not replace:  # another process finished the same build first: keep its entry
            return
        if replace and entry.exists():  # a rebuild: move the old entry aside first, so readers never see it half gone
            retired = staging.with_name(staging.name + "-old")
            os.replace(entry, retired)
            shutil.rmtree(retired, ignore_errors=True)
        try:
            os.replace(staging, entry)
        except OSError:
            if not (entry / "meta.json").is_file():  # not another process finishing the same build first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _prepare(sample: Sample, size: int, channels: int) -> tuple[str, np.ndarray]:
    """Content hash and resized pixels of one sample, shaped (size, size, channels)."""
    data = sample.read_bytes()
    image = resize_square(sample.decode(channels, data), size)
    return sample.content_hash(data), image.reshape(size, size, channels)


def _open(entry: Path) -> FaceArrays:
    meta = json.loads((entry / "meta.json").read_text())
    soft = entry / "soft_labels.npy"
    return FaceArrays(
        images=np.load(entry / "images.npy", mmap_mode="r"),
        labels=np.load(entry / "labels.npy"),
        class_names=tuple(meta["class_names"]),
        sources=meta["sources"],
        content_hashes=np.load(entry / "hashes.npy"),
        soft_labels=np.load(soft) if soft.is_file() else None,
        skipped=meta["skipped"],
        path=entry,
    )
