"""A practitioner's timesheet as CSV: `date,minutes,category[,start,end,note]`, read and written.

Reading (`read_sheet`): UTF-8 (a byte-order mark is ignored), a header row
naming the columns first (any order; `start`, `end` and `note` may be left out,
as columns or as values). Dates are `YYYY-MM-DD` or, as a UK spreadsheet saves
them, `DD/MM/YYYY`; times `HH:MM` or `HH:MM:SS`. A row that cannot be read is
reported with its line (the header is line 1) and column; the rules of the day
are applied later, row by row, by the same commands as the API's.

Writing (`write_sheet`): the same columns, with a byte-order mark and CRLF line
ends so that a spreadsheet opens it as UTF-8. No cell can run as a formula: one
starting with `=`, `+`, `-`, `@`, a tab or a carriage return gets a single quote
in front (OWASP's advice on CSV injection); reading takes that quote off again,
so a sheet written here reads back as the same entries.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Final

from plimsoll_platform.csv_upload import HeaderError, Rejection

COLUMNS: Final = ("date", "minutes", "category", "start", "end", "note")
REQUIRED: Final = frozenset({"date", "minutes", "category"})
BOM: Final = "\ufeff"
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
_UK_DATE: Final = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


@dataclass(frozen=True)
class SheetRow:
    """A row read: one stretch of work."""

    line: int
    day: date
    minutes: int
    category: str
    started_at: time | None
    ended_at: time | None
    note: str | None

    @property
    def content(self) -> tuple[object, ...]:
        """What makes two rows the same entry."""
        return (self.day, self.minutes, self.category, self.started_at, self.ended_at, self.note)


def read_sheet(text: str) -> tuple[list[SheetRow], list[Rejection]]:
    """The rows of a sheet, and those that could not be read; `HeaderError` for a bad header."""
    reader = csv.reader(io.StringIO(text.removeprefix(BOM)))
    header = next(reader, None)
    if header is None:
        raise HeaderError(
            "the sheet is empty: the first row names the columns", missing=COLUMNS[:3]
        )
    columns = _columns(header)
    rows: list[SheetRow] = []
    unreadable: list[Rejection] = []
    line = reader.line_num + 1
    for cells in reader:
        if any(cell.strip() for cell in cells):
            found = _row(line, columns, cells)
            if isinstance(found, SheetRow):
                rows.append(found)
            else:
                unreadable.append(found)
        line = reader.line_num + 1
    return rows, unreadable


def _columns(header: Sequence[str]) -> list[str]:
    names = [name.strip().lower() for name in header]
    unknown = [n for n in names if n not in COLUMNS]
    repeated = sorted({n for n in names if names.count(n) > 1})
    missing = [c for c in COLUMNS if c in REQUIRED and c not in names]
    if unknown or repeated or missing:
        raise HeaderError(
            f"the header must name the columns {', '.join(COLUMNS)} "
            "(start, end and note may be left out)",
            missing=missing,
            unknown=unknown,
            repeated=repeated,
        )
    return names


def _row(line: int, columns: list[str], cells: list[str]) -> SheetRow | Rejection:
    if len(cells) > len(columns):
        return Rejection(line, None, f"{len(cells)} cells, but the header names {len(columns)}")
    values = {c: _unquoted(v.strip()) for c, v in zip(columns, cells, strict=False)}
    try:
        return SheetRow(
            line=line,
            day=_day(values.get("date", "")),
            minutes=_minutes(values.get("minutes", "")),
            category=_required(values.get("category", ""), "category").lower(),
            started_at=_time(values.get("start", ""), "start"),
            ended_at=_time(values.get("end", ""), "end"),
            note=values.get("note") or None,
        )
    except _Unreadable as error:
        return Rejection(line, error.column, error.reason)


class _Unreadable(ValueError):
    def __init__(self, column: str, reason: str) -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason


def _required(value: str, column: str) -> str:
    if not value:
        raise _Unreadable(column, "is empty")
    return value


def _day(value: str) -> date:
    value = _required(value, "date")
    try:
        found = _UK_DATE.match(value)
        if found:
            return date(int(found.group(3)), int(found.group(2)), int(found.group(1)))
        return date.fromisoformat(value)
    except ValueError as error:
        raise _Unreadable("date", f"{value!r} is not a date (YYYY-MM-DD or DD/MM/YYYY)") from error


def _minutes(value: str) -> int:
    value = _required(value, "minutes")
    if not re.fullmatch(r"-?\d{1,6}", value):
        raise _Unreadable("minutes", f"{value!r} is not a whole number of minutes")
    return int(value)


def _time(value: str, column: str) -> time | None:
    if not value:
        return None
    for form in ("%H:%M", "%H:%M:%S"):
        try:
            return datetime.strptime(value, form).time()
        except ValueError:
            continue
    raise _Unreadable(column, f"{value!r} is not a time of day (HH:MM)")


def _unquoted(value: str) -> str:
    """A cell as written before `write_sheet` guarded it against running as a formula."""
    if value.startswith("'") and value[1:2] and value[1] in _FORMULA_START:
        return value[1:]
    return value


# Writing.


def safe_cell(value: str) -> str:
    """The cell as a spreadsheet shows it as text: a formula's first character is quoted."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def write_sheet(rows: Iterable[SheetRow]) -> str:
    """The rows as CSV, header first, in the order given (see the module)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            safe_cell(cell)
            for cell in (
                row.day.isoformat(),
                str(row.minutes),
                row.category,
                _clock(row.started_at),
                _clock(row.ended_at),
                row.note or "",
            )
        )
    return BOM + out.getvalue()


def _clock(moment: time | None) -> str:
    if moment is None:
        return ""
    return f"{moment:%H:%M:%S}" if moment.second else f"{moment:%H:%M}"
