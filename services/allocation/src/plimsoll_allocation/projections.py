"""The caseload read model: who carries which open case, for how many points.

Fed from the service's own event store (its source of truth), not from Kafka:
allocation decisions need a practitioner's current points, consistently, so
`catch_up` reads `store.read_all(after=checkpoint)` and applies every event up
to the head before anything is read. Positions are gapless and commit in order
(see `plimsoll_events.store`), so reading after a checkpoint never skips one.

Tables:

* `caseload_cases`: one row per case (open or closed), its team, who carries
  it (null: unallocated), its points;
* `caseload_practitioners`: who is in which team (and region), and their
  leaving date: what a team's capacity is summed over. A transfer moves the
  row when it takes effect: at once when recorded on or after its effective
  day, else it waits in the row's `transfers` (pending, by day) until the daily
  reconciliation brings the due ones in (`move_due_transfers`). So from the
  effective day until that run (minutes after midnight, UK), and after a
  rebuild until the next run, team and region figures count the practitioner
  in their old team; their own record, and scope checks on them, read their
  stream, which follows the effective day exactly;
* `caseload_overrides`: each `allocation-override-recorded` (who, why,
  capacity before and after, the limit exceeded, when), for the head of
  service's list; filled from the whole log when the table is first created;
* `caseload_checkpoint`: the position applied last, moved in the same
  transaction as the rows.

`catch_up` holds a transaction-scoped advisory lock, so two catch-ups never
interleave, and works on the caller's connection, so a handler can hold its
per-practitioner lock (`Caseload.allocating_to`) on the same connection across
catch-up, read, decision and append.
"""

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.records import RecordedEvent
from plimsoll_events.store import EventStore
from plimsoll_events.types.allocation import (
    AllocationOverrideRecorded,
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
    points_before integer not null,
    points_after integer not null,
    available_points integer not null,
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
create table if not exists caseload_checkpoint (
    id integer primary key check (id = 1),
    position bigint not null
);
insert into caseload_checkpoint (id, position) values (1, 0) on conflict do nothing;
"""

_APPLIED: Final = frozenset(
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
    }
)

# Advisory locks: the catch-up's is transaction-scoped; a practitioner's is two int4 keys,
# a namespace and a hash of their id, and session-scoped.
_DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-caseload-ddl'))"
_CATCH_UP_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-caseload-catch-up'))"
_PRACTITIONER_LOCK: Final = (
    "select pg_advisory_lock(hashtext('plimsoll-allocate-to'), hashtext(:practitioner_id))"
)
_PRACTITIONER_UNLOCK: Final = (
    "select pg_advisory_unlock(hashtext('plimsoll-allocate-to'), hashtext(:practitioner_id))"
)


class Caseload:
    """The caseload read model on its own engine (so lock waiters never starve the store)."""

    def __init__(self, engine: Engine, store: EventStore) -> None:
        self.engine = engine
        self.store = store
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    def create_schema(self) -> None:
        with self._schema_lock:
            if self._schema_ready:
                return
            with self.engine.begin() as conn:
                conn.execute(text(_DDL_LOCK))
                had_overrides = conn.execute(
                    text("select to_regclass('caseload_overrides') is not null")
                ).scalar_one()
                conn.exec_driver_sql(SCHEMA)
                if not had_overrides:
                    _backfill_overrides(conn, self.store)
            self._schema_ready = True

    @contextmanager
    def allocating_to(self, practitioner_id: str) -> Iterator[Connection]:
        """Hold the practitioner's allocation lock, caught up: allocations to them serialise.

        A session lock on a connection of this model's own engine, held across the
        caller's whole decision (catch-up, read, decide, append) and released when the
        block ends, whatever happens in it. Whoever takes it next catches up and sees
        this allocation. The catch-up commits at once, so the catch-up lock is not held
        for the decision and other readers are not kept waiting.
        """
        self.create_schema()
        with self.engine.connect() as conn:
            conn.execute(text(_PRACTITIONER_LOCK), {"practitioner_id": practitioner_id})
            conn.commit()
            try:
                catch_up(conn, self.store)
                conn.commit()
                yield conn
            finally:
                _unlock(conn, practitioner_id)

    def move_due_transfers(self, today: date) -> int:
        """Bring in the pending transfers due by `today`; returns the practitioners moved.

        Caught up first, under the catch-up lock, so a transfer recorded before the
        run is never left pending; running it again moves nobody.
        """
        self.create_schema()
        with self.engine.begin() as conn:
            conn.execute(text(_CATCH_UP_LOCK))
            catch_up(conn, self.store)
            rows = conn.execute(text(_MOVING)).mappings()
            moved = [_moved(dict(row), today) for row in rows]
            _save(conn, _SAVE_PRACTITIONERS, [row for row in moved if row is not None])
        return sum(row is not None for row in moved)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A caught-up connection to read from: reads see every write that returned."""
        self.create_schema()
        with self.engine.connect() as conn:
            catch_up(conn, self.store)
            conn.commit()
            yield conn
            conn.rollback()


def _unlock(conn: Connection, practitioner_id: str) -> None:
    try:
        conn.rollback()
        conn.execute(text(_PRACTITIONER_UNLOCK), {"practitioner_id": practitioner_id})
        conn.commit()
    except Exception:
        # Never hand a connection that may still hold the lock back to the pool.
        conn.invalidate()
        raise


def _backfill_overrides(conn: Connection, store: EventStore) -> None:
    """Fill a new overrides table with the overrides the checkpoint has already passed."""
    conn.execute(text(_CATCH_UP_LOCK))
    checkpoint = int(conn.execute(text("select position from caseload_checkpoint")).scalar_one())
    position = 0
    while position < checkpoint:
        batch = store.read_all(position, BATCH)
        if not batch:
            break
        _apply(
            conn,
            [
                event
                for event in batch
                if event.position <= checkpoint and event.type == AllocationOverrideRecorded.type
            ],
        )
        position = batch[-1].position


def catch_up(conn: Connection, store: EventStore) -> int:
    """Apply every event after the checkpoint, in batches; returns the new checkpoint.

    The caller commits: the rows and the checkpoint move together, and the advisory
    lock taken here keeps other catch-ups out until then.
    """
    checkpoint = text("select position from caseload_checkpoint")
    position = int(conn.execute(checkpoint).scalar_one())
    if position >= store.head_position():
        return position  # nothing new: most reads end here, without taking the lock
    conn.execute(text(_CATCH_UP_LOCK))
    position = int(conn.execute(checkpoint).scalar_one())
    while True:
        batch = store.read_all(position, BATCH)
        if not batch:
            break
        _apply(conn, batch)
        position = batch[-1].position
        conn.execute(text("update caseload_checkpoint set position = :p"), {"p": position})
        if len(batch) < BATCH:
            break
    return position


def _apply(conn: Connection, batch: Sequence[RecordedEvent]) -> None:
    """Apply a batch of events in a few statements, to the rows applying each in turn would.

    One statement per event made a catch-up over a long log take minutes. Instead the
    rows the batch touches are loaded, every event is applied to them in memory in
    position order (`_evolve`, with SQL's semantics), and they are written back in one
    statement per table.
    """
    events = [
        (recorded, CATALOGUE.decode(recorded.type, recorded.version, recorded.data))
        for recorded in batch
        if recorded.type in _APPLIED
    ]
    case_ids = {event.case_id for _, event in events if isinstance(event, _CASE_EVENTS)}
    practitioner_ids = {
        event.practitioner_id
        for _, event in events
        if isinstance(event, PractitionerRegistered | PractitionerTransferred | PractitionerLeft)
    }
    rows = _Rows(
        cases=_load(conn, _LOAD_CASES, "case_id", case_ids),
        practitioners=_load(conn, _LOAD_PRACTITIONERS, "practitioner_id", practitioner_ids),
    )
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
    elif isinstance(event, CaseAllocated | CaseReallocated):
        _update(
            rows.cases, event.case_id, practitioner_id=event.practitioner_id, team_id=event.team_id
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
_SAVE_OVERRIDES: Final = """
    insert into caseload_overrides
    select * from jsonb_populate_recordset(null::caseload_overrides, cast(:rows as jsonb))
    on conflict (event_id) do nothing"""
