"""The timesheet read model, fed from the service's own store by the kit's
`plimsoll_events.readmodel.StoreFedReadModel` (a read after a write sees it).

Tables, every row a function of the events alone (no clock), so a rebuild gives
the same rows:

* `timesheet_entries`: one row per entry (the id of its `hours-logged` event):
  its latest values, who logged it, whether corrected or withdrawn, and the
  store position it was logged at (the order of a day's entries);
* `timesheet_days`: per practitioner and day, overtime recorded and the day's
  latest TOIL;
* `timesheet_leave`: each leave, and whether it was cancelled;
* `timesheet_opt_outs`: each opt-out recorded or withdrawn, in store order.

Placements (team, region, contracted hours by day) are a read model of their
own, fed from allocation's topic (`plimsoll_platform.placements`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from plimsoll_events.readmodel import StoreEvent
from plimsoll_events.records import RecordedEvent
from plimsoll_events.types.timesheet import (
    HoursCorrected,
    HoursLogged,
    HoursWithdrawn,
    LeaveCancelled,
    LeaveRecorded,
    OvertimeRecorded,
    ToilAccrued,
    WorkingTimeOptOutRecorded,
    WorkingTimeOptOutWithdrawn,
)
from sqlalchemy import Connection, text

NAME: Final = "timesheet"

SCHEMA: Final = """
create table if not exists timesheet_entries (
    entry_id         uuid primary key,
    position         bigint not null,
    practitioner_id  text not null,
    day              date not null,
    minutes          integer not null,
    category         text not null,
    started_at       time,
    ended_at         time,
    note             text,
    on_behalf_reason text,
    logged_by        text not null,
    corrected        boolean not null default false,
    withdrawn        boolean not null default false
);
create index if not exists timesheet_entries_by_day on timesheet_entries (practitioner_id, day)
    include (minutes, category, withdrawn);
