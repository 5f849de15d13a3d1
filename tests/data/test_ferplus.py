import numpy as np
import pytest

from balanced_fer.data import open_dataset
from balanced_fer.data.formats.ferplus import ferplus_target
from balanced_fer.errors import DatasetError
from balanced_fer.labels import CANONICAL_CLASSES

# ../shared/datasets/README.md: FER+ majority counts
MAJORITY = {
    "train": [7485, 7080, 2748, 2388, 1648, 52, 346, 76],
    "val": [1062, 845, 381, 277, 235, 16, 41, 9],
}


def test_majority_counts_match_the_published_table(shared_datasets):
    dataset = open_dataset(shared_datasets / "ferplus")
    assert dataset.format == "ferplus" and dataset.class_names == CANONICAL_CLASSES
    for split, expected in MAJORITY.items():
        assert dataset.split(split).counts().tolist() == expected
    assert dataset.samples[0].box == (0, 0, 48, 48)
    assert dataset.samples[0].decode().shape == (48, 48)


def test_other_label_modes_keep_more_faces(shared_datasets):
    majority = len(open_dataset(shared_datasets / "ferplus"))
    outliers_dropped = open_dataset(shared_datasets / "ferplus", drop_single_votes=True)
    probability = open_dataset(shared_datasets / "ferplus", label_mode="probability")
    plurality = open_dataset(shared_datasets / "ferplus", label_mode="plurality")
    assert majority < len(outliers_dropped) and majority < len(probability) and majority < len(plurality)
    soft = np.array([s.soft_label for s in probability.samples])
    assert soft.shape[1] == 8 and np.allclose(soft.sum(1), 1.0)
    assert (soft.argmax(1) == [s.label for s in probability.samples]).all()


def test_master_csv_resolves_images_in_the_split_folders(shared_datasets):
    dataset = open_dataset(f"ferplus:{shared_datasets / 'ferplus' / 'fer2013new.csv'}")
    assert dataset.splits == ["train", "val"]
    assert 20000 < len(dataset.split("train")) < 23000
    assert "FER2013Valid" in dataset.split("val").samples[0].source


@pytest.mark.parametrize(
    "votes,mode,expected",
    [
        ([6, 0, 0, 0, 4, 0, 0, 0, 0, 0], "majority", "neutral"),
        ([5, 0, 0, 0, 5, 0, 0, 0, 0, 0], "majority", None),  # no strict majority
        ([0, 0, 0, 0, 0, 0, 0, 0, 7, 3], "majority", None),  # unknown wins
        ([4, 0, 0, 0, 3, 0, 0, 0, 3, 0], "plurality", "neutral"),
        ([4, 4, 0, 0, 2, 0, 0, 0, 0, 0], "plurality", None),  # tie
        ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], "majority", None),
    ],
)
def test_vote_rules(votes, mode, expected):
    target = ferplus_target([float(v) for v in votes], mode)
    assert (target is None) == (expected is None)
    if target is not None:
        assert CANONICAL_CLASSES[int(np.argmax(target))] == expected


def test_outlier_removal_and_probability_rule():
    votes = [5.0, 0, 0, 0, 4, 0, 1, 0, 0, 0]
    assert ferplus_target(votes, "majority") is None  # 5 of 10 is no majority
    assert ferplus_target(votes, "majority", drop_single_votes=True)[0] == 1.0  # 5 of 9
    soft = ferplus_target(votes, "probability")
    assert soft[0] == pytest.approx(5 / 9) and soft[4] == pytest.approx(4 / 9) and soft[6] == 0


def _write_ferplus(tmp_path, rows):
    folder = tmp_path / "FER2013Train"
    folder.mkdir()
    (folder / "label.csv").write_text("".join(r + "\n" for r in rows))
    return tmp_path


def test_bad_label_rows(tmp_path):
    root = _write_ferplus(
        tmp_path,
        [
            'fer0000000.png,"(0, 0, 48, 48)",9,0,0,0,1,0,0,0,0,0',
            'fer0000001.png,"(0, 0, 48, 48)",9,0,x,0,1,0,0,0,0,0',
            'fer0000002.png,"0 0 48 48",9,0,0,0,1,0,0,0,0,0',
            "fer0000003.png,9,0,0",
        ],
    )
    dataset = open_dataset(root)
    assert len(dataset) == 1 and dataset.splits == ["train"]
    with pytest.raises(DatasetError, match=r"label\.csv:2: vote counts"):
        open_dataset(root, strict=True)


def test_unknown_label_mode_and_missing_label_files(tmp_path):
    root = _write_ferplus(tmp_path, ['fer0000000.png,"(0, 0, 48, 48)",9,0,0,0,1,0,0,0,0,0'])
    with pytest.raises(DatasetError, match="unknown FER\\+ label mode 'vote'"):
        open_dataset(root, label_mode="vote")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no FER2013Train"):
        open_dataset(f"ferplus:{tmp_path / 'empty'}")
