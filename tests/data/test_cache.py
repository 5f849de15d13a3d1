import logging
import os
from pathlib import Path

import numpy as np
import pytest

from balanced_fer.data import load_arrays, open_dataset
from balanced_fer.errors import DatasetError
from helpers import write_face


@pytest.fixture
def small_folder(tmp_path):
    root = tmp_path / "faces"
    pixels = {}
    for i, cls in enumerate(["happy", "sad", "happy", "fear"]):
        path = root / "train" / cls / f"{i}.png"
        pixels[str(path)] = write_face(path, i, size=64)
    write_face(root / "val" / "sad" / "v.png", 99, size=64)
    return root, pixels


def entries(cache_dir):
    return sorted(p.name for p in cache_dir.iterdir())


def test_build_then_load_from_cache(small_folder, tmp_path):
    root, pixels = small_folder
    cache = tmp_path / "cache"
    arrays = load_arrays(open_dataset(root), "train", size=64, cache_dir=cache, progress=False)
    assert arrays.images.shape == (4, 64, 64, 1) and arrays.images.dtype == np.uint8
    assert isinstance(arrays.images, np.memmap)
    for i, source in enumerate(arrays.sources):
        assert np.array_equal(arrays.images[i, :, :, 0], pixels[source])
    assert [arrays.class_names[label] for label in arrays.labels] == ["fear", "happiness", "happiness", "sadness"]
    built = arrays.path.stat().st_mtime_ns
    again = load_arrays(open_dataset(root), "train", size=64, cache_dir=cache, progress=False)
    assert again.path == arrays.path and again.path.stat().st_mtime_ns == built  # not rebuilt
    resized = load_arrays(open_dataset(root), "train", size=32, channels=3, cache_dir=cache, progress=False)
    assert resized.images.shape == (4, 32, 32, 3)
    assert len(entries(cache)) == 2  # one entry per size and channels, no staging leftovers


def test_changed_added_and_relabelled_sources_rebuild(small_folder, tmp_path):
    root, _ = small_folder
    cache = tmp_path / "cache"
    first = load_arrays(open_dataset(root), "train", size=64, cache_dir=cache, progress=False)
    target = root / "train" / "happy" / "0.png"
    new_pixels = write_face(target, 1234, size=64)
    os.utime(target, ns=(1, 1))  # a different modification time, whatever the clock
    edited = load_arrays(open_dataset(root), "train", size=64, cache_dir=cache, progress=False)
    assert edited.path != first.path and not first.path.exists()  # the stale entry is removed
    assert np.array_equal(edited.images[edited.sources.index(str(target)), :, :, 0], new_pixels)
    write_face(root / "train" / "fear" / "new.png", 5, size=64)
    added = load_arrays(open_dataset(root), "train", size=64, cache_dir=cache, progress=False)
    assert len(added) == 5
    (root / "train" / "fear" / "new.png").rename(root / "train" / "sad" / "new.png")
    moved = load_arrays(open_dataset(root), "train", size=64, cache_dir=cache, progress=False)
    assert moved.path != added.path and list(moved.labels).count(moved.class_names.index("sadness")) == 2
    assert len(entries(cache)) == 1


def test_bad_images_are_skipped_with_a_warning_or_fatal_when_strict(small_folder, tmp_path, caplog):
    root, _ = small_folder
    good = (root / "train" / "happy" / "0.png").read_bytes()
    (root / "train" / "sad" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "train" / "sad" / "empty.png").write_bytes(b"")
    (root / "train" / "sad" / "text.jpg").write_text("not an image")
    with caplog.at_level(logging.WARNING, logger="balanced_fer"):
        arrays = load_arrays(open_dataset(root), "train", size=64, cache_dir=tmp_path / "c1", progress=False)
    assert len(arrays) == 4 and len(arrays.skipped) == 3
    assert "skipped 3 bad images" in caplog.text and "empty.png: file is empty" in caplog.text
    assert "truncated.png: not a readable image" in caplog.text
    with pytest.raises(DatasetError, match=r"(empty|text|truncated)\.(png|jpg)"):
        load_arrays(open_dataset(root), "train", size=64, cache_dir=tmp_path / "c2", strict=True, progress=False)
    assert entries(tmp_path / "c2") == []  # a failed build leaves nothing behind


