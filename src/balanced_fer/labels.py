"""The canonical expression taxonomy and every dataset's codes and folder names mapped into it.

Every dataset read by balanced-fer is expressed in one order of class names, so that a model trained
on one set can be evaluated on another and figures line up across tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

CANONICAL_CLASSES: tuple[str, ...] = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
)
"""The eight FER+ / AffectNet expressions; 7-class datasets drop ``contempt``."""

SEVEN_CLASSES: tuple[str, ...] = CANONICAL_CLASSES[:7]

IGNORE = "ignore"
"""Class-map target that drops a folder or code instead of mapping it to an expression."""

ALIASES: dict[str, str] = {
    **{name: name for name in CANONICAL_CLASSES},
    "happy": "happiness",
    "joy": "happiness",
    "surprised": "surprise",
    "sad": "sadness",
    "angry": "anger",
    "disgusted": "disgust",
    "fearful": "fear",
    "scared": "fear",
    "contemptuous": "contempt",
    "calm": "neutral",
}
"""Lower-case names seen in public dataset folders, mapped to canonical names."""

FER2013_CODES: dict[int, str] = {
    0: "anger",
    1: "disgust",
    2: "fear",
    3: "happiness",
    4: "sadness",
    5: "surprise",
    6: "neutral",
}
"""``emotion`` column of the original ``fer2013.csv``."""

FERPLUS_VOTE_COLUMNS: tuple[str, ...] = CANONICAL_CLASSES + ("unknown", "not_a_face")
"""Order of the ten vote counts in FER+ ``label.csv`` and ``fer2013new.csv``."""

RAFDB_CODES: dict[int, str] = {
    1: "surprise",
    2: "fear",
    3: "disgust",
    4: "happiness",
    5: "sadness",
    6: "anger",
    7: "neutral",
}
"""RAF-DB basic ``list_patition_label.txt`` codes."""

AFFECTNET_CODES: dict[int, str] = {
    0: "neutral",
    1: "happiness",
    2: "sadness",
    3: "surprise",
    4: "fear",
    5: "disgust",
    6: "anger",
    7: "contempt",
    8: IGNORE,
    9: IGNORE,
    10: IGNORE,
}
"""AffectNet ``expression`` codes; 8 none, 9 uncertain and 10 non-face are dropped."""

CKPLUS_CODES: dict[int, str] = {
    0: "neutral",
    1: "anger",
    2: "contempt",
    3: "disgust",
    4: "fear",
    5: "happiness",
    6: "sadness",
    7: "surprise",
}
"""CK+ ``Emotion/*_emotion.txt`` codes."""


def canonical_name(name: str, class_map: Mapping[str, str] | None = None) -> str:
    """Map a dataset's class name (any case) to a canonical name, or :data:`IGNORE`.

    ``class_map`` entries (user-given) win over the built-in aliases. Raises ``KeyError`` with the
    offending name when neither knows it.
    """
    key = name.strip().lower()
    if class_map:
        lowered = {k.lower(): v for k, v in class_map.items()}
        if key in lowered:
            return _check_target(lowered[key])
    if key in ALIASES:
        return ALIASES[key]
    raise KeyError(name)


def _check_target(target: str) -> str:
    target = target.strip().lower()
    if target == IGNORE:
        return IGNORE
    if target not in ALIASES:
        raise ValueError(
            f"class-map target {target!r} is not an expression; use one of {', '.join(CANONICAL_CLASSES)} or {IGNORE!r}"
        )
    return ALIASES[target]


def ordered_classes(names: Iterable[str]) -> tuple[str, ...]:
    """The given canonical names in canonical order (duplicates removed)."""
    present = set(names)
    unknown = present - set(CANONICAL_CLASSES)
    if unknown:
        raise ValueError(f"not canonical class names: {sorted(unknown)}")
    return tuple(name for name in CANONICAL_CLASSES if name in present)


def parse_class_map(text: str) -> dict[str, str]:
    """Parse ``"joy=happiness,other=ignore"`` into a class map."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        source, sep, target = item.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"class-map entry {item!r} is not NAME=EXPRESSION")
        mapping[source.strip()] = _check_target(target)
    return mapping
