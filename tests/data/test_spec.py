import pytest

from balanced_fer.data import FORMATS, detect_format, open_dataset, parse_spec
from balanced_fer.errors import DatasetError


def test_parse_spec():
    assert parse_spec("ferplus:data/x")[0] == "ferplus"
    assert parse_spec("data/x") == (None, parse_spec("data/x")[1])
    assert parse_spec("nosuchformat:data")[0] is None  # a colon in a path is no format


def test_detects_the_real_datasets(shared_datasets):
    assert detect_format(shared_datasets / "fer2013") == "fer2013"
    assert detect_format(shared_datasets / "fer2013" / "fer2013_sample.csv") == "fer2013"
    assert detect_format(shared_datasets / "ferplus") == "ferplus"
    assert detect_format(shared_datasets / "ferplus" / "FER2013Valid") == "ferplus"
    assert detect_format(shared_datasets / "ferplus" / "fer2013new.csv") == "ferplus"


def test_forced_format_reads_the_ferplus_images_as_a_folder(shared_datasets):
    # FER+ folders hold flat PNGs with no class folders: forcing 'folder' says what is wrong
    with pytest.raises(DatasetError, match="no images found"):
        open_dataset(
            f"folder:{shared_datasets / 'ferplus'}", class_map={"FER2013Train": "ignore", "FER2013Valid": "ignore"}
        )


def test_missing_path_and_unknown_option(tmp_path):
    with pytest.raises(DatasetError, match="no such file or folder"):
        open_dataset(tmp_path / "nope")
    (tmp_path / "sad").mkdir()
    with pytest.raises(DatasetError, match="takes no option label_mode"):
        open_dataset(tmp_path, label_mode="majority")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(DatasetError, match="cannot tell the dataset format"):
        open_dataset(text)


def test_every_format_is_registered():
    assert set(FORMATS) == {"fer2013", "ferplus", "rafdb", "affectnet", "ckplus", "folder"}
