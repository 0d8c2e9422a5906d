"""Bulk onboarding of an existing workforce and caseload from CSV: parse, then import row by row.

Two files, two steps (practitioners first, then cases: a case's holder must
be registered). `read_csv` checks the header and turns each record into a
`Row` with its line number in the file; `practitioner_row` and `case_row`
turn a `Row`'s text into the domain's commands, naming the column at fault.
The importers then run each through the same handlers as the HTTP API, so
every rule and validation applies:

* a practitioner row is `RegisterPractitioner` (`Workforce.register_practitioner`);
* a case row is `OpenCase` and, when it names its current holder, `AllocateCase`
  to them, decided together under the holder's allocation lock and appended
  together (`Cases.open_and_allocate`): the row goes in whole or not at all.

Each row must be within the uploader's scope (`check_place`: a head of service
uploads their region's rows, an admin anyone's), else it is refused naming
region_id (practitioners) or team_id (cases).

Each row is its own atomic command: a refused or malformed row records
nothing and the other rows still go in. A value no store can hold (a NUL or
other control character) rejects its row, naming the line and column, before
anything is looked up with it. Its idempotency key is derived from
its content (`onboarding:<kind>:<id>:<sha256 of the row>`), so uploading the
same file again records nothing and reports its rows as already imported; a
row whose content changed is a new command, and the domain refuses it as a
second registration or case with that id.

An onboarded allocation is a past decision recorded now, in the uploader's
name (the events' actor). It goes through the capacity rules like any other:
where it takes someone above the override threshold it carries the written
reason "onboarded from <file>, line <n>: existing allocation", so
`allocation-override-recorded` is recorded and surfaced to heads of service;
above the hard ceiling only a head of service may record it, so an uploader
who is not one sees that row refused.
"""

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Final, Protocol

from plimsoll_events import refusals as check
from plimsoll_events.handling import Idempotency, IdempotencyKeyReused
from plimsoll_events.records import Metadata
from plimsoll_events.store import ConcurrencyError
from plimsoll_events.types.allocation import AllocationOverrideRecorded
from plimsoll_platform.access import Place
from plimsoll_platform.csv_upload import HeaderError, Rejection

from plimsoll_allocation.domain import (
    Actor,
    AllocateCase,
    CaseProfile,
    OpenCase,
    Refused,
    RegisterPractitioner,
    case_stream,
    practitioner_stream,
)
from plimsoll_allocation.handlers import Cases, TeamRegions, Workforce

PRACTITIONER_COLUMNS: Final = (
    "practitioner_id",
    "name",
    "grade",
    "team_id",
    "region_id",
    "contracted_hours",
    "start_date",
    "line_manager_id",
)
PRACTITIONER_OPTIONAL: Final = frozenset({"line_manager_id"})

CASE_COLUMNS: Final = (
    "case_id",
    "team_id",
    "case_type",
    "tier",
    "t2a",
    "stage",
    "practitioner_id",
    "opened_on",
)
CASE_OPTIONAL: Final = frozenset({"tier", "t2a", "stage", "practitioner_id", "opened_on"})

ONBOARDING_ALLOCATION_REASON: Final = "INITIAL_ALLOCATION"
_TRUE: Final = frozenset({"true", "yes", "y", "1"})
_FALSE: Final = frozenset({"false", "no", "n", "0", ""})


# Parsing.


