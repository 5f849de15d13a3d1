import json
import shutil

import cv2
import numpy as np
import pytest

from balanced_fer.data import open_dataset
from balanced_fer.data.stats import (
    dataset_stats,
    format_stats,
    frequency_groups,
    imbalance_ratio,
    plot_counts,
)
from balanced_fer.errors import BalancedFerError
from helpers import write_face


def test_frequency_groups_and_ratio():
    counts = np.array([1000, 600, 300, 100])
    assert frequency_groups(counts) == ["head", "head", "medium", "tail"]
    assert frequency_groups(counts, head=0.7, tail=0.35) == ["head", "medium", "tail", "tail"]
    assert imbalance_ratio(counts) == 10.0 and imbalance_ratio(np.array([5, 0])) == float("inf")
    with pytest.raises(BalancedFerError, match="need 0 < tail <= head <= 1"):
        frequency_groups(counts, head=0.1, tail=0.5)


def test_duplicates_conflicts_and_blanks(tmp_path):
    root = tmp_path / "faces"
    write_face(root / "train" / "happy" / "a.png", 1)
    write_face(root / "train" / "sad" / "b.png", 2)
    (root / "val" / "sad").mkdir(parents=True)
    shutil.copy(root / "train" / "happy" / "a.png", root / "train" / "happy" / "a_copy.png")  # same label
    shutil.copy(root / "train" / "happy" / "a.png", root / "train" / "sad" / "a_conflict.png")  # other label
    shutil.copy(root / "train" / "sad" / "b.png", root / "val" / "sad" / "b_leak.png")  # across splits
    write_face(root / "val" / "happy" / "c.png", 3)
    write_face(root / "val" / "happy" / "c.jpg", 3)  # same pixels? JPEG is lossy: not pixel-identical
    blank = np.full((48, 48), 128, np.uint8)
    cv2.imwrite(str(root / "val" / "happy" / "blank.png"), blank)
    stats = dataset_stats(open_dataset(root), cache_dir=tmp_path / "cache", progress=False)
    assert stats.counts == {"train": [2, 2], "val": [3, 1]}
    assert stats.class_names == ["happiness", "sadness"]
    exact = stats.exact_duplicates
    assert exact.groups == 2 and exact.redundant_images == 3
    assert exact.within_split == {"train": 2} and exact.across_splits == {"val~train": 1}
    assert exact.conflicting_groups == 1 and exact.conflicting_images == 3
    assert stats.pixel_duplicates.groups == 2
    assert [p.rsplit("/", 1)[1] for p in stats.near_blank] == ["blank.png"]
    text = format_stats(stats)
    assert "val with a twin in train 1" in text and "conflicting labels: 1 groups (3 images)" in text
    json.dumps(stats.to_dict())  # serialisable
    chart = plot_counts(stats, tmp_path / "chart.png")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_real_fer2013_quirks(shared_datasets, cache_dir):
    stats = dataset_stats(open_dataset(shared_datasets / "fer2013"), cache_dir=cache_dir, progress=False)
    assert stats.counts["train"][stats.class_names.index("happiness")] == 7215
    assert stats.counts["train"][stats.class_names.index("disgust")] == 436
    assert stats.imbalance_ratio["train"] == pytest.approx(7215 / 436)
    assert stats.groups["disgust"] == "tail" and stats.groups["happiness"] == "head"
    # dataset README: ~280 PublicTest images have a pixel-identical twin in Training, about a
    # dozen images are near-blank, some duplicates carry conflicting labels
    assert 250 <= stats.pixel_duplicates.across_splits["val~train"] <= 310
    assert 8 <= len(stats.near_blank) <= 20
    assert stats.pixel_duplicates.conflicting_groups > 0
