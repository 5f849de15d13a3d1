import pytest

from balanced_fer.labels import (
    AFFECTNET_CODES,
    CANONICAL_CLASSES,
    CKPLUS_CODES,
    FER2013_CODES,
    IGNORE,
    RAFDB_CODES,
    SEVEN_CLASSES,
    canonical_name,
    ordered_classes,
    parse_class_map,
)


def test_taxonomy_order_and_seven_class_subset():
    assert CANONICAL_CLASSES == ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt")
    assert SEVEN_CLASSES == CANONICAL_CLASSES[:7] and "contempt" not in SEVEN_CLASSES


@pytest.mark.parametrize("codes", [FER2013_CODES, RAFDB_CODES, AFFECTNET_CODES, CKPLUS_CODES])
def test_every_dataset_code_maps_into_the_taxonomy(codes):
    assert set(codes.values()) <= set(CANONICAL_CLASSES) | {IGNORE}


def test_published_code_tables():
    assert FER2013_CODES[1] == "disgust" and FER2013_CODES[3] == "happiness" and FER2013_CODES[6] == "neutral"
    assert RAFDB_CODES[1] == "surprise" and RAFDB_CODES[7] == "neutral"
    assert AFFECTNET_CODES[7] == "contempt" and AFFECTNET_CODES[8] == IGNORE
    assert CKPLUS_CODES[2] == "contempt" and CKPLUS_CODES[7] == "surprise"


@pytest.mark.parametrize(
    "folder,expected",
    [("angry", "anger"), ("Happy", "happiness"), ("sad", "sadness"), ("SURPRISE", "surprise"), ("fear", "fear")],
)
def test_folder_aliases(folder, expected):
    assert canonical_name(folder) == expected


def test_class_map_wins_and_can_ignore():
    mapping = parse_class_map("joyful=happiness, other=ignore")
    assert canonical_name("Joyful", mapping) == "happiness"
    assert canonical_name("other", mapping) == IGNORE
    with pytest.raises(KeyError):
        canonical_name("bored")


@pytest.mark.parametrize("text", ["joy", "joy=", "joy=bliss"])
def test_bad_class_map_is_rejected(text):
    with pytest.raises(ValueError):
        parse_class_map(text)


def test_ordered_classes():
    assert ordered_classes(["fear", "neutral", "fear"]) == ("neutral", "fear")
    with pytest.raises(ValueError):
        ordered_classes(["bliss"])
