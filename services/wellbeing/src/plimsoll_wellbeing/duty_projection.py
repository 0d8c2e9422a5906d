"""The duty-of-care read model: a Kafka-fed projection of the allocation, timesheet and wellbeing
topics, run by the kit's `ProjectionRunner` (name `wellbeing-duty-of-care`).

Per batch, in the runner's transaction (so with its checkpoint, all or nothing):

* `duty_log`: every event the rules read, as delivered (its time, source and position, its data
  upcast to the latest version), keyed by (source, position): what as-of reads replay, and
  where a judgement reads the hours of the days it needs (`day`, for timesheet entries);
* `duty_practitioners` / `duty_teams`: each subject's facts, folded (`domain.duty`), with the
  columns queries filter on (a practitioner's latest team, region and line manager);
* `duty_policies`: every policy version adopted, whole;
* `duty_memberships`: which practitioner was ever placed in which team and region, and since
  when it was known (the candidates of an as-of team or region view);
* `duty_dirty`: the subjects whose rules must be judged again, each with the latest event that
  touched it (the cause a breach cites): a practitioner after any event about them, a team
  after its capacity, its fullness or a member's placement changed, everyone after a policy
  was adopted. The breach recorder (`recorder`) takes them from there, after the commit, woken
  by `NOTIFY wellbeing_duty_dirty`: those an event touched first, then those marked only by a
  policy's sweep (`sweep`), so that thousands judged again under a new policy never hold up a
  breach opening now.

The facts do not depend on how the topics interleave (see `domain.duty`), the log is keyed by
what it holds, and the dirty marks are not part of the model: a rebuild gives the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from plimsoll_events.catalogue import topic_for
from plimsoll_events.projection import Delivered
from plimsoll_events.types.allocation import PractitionerRegistered, PractitionerTransferred
from plimsoll_events.types.timesheet import HoursLogged
from plimsoll_events.types.wellbeing import PolicyAdopted
from plimsoll_platform.placement_history import PLACEMENT_EVENTS
from pydantic_core import to_json
from sqlalchemy import Connection, text

from plimsoll_wellbeing.domain.duty import (
    HOURS_EVENTS,
    POLICY_ADOPTED,
    PRACTITIONER_EVENTS,
    TEAM_EVENTS,
    DutyFacts,
    TeamFacts,
    evolve,
    evolve_team,
    hours_fact,
)
from plimsoll_wellbeing.duty_codec import facts_from, facts_json, team_from, team_json

NAME: Final = "wellbeing-duty-of-care"
LOGGED: Final = HoursLogged.type
CHANNEL: Final = "wellbeing_duty_dirty"
RELEVANT: Final = PRACTITIONER_EVENTS | HOURS_EVENTS | TEAM_EVENTS | {POLICY_ADOPTED}

SCHEMA: Final = """
create table if not exists duty_log (
    source   text not null,
    position bigint not null,
    event_id uuid not null,
    known_at timestamptz not null,
    type     text not null,
    subject  text not null,
    day      date,
    entry_id uuid,
    minutes  integer,
    started_at time,
    ended_at   time,
    data     json,
    primary key (source, position)
);
create index if not exists duty_log_subject on duty_log (subject, day, known_at);
create table if not exists duty_practitioners (
    practitioner_id text primary key,
    team_id         text,
    region_id       text,
    line_manager_id text,
    start_date      date,
    leaving_date    date,
    facts           jsonb not null
);
create index if not exists duty_practitioners_team on duty_practitioners (team_id);
create table if not exists duty_teams (
    team_id   text primary key,
    region_id text,
    facts     jsonb not null
);
create table if not exists duty_policies (
    policy_version integer primary key,
    adopted_at     timestamptz not null,
    event_id       uuid not null,
    data           jsonb not null
);
create table if not exists duty_memberships (
    practitioner_id text not null,
    team_id         text not null,
    region_id       text not null,
    known_at        timestamptz not null,
    primary key (practitioner_id, team_id)
);
create index if not exists duty_memberships_region on duty_memberships (region_id);
create sequence if not exists duty_dirty_marks;
create table if not exists duty_dirty (
    subject_kind text not null,
    subject_id   text not null,
    cause        jsonb not null,
    mark         bigint not null,
    attempts     integer not null default 0,
    not_before   timestamptz,
    sweep        boolean not null default false,
    primary key (subject_kind, subject_id)
);
alter table duty_dirty add column if not exists sweep boolean not null default false;
create index if not exists duty_dirty_order on duty_dirty (sweep, mark);
"""
TABLES: Final = (
    "duty_log",
    "duty_practitioners",
    "duty_teams",
    "duty_policies",
    "duty_memberships",
    "duty_dirty",
)
MODEL_TABLES: Final = TABLES[:-1]
"""The read model proper (the dirty marks are the recorder's work queue)."""
_DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-duty-of-care-ddl'))"
# Rows travel as one JSON document each statement (`jsonb_to_recordset`): arrays of JSON text
# would be escaped element by element on the client, which cost more than everything else.
MARK_DIRTY: Final = """
insert into duty_dirty (subject_kind, subject_id, cause, mark, sweep)
select k, s, c, nextval('duty_dirty_marks'), w
from jsonb_to_recordset(cast(:rows as jsonb)) as u(k text, s text, c jsonb, w boolean)
on conflict (subject_kind, subject_id) do update
set cause = excluded.cause, mark = excluded.mark, attempts = 0, not_before = null,
    sweep = duty_dirty.sweep and excluded.sweep
"""
COPY_LOG: Final = (
    "copy duty_log (source, position, event_id, known_at, type, subject, day, entry_id, minutes, "
    "started_at, ended_at, data) from stdin (format binary)"
)
# Binary COPY by psycopg's C row writer: an event costs microseconds. `data` travels as the JSON
# text itself (json's binary form), declared bytea so that psycopg passes it through.
COPY_TYPES: Final = [
    "text", "int8", "uuid", "timestamptz", "text", "text", "date", "uuid", "int4", "time",
    "time", "bytea",
]  # fmt: skip
SAVE_PRACTITIONERS: Final = """
insert into duty_practitioners
select * from jsonb_to_recordset(cast(:rows as jsonb)) as r(
    practitioner_id text, team_id text, region_id text, line_manager_id text, start_date date,
    leaving_date date, facts jsonb)
on conflict (practitioner_id) do update set team_id = excluded.team_id,
    region_id = excluded.region_id, line_manager_id = excluded.line_manager_id,
    start_date = excluded.start_date, leaving_date = excluded.leaving_date, facts = excluded.facts
"""


def cause_of(event: Delivered) -> dict[str, Any]:
    """What a breach judged after this event cites."""
    return {
        "kind": "event",
        "event_id": str(event.event_id),
        "event_type": event.type,
        "source": event.source,
        "at": event.time.isoformat(),
    }


def subject_of(data: Any) -> str:
    """The log's subject of an event: the practitioner, `team/<id>`, or `policy`."""
    if data.type == POLICY_ADOPTED:
        return "policy"
    if data.type in TEAM_EVENTS:
        return f"team/{data.team_id}"
    return str(data.practitioner_id)


class DutyOfCareProjection:
    """The duty-of-care read model (see the module)."""

    def __init__(self, *, name: str = NAME, topics: Sequence[str] | None = None) -> None:
        self.name = name
        self.topics: Sequence[str] = list(
            topics or [topic_for("allocation"), topic_for("timesheet"), topic_for("wellbeing")]
        )

    def create(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql(SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql(f"drop table if exists {', '.join(TABLES)}")

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        relevant = [e for e in events if e.type in RELEVANT]
        if not relevant:
            return
        _log(conn, relevant)
        dirty = _Marks(relevant)
        for event in relevant:
            if event.type in HOURS_EVENTS:
                dirty.mark("practitioner", event.data.practitioner_id, event)  # type: ignore[attr-defined]
        _practitioners(conn, relevant, dirty)
        _teams(conn, relevant, dirty)
        _policies(conn, relevant, dirty)
        _memberships(conn, relevant)
        conn.execute(text(MARK_DIRTY), {"rows": to_json(dirty.rows()).decode()})
        conn.execute(text("select pg_notify(:channel, '')"), {"channel": CHANNEL})


class _Marks:
    """The subjects a batch touched, each with the latest event (in the batch's order) that
    touched it: the cause its judgement cites."""

    def __init__(self, events: Sequence[Delivered]) -> None:
        self.order = {id(e): i for i, e in enumerate(events)}
        self.latest: dict[tuple[str, str], Delivered] = {}
        self.prompt: set[tuple[str, str]] = set()

    def mark(self, kind: str, subject: str, event: Delivered, *, sweep: bool = False) -> None:
        """`sweep`: marked only because a policy was adopted; judged after the rest."""
        key = (kind, subject)
        if not sweep:
            self.prompt.add(key)
        known = self.latest.get(key)
        if known is None or self.order[id(known)] <= self.order[id(event)]:
            self.latest[key] = event

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"k": k, "s": s, "c": cause_of(e), "w": (k, s) not in self.prompt}
            for (k, s), e in sorted(self.latest.items())
        ]


def _log(conn: Connection, events: Sequence[Delivered]) -> None:
    """Every event, as the rules read it again: a timesheet entry's hours as columns (the bulk of
    the log, read by day), anything else as its data. (`hours_fact`, inlined: this loop is most
    of a rebuild's own time.)"""
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor().copy(COPY_LOG) as copy:
        copy.set_types(COPY_TYPES)
        write = copy.write_row
        for e in events:
            kind, data = e.type, e.data
            if kind == LOGGED:
                entry: Any = data  # an hours-logged: the common case, written as it is
                write(
                    (
                        e.source,
                        e.position,
                        e.event_id,
                        e.time,
                        kind,
                        entry.practitioner_id,
                        entry.day,
                        e.event_id,
                        entry.minutes,
                        entry.started_at,
                        entry.ended_at,
                        None,
                    )
                )
            elif kind in HOURS_EVENTS:
                fact = hours_fact(e.event_id, data)
                write(
                    (
                        e.source,
                        e.position,
                        e.event_id,
                        e.time,
                        kind,
                        subject_of(data),
                        fact.day,
                        fact.entry,
                        fact.minutes,
                        fact.started_at,
                        fact.ended_at,
                        None,
                    )
                )
            else:
                write(
                    (
                        e.source,
                        e.position,
                        e.event_id,
                        e.time,
                        kind,
                        subject_of(data),
                        None,
                        None,
                        None,
                        None,
                        None,
                        data.__pydantic_serializer__.to_json(data),
                    )
                )


def _practitioners(conn: Connection, events: Sequence[Delivered], dirty: _Marks) -> None:
    folded = [e for e in events if e.type in PRACTITIONER_EVENTS]
    if not folded:
        return
    ids = sorted({str(e.data.practitioner_id) for e in folded})  # type: ignore[attr-defined]
    stored = conn.execute(
        text(
            "select practitioner_id, facts from duty_practitioners "
            "where practitioner_id = any(:ids)"
        ),
        {"ids": ids},
    )
    facts = {pid: facts_from(pid, raw) for pid, raw in stored}
    for event in folded:
        pid = str(event.data.practitioner_id)  # type: ignore[attr-defined]
        before = facts.get(pid) or DutyFacts(pid)
        after = facts[pid] = evolve(before, event.data, event.event_id, event.time)
        dirty.mark("practitioner", pid, event)
        if event.type in PLACEMENT_EVENTS:  # the team they leave and the team they join
            for placed in (before.team(), after.team()):
                if placed is not None:
                    dirty.mark("team", placed[0], event)
    rows = []
    for pid in ids:
        known = facts[pid]
        team, region, manager = known.team() or (None, None, None)
        history = known.placement
        rows.append(
            {
                "practitioner_id": pid,
                "team_id": team,
                "region_id": region,
                "line_manager_id": manager,
                "start_date": None if history is None else history.start_date,
                "leaving_date": None if history is None else history.leaving_date,
                "facts": facts_json(known),
            }
        )
    conn.execute(text(SAVE_PRACTITIONERS), {"rows": to_json(rows).decode()})


def _teams(
    conn: Connection,
    events: Sequence[Delivered],
    dirty: _Marks,
) -> None:
    folded = [e for e in events if e.type in TEAM_EVENTS]
    if not folded:
        return
    ids = sorted({str(e.data.team_id) for e in folded})  # type: ignore[attr-defined]
    rows = conn.execute(
        text("select team_id, region_id, facts from duty_teams where team_id = any(:ids)"),
        {"ids": ids},
    )
    teams = {tid: team_from(tid, region, raw) for tid, region, raw in rows}
    for event in folded:
        tid = str(event.data.team_id)  # type: ignore[attr-defined]
        teams[tid] = evolve_team(
            teams.get(tid) or TeamFacts(tid), event.data, event.event_id, event.time
        )
        dirty.mark("team", tid, event)
    saved = [teams[tid] for tid in ids]
    conn.execute(
        text(
            "insert into duty_teams select * from unnest(cast(:ids as text[]), "
            "cast(:regions as text[]), cast(:facts as jsonb[])) on conflict (team_id) do update "
            "set region_id = excluded.region_id, facts = excluded.facts"
        ),
        {
            "ids": ids,
            "regions": [t.region_id for t in saved],
            "facts": [to_json(team_json(t)).decode() for t in saved],
        },
    )


def _policies(conn: Connection, events: Sequence[Delivered], dirty: _Marks) -> None:
    adopted = [e for e in events if isinstance(e.data, PolicyAdopted)]
    for event in adopted:
        data = event.data
        assert isinstance(data, PolicyAdopted)
        conn.execute(
            text(
                "insert into duty_policies values (:v, :at, :id, cast(:data as jsonb)) "
                "on conflict do nothing"
            ),
            {
                "v": data.policy_version,
                "at": data.adopted_at,
                "id": event.event_id,
                "data": data.model_dump_json(),
            },
        )
    if adopted:  # everyone is judged again under the version now in force
        cause = adopted[-1]
        for kind, table, column in (
            ("practitioner", "duty_practitioners", "practitioner_id"),
            ("team", "duty_teams", "team_id"),
        ):
            for (subject,) in conn.execute(text(f"select {column} from {table}")):  # noqa: S608
                dirty.mark(kind, subject, cause, sweep=True)
        for (team,) in conn.execute(
            text("select distinct team_id from duty_practitioners where team_id is not null")
        ):
            dirty.mark("team", team, cause, sweep=True)


def _memberships(conn: Connection, events: Sequence[Delivered]) -> None:
    first: dict[tuple[str, str], tuple[str, Any]] = {}
    for e in events:
        if isinstance(e.data, PractitionerRegistered | PractitionerTransferred):
            key = (e.data.practitioner_id, e.data.team_id)
            if key not in first or e.time < first[key][1]:
                first[key] = (e.data.region_id, e.time)
    if not first:
        return
    rows = [(p, t, region, at) for (p, t), (region, at) in sorted(first.items())]
    columns = list(zip(*rows, strict=True))
    conn.execute(
        text(
            "insert into duty_memberships select * from unnest(cast(:p as text[]), "
            "cast(:t as text[]), cast(:r as text[]), cast(:at as timestamptz[])) "
            "on conflict (practitioner_id, team_id) do update "
            "set known_at = least(duty_memberships.known_at, excluded.known_at)"
        ),
        {
            "p": list(columns[0]),
            "t": list(columns[1]),
            "r": list(columns[2]),
            "at": list(columns[3]),
        },
    )