def test_all_images_bad(tmp_path):
    (tmp_path / "sad").mkdir()
    (tmp_path / "sad" / "x.png").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="none of the 1 images could be read"):
        load_arrays(open_dataset(tmp_path), "all", cache_dir=tmp_path / "cache", progress=False)


def test_argument_checks(small_folder, tmp_path):
    root, _ = small_folder
    with pytest.raises(ValueError, match="channels"):
        load_arrays(open_dataset(root), "train", channels=2, cache_dir=tmp_path)
    with pytest.raises(DatasetError, match="no split 'test'"):
        load_arrays(open_dataset(root), "test", cache_dir=tmp_path)


def test_real_fer2013_val_split(shared_datasets, cache_dir):
    dataset = open_dataset(shared_datasets / "fer2013")
    arrays = load_arrays(dataset, "val", cache_dir=cache_dir, progress=False)
    assert arrays.images.shape == (3589, 48, 48, 1) and arrays.skipped == []
    assert np.bincount(arrays.labels).tolist() == dataset.split("val").counts().tolist()
    i = 123
    sample = next(s for s in dataset.samples if s.source == arrays.sources[i])
    assert np.array_equal(arrays.images[i, :, :, 0], sample.decode())


def test_soft_labels_are_cached(shared_datasets, cache_dir):
    dataset = open_dataset(shared_datasets / "ferplus" / "FER2013Valid", label_mode="probability")
    arrays = load_arrays(dataset, "val", cache_dir=cache_dir, progress=False)
    assert arrays.soft_labels.shape == (len(arrays), 8)
    assert np.allclose(arrays.soft_labels.sum(1), 1, atol=1e-5)


def test_rebuild_and_concurrent_builders(small_folder, tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    root, _ = small_folder
    cache = tmp_path / "cache"
    first = load_arrays(open_dataset(root), "train", size=64, cache_dir=cache, progress=False)
    again = load_arrays(open_dataset(root), "train", size=64, cache_dir=cache, rebuild=True, progress=False)
    assert again.path == first.path and np.array_equal(np.asarray(again.images), np.asarray(first.images))
    with ProcessPoolExecutor(2) as pool:  # two processes building the same entry at once, as DDP ranks do
        sizes = list(pool.map(_load_len, [(str(root), str(tmp_path / "race"))] * 4))
    assert sizes == [4] * 4


def _load_len(args):
    root, cache = args
    return len(load_arrays(open_dataset(root), "train", size=64, cache_dir=Path(cache), progress=False))


def test_a_builder_that_finds_the_entry_finished_meanwhile_keeps_it(small_folder, tmp_path, monkeypatch):
    """The race two DDP ranks can hit: the entry appears between a builder's checks. The builder that
    lost must keep the entry (another process may be reading it), not swap in its own copy."""
    from balanced_fer.data import cache as cache_module

    root, _ = small_folder
    arrays = load_arrays(open_dataset(root), "train", size=64, cache_dir=tmp_path, progress=False)
    entry = Path(arrays.path)
    inode = (entry / "meta.json").stat().st_ino
    real_exists, calls = Path.exists, []

    def exists_late(path):  # the first look at the entry misses it, as if the other builder renamed it just after
        calls.append(path)
        return False if path == entry and len([c for c in calls if c == entry]) == 1 else real_exists(path)

    monkeypatch.setattr(Path, "exists", exists_late)
    part = open_dataset(root).split("train")
    cache_module._build(part, entry, 64, 1, False, 1, False, "race")
    assert (entry / "meta.json").stat().st_ino == inode
