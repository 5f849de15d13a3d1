"""Collecting bad rows and images: skipped with one warning, or fatal under ``strict``."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from pathlib import Path

from ..errors import DatasetError

log = logging.getLogger("balanced_fer")


class Problems:
    """Bad items met while reading: raised at once when ``strict``, else counted and warned once."""

    def __init__(self, strict: bool, kind: str = "row") -> None:
        self.strict = strict
        self.kind = kind
        self.items: list[str] = []

    def add(self, message: str) -> None:
        """Record one problem; ``message`` starts with the file (and line) it concerns."""
        if self.strict:
            raise DatasetError(message)
        self.items.append(message)

    def warn(self, context: str, kept: int | None = None) -> None:
        """Log one warning that counts the problems (and the ``kept`` items) and shows the first few."""
        if not self.items:
            return
        shown = "; ".join(self.items[:3]) + (" ..." if len(self.items) > 3 else "")
        log.warning(
            "%s: skipped %d bad %s%s%s (use --strict to stop at the first): %s",
            context,
            len(self.items),
            self.kind,
            "" if len(self.items) == 1 else "s",
            "" if kept is None else f", kept {kept:,}",
            shown,
        )


def read_csv_rows(
    path: Path, problems: Problems, columns: tuple[str, ...] | None = None, required: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line_number, row)`` from a csv as dicts keyed by column name.

    With ``columns`` the file is headerless and rows are named by them; otherwise the header must
    hold the ``required`` columns. A missing file or header is a :class:`DatasetError` naming the
    file. Each line is parsed on its own (no format we read has fields spanning lines), so a malformed
    row, an unterminated quote or a wrong number of fields, goes to ``problems`` and costs only itself.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        lines = enumerate(handle, start=1)
        if columns is None:
            header = next(csv.reader([next(lines, (1, ""))[1]]), [])
            columns = tuple(c.strip() for c in header)
            missing = [c for c in required if c not in columns]
            if missing:
                raise DatasetError(
                    f"{path}: header lacks column(s) {', '.join(missing)} (found: {', '.join(columns) or 'nothing'})"
                )
        for number, line in lines:
            if not line.strip():
                continue
            try:
                (row,) = csv.reader([line], strict=True)
            except (csv.Error, ValueError) as err:
                problems.add(f"{path}:{number}: malformed csv row ({err})")
                continue
            if len(row) != len(columns):
                problems.add(f"{path}:{number}: expected {len(columns)} fields, found {len(row)}")
                continue
            yield number, dict(zip(columns, row))
