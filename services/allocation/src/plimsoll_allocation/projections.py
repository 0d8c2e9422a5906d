"""The caseload read model: who carries which open case, for how many points.

Fed from the service's own event store (its source of truth), not from Kafka,
by the kit's `StoreFedReadModel` (name `allocation-caseload`): allocation
decisions need a practitioner's current points, consistently, so every read
catches up to the store's head first, and the rows and the checkpoint
(`read_model_checkpoints`) move in one transaction. An event the tables cannot
hold (a value out of range, data that no longer decodes) is parked with its
reason (`read_model_parked`, a metric, an error log) and the rest applied: the
service keeps answering.

Tables:

* `caseload_cases`: one row per case (open or closed), its team, who carries
  it (null: unallocated), its points (0 while work on it is suspended);
* `caseload_practitioners`: who is in which team (and region), and their
  leaving date: what a team's capacity is summed over. A transfer moves the
  row when it takes effect: at once when recorded on or after its effective
  day, else it waits in the row's `transfers` (pending, by day) until the
  `calendar-day-began` of its day (recorded by the daily reconciliation) brings
  it in; so a rebuild moves the same rows at the same events. From the
  effective day until that event (minutes after midnight, UK), team and region
  figures count the practitioner in their old team; their own record, and
  scope checks on them, read their stream, which follows the effective day
  exactly;
* `caseload_overrides`: each `allocation-override-recorded` (who, why,
  capacity before and after, the limit exceeded, when), for the head of
  service's list; filled from the whole log when the table is first created.

Allocating to a practitioner holds a lock keyed on them across catch-up, read,
decision and append (`Caseload.allocating_to`, the kit's `holding`), on a
connection of this model's own engine.
"""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from plimsoll_events.catalogue import EventData
from plimsoll_events.readmodel import ParkedEvent, StoreEvent, StoreFedReadModel, StoreReader
from plimsoll_events.records import RecordedEvent
from plimsoll_events.types.allocation import (
    AllocationOverrideRecorded,
    CalendarDayBegan,
    CaseAllocated,
    CaseClosed,
    CaseOpened,
    CaseReallocated,
    CaseWeightingChanged,
    PractitionerLeft,
    PractitionerRegistered,
    PractitionerTransferred,
)
from plimsoll_platform.clock import uk_day
from pydantic_core import to_json
from sqlalchemy import Connection, Engine, text

NAME: Final = "allocation-caseload"
BATCH: Final = 5000

SCHEMA: Final = """
create table if not exists caseload_cases (
    case_id text primary key,
    team_id text not null,
    practitioner_id text,
    case_type text not null,
    tier text,
    stage text,
    points integer not null,
    open boolean not null,
    opened_on date not null,
    closed_on date
);
create index if not exists caseload_cases_open_by_practitioner
    on caseload_cases (practitioner_id) include (points) where open;
create table if not exists caseload_practitioners (
    practitioner_id text primary key,
    team_id text not null,
    region_id text not null,
    name text not null,
    leaving_date date,
    transfers jsonb not null default '[]'
);
alter table caseload_practitioners add column if not exists transfers jsonb not null default '[]';
create index if not exists caseload_practitioners_team on caseload_practitioners (team_id);
create index if not exists caseload_practitioners_moving on caseload_practitioners (practitioner_id)
    where transfers <> '[]';
create table if not exists caseload_overrides (
    event_id uuid primary key,
    position bigint not null,
    recorded_at timestamptz not null,
    case_id text not null,
    practitioner_id text not null,
    team_id text not null,
    action text not null,
    case_points integer not null,
    points_before bigint not null,
    points_after bigint not null,
    available_points bigint not null,
    capacity_before_percent numeric not null,
    capacity_after_percent numeric not null,
    override_threshold_percent numeric not null,
    hard_ceiling_percent numeric not null,
    exceeded text not null,
    reason text not null,
    decided_by text not null,
    decided_by_role text not null
);
create index if not exists caseload_overrides_recorded on caseload_overrides (recorded_at);
"""
# Sums of points need not fit 32 bits (each case's points do).
_WIDEN: Final = """
do $$
begin
    if exists (select from information_schema.columns where table_name = 'caseload_overrides'
               and column_name = 'points_after' and data_type = 'integer') then
        alter table caseload_overrides alter column points_before type bigint,
            alter column points_after type bigint, alter column available_points type bigint;
    end if;
end $$;
"""
# Before the kit's read model the checkpoint had a table of its own: carry it over once.
_LEGACY_CHECKPOINT: Final = """
do $$
begin
    if to_regclass('caseload_checkpoint') is not null then
        update read_model_checkpoints set position = greatest(position,
            (select position from caseload_checkpoint where id = 1))
        where name = 'allocation-caseload';
        drop table caseload_checkpoint;
    end if;
end $$;
"""