create table if not exists timesheet_days (
    practitioner_id  text not null,
    day              date not null,
    overtime_minutes integer not null default 0,
    toil_minutes     integer not null default 0,
    primary key (practitioner_id, day)
);
create table if not exists timesheet_leave (
    practitioner_id text not null,
    leave_id        text not null,
    kind            text not null,
    first_day       date not null,
    last_day        date not null,
    minutes_per_day integer,
    note            text,
    cancelled       boolean not null default false,
    primary key (practitioner_id, leave_id)
);
create table if not exists timesheet_opt_outs (
    practitioner_id text not null,
    position        bigint not null,
    effective_from  date not null,
    opted_out       boolean not null,
    primary key (practitioner_id, position)
);
"""
TYPES: Final = frozenset(
    model.type
    for model in (
        HoursLogged,
        HoursCorrected,
        HoursWithdrawn,
        OvertimeRecorded,
        ToilAccrued,
        LeaveRecorded,
        LeaveCancelled,
        WorkingTimeOptOutRecorded,
        WorkingTimeOptOutWithdrawn,
    )
)
"""The event types the read model applies; the store holds others (the access log's)."""
TABLES: Final = ("timesheet_entries", "timesheet_days", "timesheet_leave", "timesheet_opt_outs")

_INSERT_ENTRIES: Final = text(
    "insert into timesheet_entries (entry_id, position, practitioner_id, day, minutes, category, "
    "started_at, ended_at, note, on_behalf_reason, logged_by) "
    "select * from unnest(cast(:ids as uuid[]), cast(:positions as bigint[]), "
    "cast(:practitioners as text[]), cast(:days as date[]), cast(:minutes as integer[]), "
    "cast(:categories as text[]), cast(:starts as time[]), cast(:ends as time[]), "
    "cast(:notes as text[]), cast(:reasons as text[]), cast(:actors as text[])) "
    "on conflict (entry_id) do nothing"
)
_CORRECT: Final = text(
    "update timesheet_entries set minutes = :minutes, category = :category, "
    "started_at = :started_at, ended_at = :ended_at, note = :note, corrected = true "
    "where entry_id = :entry_id"
)
_WITHDRAW: Final = text("update timesheet_entries set withdrawn = true where entry_id = :entry_id")
_ADD_OVERTIME: Final = text(
    "insert into timesheet_days (practitioner_id, day, overtime_minutes) "
    "select * from unnest(cast(:practitioners as text[]), cast(:days as date[]), "
    "cast(:minutes as integer[])) on conflict (practitioner_id, day) do update "
    "set overtime_minutes = timesheet_days.overtime_minutes + excluded.overtime_minutes"
)
_SET_TOIL: Final = text(
    "insert into timesheet_days (practitioner_id, day, toil_minutes) "
    "select * from unnest(cast(:practitioners as text[]), cast(:days as date[]), "
    "cast(:minutes as integer[])) on conflict (practitioner_id, day) do update "
    "set toil_minutes = excluded.toil_minutes"
)
_RECORD_LEAVE: Final = text(
    "insert into timesheet_leave (practitioner_id, leave_id, kind, first_day, last_day, "
    "minutes_per_day, note) values (:practitioner_id, :leave_id, :kind, :first_day, :last_day, "
    ":minutes_per_day, :note) on conflict do nothing"
)
_CANCEL_LEAVE: Final = text(
    "update timesheet_leave set cancelled = true "
    "where practitioner_id = :practitioner_id and leave_id = :leave_id"
)
_OPT_OUT: Final = text(
    "insert into timesheet_opt_outs values (:practitioner_id, :position, :effective_from, "
    ":opted_out) on conflict do nothing"
)


class TimesheetReadModel:
    """The read model's tables and how each event changes them (see the module)."""

    name = NAME

    def create(self, conn: Connection) -> None:
        conn.exec_driver_sql(SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.exec_driver_sql(f"drop table if exists {', '.join(TABLES)}")

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None:
        """Apply a batch in order: new entries gathered into one statement until a correction
        or withdrawal needs them in place; the days' overtime and TOIL in one statement each
        at the end (they touch no entry)."""
        logged: list[tuple[RecordedEvent, HoursLogged]] = []
        overtime: dict[tuple[str, Any], int] = {}
        toil: dict[tuple[str, Any], int] = {}
        for event in events:
            recorded, data = event.recorded, event.data
            if isinstance(data, HoursLogged):
                logged.append((recorded, data))
                continue
            if isinstance(data, HoursCorrected | HoursWithdrawn):
                _insert_entries(conn, logged)  # the entry it changes may be among them
            if isinstance(data, OvertimeRecorded):
                key = (data.practitioner_id, data.day)
                overtime[key] = overtime.get(key, 0) + data.minutes
            elif isinstance(data, ToilAccrued):
                toil[(data.practitioner_id, data.day)] = data.toil_minutes
            else:
                _apply_one(conn, recorded, data)
        _insert_entries(conn, logged)
        for statement, minutes in ((_ADD_OVERTIME, overtime), (_SET_TOIL, toil)):
            if minutes:
                conn.execute(
                    statement,
                    {
                        "practitioners": [p for p, _ in minutes],
                        "days": [d for _, d in minutes],
                        "minutes": list(minutes.values()),
                    },
                )


def _insert_entries(conn: Connection, logged: list[tuple[RecordedEvent, HoursLogged]]) -> None:
    """Insert the run of entries gathered so far, and empty it."""
    if not logged:
        return
    conn.execute(
        _INSERT_ENTRIES,
        {
            "ids": [r.event_id for r, _ in logged],
            "positions": [r.position for r, _ in logged],
            "practitioners": [d.practitioner_id for _, d in logged],
            "days": [d.day for _, d in logged],
            "minutes": [d.minutes for _, d in logged],
            "categories": [d.category for _, d in logged],
            "starts": [d.started_at for _, d in logged],
            "ends": [d.ended_at for _, d in logged],
            "notes": [d.note for _, d in logged],
            "reasons": [d.on_behalf_reason for _, d in logged],
            "actors": [r.metadata.actor for r, _ in logged],
        },
    )
    logged.clear()


def _apply_one(conn: Connection, recorded: RecordedEvent, data: Any) -> None:
    if isinstance(data, HoursCorrected):
        conn.execute(
            _CORRECT,
            {
                "entry_id": data.entry_id,
                "minutes": data.minutes,
                "category": data.category,
                "started_at": data.started_at,
                "ended_at": data.ended_at,
                "note": data.note,
            },
        )
    elif isinstance(data, HoursWithdrawn):
        conn.execute(_WITHDRAW, {"entry_id": data.entry_id})
    elif isinstance(data, LeaveRecorded):
        conn.execute(_RECORD_LEAVE, data.model_dump())
    elif isinstance(data, LeaveCancelled):
        conn.execute(
            _CANCEL_LEAVE, {"practitioner_id": data.practitioner_id, "leave_id": data.leave_id}
        )
    elif isinstance(data, WorkingTimeOptOutRecorded | WorkingTimeOptOutWithdrawn):
        conn.execute(
            _OPT_OUT,
            {
                "practitioner_id": data.practitioner_id,
                "position": recorded.position,
                "effective_from": data.effective_from,
                "opted_out": isinstance(data, WorkingTimeOptOutRecorded),
            },
        )
