"""Prediction results as flat rows, one per face: what CSV output and :func:`to_dataframe` share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import BalancedFerError
from .recognizer import Face

COLUMNS = ("path", "frame", "time", "face", "track", "x", "y", "w", "h", "label", "detection_score")


def as_records(results: Any) -> Iterator[dict]:
    """Records (``{"faces": [...], ...}`` as ``bfer predict`` and :meth:`Recognizer.predict_video` give)
    from records, one image's faces (``Recognizer.predict``) or several images' (``predict_batch``)."""
    for item in results:
        if isinstance(item, dict):
            yield item
        elif isinstance(item, Face):  # one image's faces: the whole sequence is one record
            yield {"faces": [face.to_dict() for face in results]}
            return
        elif isinstance(item, list) and all(isinstance(face, Face) for face in item):
            yield {"faces": [face.to_dict() for face in item]}
        else:
            raise BalancedFerError(f"cannot tabulate {type(item).__name__}: expected faces or prediction records")


def face_rows(records: Iterable[dict], classes: list[str]) -> Iterator[dict]:
    """One row per face (``face`` numbered from 1 within its image or frame), and one row with an
    ``error`` for an image that could not be read or has no face."""
    for record in records:
        where = {key: record[key] for key in ("path", "frame", "time") if key in record}
        if record.get("error") or not record["faces"]:
            yield where | {"error": record.get("error", "no face")}
        for number, face in enumerate(record["faces"], 1):
            x, y, w, h = face["box"]
            yield (
                where
                | {"face": number, "track": face.get("track"), "x": x, "y": y, "w": w, "h": h, "label": face["label"]}
                | {"detection_score": face.get("detection_score")}
                | {f"score_{c}": face["scores"][c] for c in classes}
            )


def to_dataframe(results: Any):
    """A pandas DataFrame with a row per face (columns as :data:`COLUMNS`, then ``score_<class>`` and
    ``error``) from ``Recognizer.predict`` / ``predict_batch`` / ``predict_video`` results or
    ``bfer predict``'s records. Needs pandas (``pip install pandas``)."""
    try:
        import pandas
    except ImportError:
        raise BalancedFerError("to_dataframe needs pandas: pip install pandas") from None
    records = list(as_records(results))
    first = next((r["faces"][0] for r in records if r.get("faces")), None)
    classes = list(first["scores"]) if first else []
    frame = pandas.DataFrame(list(face_rows(records, classes)), columns=table_columns(classes))
    absent = [c for c in ("path", "frame", "time", "track", "error") if frame[c].isna().all()]
    return frame.drop(columns=absent)  # an array has no path, a photo no frame, a clean run no error


def table_columns(classes: list[str]) -> list[str]:
    """The columns of a results table (CSV and DataFrame alike)."""
    return [*COLUMNS, *(f"score_{c}" for c in classes), "error"]
