import logging

import numpy as np
import pytest

from balanced_fer.data import open_dataset
from balanced_fer.errors import DatasetError, ImageError
from balanced_fer.labels import SEVEN_CLASSES

OFFICIAL = {
    "train": {
        "anger": 3995,
        "disgust": 436,
        "fear": 4097,
        "happiness": 7215,
        "neutral": 4965,
        "sadness": 4830,
        "surprise": 3171,
    },
    "val": {
        "anger": 467,
        "disgust": 56,
        "fear": 496,
        "happiness": 895,
        "neutral": 607,
        "sadness": 653,
        "surprise": 415,
    },
}


def test_kaggle_folders_give_the_official_counts(shared_datasets):
    dataset = open_dataset(shared_datasets / "fer2013")
    assert dataset.format == "fer2013" and dataset.class_names == SEVEN_CLASSES
    assert dataset.splits == ["train", "val"]
    for split, expected in OFFICIAL.items():
        counts = dict(zip(dataset.class_names, dataset.split(split).counts().tolist()))
        assert counts == expected
    sample = dataset.split("train").samples[0]
    assert sample.decode().shape == (48, 48)


def test_original_csv_sample(shared_datasets):
    dataset = open_dataset(shared_datasets / "fer2013" / "fer2013_sample.csv")
    assert dataset.format == "fer2013"
    assert len(dataset.split("train")) == 500 and len(dataset.split("val")) == 100
    image = dataset.samples[0].decode()
    assert image.shape == (48, 48) and image.dtype == np.uint8
    # first row of the file: emotion 5 = surprise
    assert dataset.class_names[dataset.samples[0].label] == "surprise"
    assert dataset.samples[0].source.endswith("fer2013_sample.csv:2")
    assert dataset.samples[0].decode(channels=3).shape == (48, 48, 3)


def _csv(tmp_path, rows):
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + "".join(r + "\n" for r in rows))
    return path


def test_csv_split_names_and_folder_holding_the_csv(tmp_path):
    pixels = " ".join(["7"] * 2304)
    _csv(tmp_path, [f"0,{pixels},Training", f"1,{pixels},PublicTest", f"6,{pixels},PrivateTest"])
    dataset = open_dataset(tmp_path)  # a folder that holds fer2013.csv
    assert dataset.splits == ["train", "val", "test"]
    assert [dataset.class_names[s.label] for s in dataset.samples] == ["anger", "disgust", "neutral"]
    assert (dataset.samples[0].decode() == 7).all()


def test_malformed_csv_rows_are_skipped_with_one_warning(tmp_path, caplog):
    pixels = " ".join(["7"] * 2304)
    path = _csv(tmp_path, [f"0,{pixels},Training", f"9,{pixels},Training", f"1,{pixels}", f"2,{pixels},Elsewhere"])
    with caplog.at_level(logging.WARNING, logger="balanced_fer"):
        dataset = open_dataset(path)
    assert len(dataset) == 1
    assert "skipped 3 bad rows" in caplog.text and f"{path}:3" in caplog.text


@pytest.mark.parametrize(
    "row,line_problem",
    [
        ("9,{p},Training", "unknown emotion code '9'"),
        ("1,{p}", "expected 3 fields, found 2"),
        ("2,{p},Elsewhere", "unknown Usage 'Elsewhere'"),
    ],
)
def test_strict_names_the_bad_row(tmp_path, row, line_problem):
    pixels = " ".join(["7"] * 2304)
    path = _csv(tmp_path, [f"0,{pixels},Training", row.format(p=pixels)])
    with pytest.raises(DatasetError, match=rf"fer2013\.csv:3: {line_problem}"):
        open_dataset(path, strict=True)


def test_bad_pixels_name_the_row(tmp_path):
    path = _csv(tmp_path, ["0,1 2 3,Training", "0,a b c d,Training"])
    dataset = open_dataset(path)
    with pytest.raises(ImageError, match=r"fer2013\.csv:2: expected a square image"):
        dataset.samples[0].decode()
    with pytest.raises(ImageError, match=r"fer2013\.csv:3: pixels are not space-separated integers"):
        dataset.samples[1].decode()


def test_missing_columns(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("emotion,image\n0,a\n")
    with pytest.raises(DatasetError, match="header lacks column"):
        open_dataset(f"fer2013:{path}")


def test_a_malformed_row_costs_only_itself(tmp_path, caplog):
    pixels = " ".join(["128"] * 48 * 48)
    rows = [f"{i % 7},{pixels},Training" for i in range(12)]
    rows[4] = f'3,"{pixels},Training'  # an unterminated quote swallowed the 7 rows after it
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + "\n".join(rows) + "\n")
    with caplog.at_level(logging.WARNING):
        dataset = open_dataset(path)
    assert len(dataset.samples) == 11
    assert "skipped 1 bad row, kept 11" in caplog.text and "fer2013.csv:6: malformed csv row" in caplog.text
    with pytest.raises(DatasetError, match="fer2013.csv:6: malformed csv row"):
        open_dataset(path, strict=True)


@pytest.mark.parametrize("body", ["", "9,1 2 3,Training\nx,y,Training\n"], ids=["header only", "all rows bad"])
def test_a_csv_without_usable_rows_is_a_clear_error(tmp_path, body):
    path = tmp_path / "fer2013.csv"
    path.write_text("emotion,pixels,Usage\n" + body)
    with pytest.raises(DatasetError, match="fer2013.csv: no usable faces found"):
        open_dataset(path)  # was StopIteration from the statistics