@dataclass(frozen=True)
class Row:
    """A record of the file: its first line, its values by column (stripped), its digest."""

    line: int
    values: dict[str, str]

    @property
    def digest(self) -> str:
        """sha256 of the row's content: its non-empty values, whatever the columns' order."""
        content = sorted((name, value) for name, value in self.values.items() if value)
        canonical = json.dumps(content, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Parsed:
    """The rows to import, in file order, and those refused before import."""

    rows: list[Row]
    rejected: list[Rejection]


class RowError(ValueError):
    """A value of a row cannot be read; `field` names its column."""

    def __init__(self, field: str | None, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def read_csv(text: str, columns: Sequence[str], optional: frozenset[str], id_column: str) -> Parsed:
    """The file's rows, with the line each starts on (the header is line 1).

    Raises `HeaderError` when a required column is missing, a column is not one
    of `columns`, or a column is repeated. Blank lines are skipped (they keep
    their line numbers); a record with the wrong number of fields, or repeating
    an `id_column` value seen earlier in the file, is rejected.
    """
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise HeaderError(f"the header cannot be read: {exc}") from exc
    if header is None or not any(name.strip() for name in header):
        raise HeaderError(f"the file has no header row; expected {', '.join(columns)}")
    names = [name.strip() for name in header]
    unknown = [name for name in names if name not in columns]
    missing = [name for name in columns if name not in names and name not in optional]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if unknown or missing or repeated:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        if repeated:
            parts.append(f"repeated column(s): {', '.join(repeated)}")
        raise HeaderError(
            "; ".join(parts) + f" (the columns are {', '.join(columns)})",
            missing=missing,
            unknown=unknown,
            repeated=repeated,
        )

    rows: list[Row] = []
    rejected: list[Rejection] = []
    first_seen: dict[str, int] = {}
    last_line = reader.line_num
    while True:
        start = last_line + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rejected.append(Rejection(start, None, f"the record cannot be read: {exc}"))
            break  # the reader cannot resynchronise after a broken quote
        last_line = reader.line_num
        if not record or all(not value.strip() for value in record):
            continue
        if len(record) != len(names):
            rejected.append(
                Rejection(start, None, f"{len(record)} fields where the header has {len(names)}")
            )
            continue
        values = {name: value.strip() for name, value in zip(names, record, strict=True)}
        unreadable = _unreadable(values)
        if unreadable is not None:
            rejected.append(Rejection(start, unreadable.field, unreadable.reason))
            continue
        row_id = values[id_column]
        if row_id and row_id in first_seen:
            rejected.append(
                Rejection(
                    start,
                    id_column,
                    f"{row_id} is also on line {first_seen[row_id]}: one row each",
                )
            )
            continue
        if row_id:
            first_seen[row_id] = start
        rows.append(Row(start, values))
    return Parsed(rows, rejected)


def _unreadable(values: dict[str, str]) -> Refused | None:
    """The first value no store can hold (a NUL, another control character, a lone
    surrogate), as its refusal naming the column; None when every value is text."""
    for column, value in values.items():
        try:
            check.acceptable_text(value, column)
        except Refused as refusal:
            return refusal
    return None


def _required(row: Row, column: str) -> str:
    value = row.values.get(column, "")
    if not value:
        raise RowError(column, "is required")
    return value


def _optional(row: Row, column: str) -> str | None:
    return row.values.get(column) or None


def _date(row: Row, column: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise RowError(column, f"{value!r} is not a date (YYYY-MM-DD)") from exc


def practitioner_row(row: Row) -> RegisterPractitioner:
    """A practitioner row as the command it is; `RowError` naming the column otherwise."""
    hours_text = _required(row, "contracted_hours")
    try:
        hours = Decimal(hours_text)
    except InvalidOperation as exc:
        raise RowError("contracted_hours", f"{hours_text!r} is not a number of hours") from exc
    return RegisterPractitioner(
        practitioner_id=_required(row, "practitioner_id"),
        name=_required(row, "name"),
        grade=_required(row, "grade"),
        team_id=_required(row, "team_id"),
        region_id=_required(row, "region_id"),
        contracted_hours=hours,
        start_date=_date(row, "start_date", _required(row, "start_date")),
        line_manager_id=_optional(row, "line_manager_id"),
    )


@dataclass(frozen=True)
class CaseRow:
    """A case row: the case to open, and who carries it now (None: nobody)."""

    opening: OpenCase
    practitioner_id: str | None


def case_row(row: Row) -> CaseRow:
    """A case row's values, typed; `RowError` naming the column otherwise."""
    t2a_text = (_optional(row, "t2a") or "").lower()
    if t2a_text not in _TRUE | _FALSE:
        raise RowError("t2a", f"{t2a_text!r} is not true or false")
    opened_on = _optional(row, "opened_on")
    opening = OpenCase(
        case_id=_required(row, "case_id"),
        team_id=_required(row, "team_id"),
        profile=CaseProfile(
            case_type=_required(row, "case_type"),
            tier=_optional(row, "tier"),
            t2a=t2a_text in _TRUE,
            stage=_optional(row, "stage"),
        ),
        opened_on=None if opened_on is None else _date(row, "opened_on", opened_on),
    )
    return CaseRow(opening, _optional(row, "practitioner_id"))


# Importing.


@dataclass
class Report:
    """What an upload did: rows recorded now, rows recorded by an earlier upload, rows refused."""

    accepted: int = 0
    already_imported: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    overrides_recorded: list[int] = field(default_factory=list)
    """Lines whose allocation recorded allocation-override-recorded."""


def row_key(kind: str, row_id: str, raw: Row) -> Idempotency:
    """A row's idempotency key: its kind, id and content."""
    return Idempotency(f"onboarding:{kind}:{row_id}:{raw.digest}")


def override_reason(file_name: str, line: int) -> str:
    return f"onboarded from {file_name}, line {line}: existing allocation"


class PlaceCheck(Protocol):
    """Refuses (`OutsideScope`, naming `field`) a place outside the uploader's scope: the
    uploader's `Caller.check_place`."""

    def __call__(self, place: Place, *, field: str | None = None) -> None: ...


def import_practitioners(
    workforce: Workforce, parsed: Parsed, check_place: PlaceCheck, metadata: Metadata
) -> Report:
    """Register each row's practitioner; each row its own command, keyed by its content."""

    def register(raw: Row, _: Report) -> bool:
        command = practitioner_row(raw)
        key = row_key("practitioner", command.practitioner_id, raw)
        if workforce.store.recorded_for(practitioner_stream(command.practitioner_id), key):
            return False
        known = None if workforce.teams is None else workforce.teams.team_region(command.team_id)
        check_place(Place(command.team_id, known or command.region_id), field="region_id")
        workforce.register_practitioner(command, metadata, key)
        return True

    return _import_each(parsed, register, PRACTITIONER_COLUMNS)


def import_cases(
    cases: Cases,
    teams: TeamRegions,
    parsed: Parsed,
    actor: Actor,
    check_place: PlaceCheck,
    file_name: str,
    metadata: Metadata,
) -> Report:
    """Open each row's case and allocate it to its holder, if named: one append per row."""

    def open_and_allocate(raw: Row, report: Report) -> bool:
        row = case_row(raw)
        opening = row.opening
        key = row_key("case", opening.case_id, raw)
        if cases.store.recorded_for(case_stream(opening.case_id), key):
            return False
        check_place(Place(opening.team_id, teams.team_region(opening.team_id)), field="team_id")
        if row.practitioner_id is None:
            cases.open_case(opening, metadata, key)
            return True
        allocation = AllocateCase(
            case_id=opening.case_id,
            practitioner_id=row.practitioner_id,
            actor=actor,
            reason=ONBOARDING_ALLOCATION_REASON,
            override_reason=override_reason(file_name, raw.line),
        )
        try:
            recorded = cases.open_and_allocate(opening, allocation, metadata, key)
        except Refused as refusal:
            if refusal.field in (None, "override_reason"):
                refusal.field = "practitioner_id"  # the row's allocation is its holder
            raise
        if any(e.type == AllocationOverrideRecorded.type for e in recorded):
            report.overrides_recorded.append(raw.line)
        return True

    return _import_each(parsed, open_and_allocate, CASE_COLUMNS)


def _import_each(
    parsed: Parsed, import_row: Callable[[Row, Report], bool], columns: Sequence[str]
) -> Report:
    """Run `import_row` on every row (True: recorded now; False: recorded before), reporting
    each row's refusal by line and column; the other rows go in regardless."""
    report = Report(rejected=list(parsed.rejected))
    for raw in parsed.rows:
        try:
            recorded_now = import_row(raw, report)
        except RowError as error:
            report.rejected.append(Rejection(raw.line, error.field, error.reason))
        except Refused as refusal:
            column = refusal.field if refusal.field in columns else None
            report.rejected.append(Rejection(raw.line, column, refusal.reason))
        except (ConcurrencyError, IdempotencyKeyReused) as error:
            report.rejected.append(Rejection(raw.line, None, f"{error}; upload the file again"))
        else:
            if recorded_now:
                report.accepted += 1
            else:
                report.already_imported += 1
    report.rejected.sort(key=lambda r: r.line)
    return report