APPLIED: Final = frozenset(
    {
        CaseOpened.type,
        CaseAllocated.type,
        CaseReallocated.type,
        CaseWeightingChanged.type,
        CaseClosed.type,
        PractitionerRegistered.type,
        PractitionerTransferred.type,
        PractitionerLeft.type,
        AllocationOverrideRecorded.type,
        CalendarDayBegan.type,
    }
)


class CaseloadModel:
    """The caseload tables, as the kit's `StoreReadModel`: created, dropped, applied."""

    name = NAME

    def __init__(self, store: StoreReader) -> None:
        self.store = store

    def create(self, conn: Connection) -> None:
        had_overrides = conn.execute(
            text("select to_regclass('caseload_overrides') is not null")
        ).scalar_one()
        conn.exec_driver_sql(SCHEMA)
        conn.exec_driver_sql(_WIDEN)
        conn.exec_driver_sql(_LEGACY_CHECKPOINT)
        if not had_overrides:
            _backfill_overrides(conn, self.store)

    def drop(self, conn: Connection) -> None:
        conn.exec_driver_sql(
            "drop table if exists caseload_cases, caseload_practitioners, caseload_overrides"
        )

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None:
        _apply(conn, events)


class Caseload:
    """The caseload read model on its own engine (so lock waiters never starve the store)."""

    def __init__(self, engine: Engine, store: StoreReader, *, batch_size: int = BATCH) -> None:
        self.engine = engine
        self.store = store
        self.model = StoreFedReadModel(
            engine, store, CaseloadModel(store), types=APPLIED, batch_size=batch_size
        )
        self._lock = threading.Lock()

    def create_schema(self) -> None:
        self.model.create_schema()

    @contextmanager
    def allocating_to(self, practitioner_id: str) -> Iterator[Connection]:
        """Hold the practitioner's allocation lock, caught up: allocations to them serialise.

        A session lock on a connection of this model's own engine, held across the
        caller's whole decision (catch-up, read, decide, append) and released when the
        block ends, whatever happens in it. Whoever takes it next catches up and sees
        this allocation. The catch-up commits at once, so the catch-up lock is not held
        for the decision and other readers are not kept waiting.
        """
        with self.model.holding(practitioner_id) as conn:
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A caught-up connection to read from: reads see every write that returned."""
        with self.model.reading() as conn:
            yield conn

    def catch_up(self) -> int:
        """Apply what the store holds beyond the checkpoint; returns the checkpoint."""
        with self.engine.connect() as conn:
            position = self.model.catch_up(conn)
            conn.commit()
        return position

    def move_due_transfers(self, today: date) -> int:
        """Bring in the pending transfers due by `today`; returns the practitioners moved.

        The day's `calendar-day-began` brings them in at the catch-up; any still due
        (a day whose event was not recorded) are moved here. Under the catch-up lock,
        so a transfer recorded before the run is never left pending; running it again
        moves nobody.
        """
        with self.engine.begin() as conn:
            self.model.create_schema()
            self.model.lock(conn)
            due = int(conn.execute(text(_DUE), {"today": today.isoformat()}).scalar_one())
            self.model.catch_up(conn)
            rows = conn.execute(text(_MOVING)).mappings()
            moved = [_moved(dict(row), today) for row in rows]
            _save(conn, _SAVE_PRACTITIONERS, [row for row in moved if row is not None])
        return due

    def rebuild(self) -> int:
        """Drop the rows and replay the whole log (see the kit's `rebuild`)."""
        return self.model.rebuild()

    def parked(self) -> list[ParkedEvent]:
        """The events set aside because the tables could not hold them."""
        return self.model.parked()


def _backfill_overrides(conn: Connection, store: StoreReader) -> None:
    """Fill a new overrides table with the overrides the checkpoint has already passed."""
    checkpoint = int(
        conn.execute(
            text("select position from read_model_checkpoints where name = :name"),
            {"name": NAME},
        ).scalar_one_or_none()
        or 0
    )
    position = 0
    while position < checkpoint:
        batch = store.read_all(position, BATCH)
        if not batch:
            break
        overrides = [
            StoreEvent(e, AllocationOverrideRecorded.model_validate(e.data))
            for e in batch
            if e.position <= checkpoint and e.type == AllocationOverrideRecorded.type
        ]
        _apply(conn, overrides)
        position = batch[-1].position


def _apply(conn: Connection, batch: Sequence[StoreEvent]) -> None:
    """Apply a batch of events in a few statements, to the rows applying each in turn would.

    One statement per event made a catch-up over a long log take minutes. Instead the
    rows the batch touches are loaded, every event is applied to them in memory in
    position order (`_evolve`, with SQL's semantics), and they are written back in one
    statement per table.
    """
    events = [(event.recorded, event.data) for event in batch]
    case_ids = {event.case_id for _, event in events if isinstance(event, _CASE_EVENTS)}
    practitioner_ids = {
        event.practitioner_id
        for _, event in events
        if isinstance(event, PractitionerRegistered | PractitionerTransferred | PractitionerLeft)
    }
    practitioners = _load(conn, _LOAD_PRACTITIONERS, "practitioner_id", practitioner_ids)
    if any(isinstance(event, CalendarDayBegan) for _, event in events):
        for row in conn.execute(text(_MOVING)).mappings():
            practitioners.setdefault(row["practitioner_id"], dict(row))
    rows = _Rows(cases=_load(conn, _LOAD_CASES, "case_id", case_ids), practitioners=practitioners)
    for recorded, event in events:
        _evolve(rows, recorded, event)
    _save(conn, _SAVE_CASES, list(rows.cases.values()))
    _save(conn, _SAVE_PRACTITIONERS, list(rows.practitioners.values()))
    _save(conn, _SAVE_OVERRIDES, rows.overrides)


_CASE_EVENTS: Final = (
    CaseOpened,
    CaseAllocated,
    CaseReallocated,
    CaseWeightingChanged,
    CaseClosed,
)

_Row = dict[str, Any]


@dataclass
class _Rows:
    """The rows a batch touches, as the events applied so far leave them."""

    cases: dict[str, _Row]  # by case id: the touched cases that exist by now
    practitioners: dict[str, _Row]  # by practitioner id: likewise
    overrides: list[_Row] = field(default_factory=list)


def _evolve(rows: _Rows, recorded: RecordedEvent, event: EventData) -> None:
    """Apply one event to the rows in memory as its SQL statement would to the table.

    An insert of a key already there keeps the row that is (`on conflict do nothing`:
    the first opening or registration wins); an update of a row that is not there
    changes nothing.
    """
    if isinstance(event, CaseOpened):
        rows.cases.setdefault(
            event.case_id,
            {
                "case_id": event.case_id,
                "team_id": event.team_id,
                "practitioner_id": None,
                "case_type": event.case_type,
                "tier": event.tier,
                "stage": event.stage,
                "points": event.points,
                "open": True,
                "opened_on": event.opened_on,
                "closed_on": None,
            },
        )
    elif isinstance(event, CaseAllocated):
        _update(
            rows.cases, event.case_id, practitioner_id=event.practitioner_id, team_id=event.team_id
        )
    elif isinstance(event, CaseReallocated):
        # It moves at the points it carries (whole again if work on it was suspended).
        _update(
            rows.cases,
            event.case_id,
            practitioner_id=event.practitioner_id,
            team_id=event.team_id,
            points=event.points,
        )
    elif isinstance(event, CaseWeightingChanged):
        _update(
            rows.cases,
            event.case_id,
            points=event.points,
            tier=event.tier,
            stage=event.stage,
            case_type=event.case_type,
        )
    elif isinstance(event, CaseClosed):
        _update(rows.cases, event.case_id, open=False, closed_on=event.closed_on)
    elif isinstance(event, PractitionerRegistered):
        rows.practitioners.setdefault(
            event.practitioner_id,
            {
                **event.model_dump(include={"practitioner_id", "team_id", "region_id", "name"}),
                "leaving_date": None,
                "transfers": [],
            },
        )
    elif isinstance(event, PractitionerTransferred):
        row = rows.practitioners.get(event.practitioner_id)
        if row is not None:
            _transfer(row, event, uk_day(recorded.recorded_at))
    elif isinstance(event, PractitionerLeft):
        _update(rows.practitioners, event.practitioner_id, leaving_date=event.leaving_date)
    elif isinstance(event, CalendarDayBegan):
        for row in rows.practitioners.values():
            _moved(row, event.day)
    elif isinstance(event, AllocationOverrideRecorded):
        rows.overrides.append(
            {
                **event.model_dump(),
                "event_id": recorded.event_id,
                "position": recorded.position,
                "recorded_at": recorded.recorded_at,
            }
        )


def _transfer(row: _Row, event: PractitionerTransferred, recorded_on: date) -> None:
    """Move the row now if the transfer is due on the day it was recorded, else keep it
    pending; either way it replaces the transfers pending from its day on (the later
    record wins, as in the practitioner's stream)."""
    day = event.effective_on.isoformat()
    if event.effective_on <= recorded_on:
        row.update(team_id=event.team_id, region_id=event.region_id, transfers=[])
        return
    pending = [t for t in row["transfers"] if t["effective_on"] < day]
    row["transfers"] = [
        *pending,
        {"team_id": event.team_id, "region_id": event.region_id, "effective_on": day},
    ]


def _moved(row: _Row, today: date) -> _Row | None:
    """The row with the transfers due by `today` brought in; None if none is due."""
    due = [t for t in row["transfers"] if t["effective_on"] <= today.isoformat()]
    if not due:
        return None
    row["transfers"] = [t for t in row["transfers"] if t["effective_on"] > today.isoformat()]
    row.update(team_id=due[-1]["team_id"], region_id=due[-1]["region_id"])
    return row


def _update(table: dict[str, _Row], key: str, **values: Any) -> None:
    row = table.get(key)
    if row is not None:
        row.update(values)


def _load(conn: Connection, statement: str, key: str, keys: set[str]) -> dict[str, _Row]:
    if not keys:
        return {}
    found = conn.execute(text(statement), {"keys": list(keys)}).mappings()
    return {row[key]: dict(row) for row in found}


def _save(conn: Connection, statement: str, rows: list[_Row]) -> None:
    # One JSON array for the whole batch: jsonb_populate_recordset turns it into rows of
    # the table's own type, so no type is spelled out. A key a row lacks is null, not the
    # column's default: a row built in `_evolve` names every column.
    if rows:
        conn.execute(text(statement), {"rows": to_json(rows).decode()})


_LOAD_CASES: Final = "select * from caseload_cases where case_id = any(:keys)"
_LOAD_PRACTITIONERS: Final = (
    "select * from caseload_practitioners where practitioner_id = any(:keys)"
)
_SAVE_CASES: Final = """
    insert into caseload_cases
    select * from jsonb_populate_recordset(null::caseload_cases, cast(:rows as jsonb))
    on conflict (case_id) do update set
        team_id = excluded.team_id,
        practitioner_id = excluded.practitioner_id,
        case_type = excluded.case_type,
        tier = excluded.tier,
        stage = excluded.stage,
        points = excluded.points,
        open = excluded.open,
        closed_on = excluded.closed_on"""
_SAVE_PRACTITIONERS: Final = """
    insert into caseload_practitioners
    select * from jsonb_populate_recordset(null::caseload_practitioners, cast(:rows as jsonb))
    on conflict (practitioner_id) do update set
        team_id = excluded.team_id,
        region_id = excluded.region_id,
        leaving_date = excluded.leaving_date,
        transfers = excluded.transfers"""
_MOVING: Final = "select * from caseload_practitioners where transfers <> '[]'"
_DUE: Final = """
    select count(*) from caseload_practitioners
    where transfers <> '[]' and transfers -> 0 ->> 'effective_on' <= :today"""
_SAVE_OVERRIDES: Final = """
    insert into caseload_overrides
    select * from jsonb_populate_recordset(null::caseload_overrides, cast(:rows as jsonb))
    on conflict (event_id) do nothing"""
