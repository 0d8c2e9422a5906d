"""Live capacity on Kafka: the process manager that publishes `capacity-changed`.

Capacity is worked out in one place. This process manager follows the
allocation service's own store in position order, as the kit's
`StoreFedReadModel` (name `allocation-capacity`: a checkpoint, an advisory
lock by name, parked poison), and for each batch:

1. loads the state the batch touches (`capacity_*` tables: each
   practitioner's grade, hours, reductions in force, team and points, each
   case's holder and weight, the schemes' grade tables, each team's sums, and
   the figures published last);
2. applies the events in memory (`domain.figures`), which says what to publish
   after each one: `capacity-changed` for a practitioner whose figure moved,
   `team-capacity-changed` for a team;
3. appends them, one append per stream (`capacity-<practitioner>`,
   `team-capacity-<team>`) at the version the saved state says the stream is
   at, streams in parallel;
4. saves the state (with each stream's new version) and moves the checkpoint,
   in one transaction.

A crash between 3 and 4 leaves the checkpoint behind what was appended: the
batch is applied again from the same saved state and decides the same
figures; each append then finds its stream beyond the saved version
(`ConcurrencyError`), reads what is there, checks it is the start of what it
decided (same causes, same figures) and appends only the rest. So the
checkpoint and the published events cannot disagree, and nothing is published
twice. The stream's own version is the guard rather than an idempotency key
per cause: a key per cause means one append (one WAL flush) per figure on a
stream, and a team's stream gets a figure for nearly every event of its
members, so catching up over a long log (a new deployment, a rebuild) would
take one flush per event; with the version, a batch is one append per stream.
This manager is the streams' only writer (the catch-up lock keeps replicas
out). The events it appends are not among the types it follows, so it never
reacts to itself.

The figures depend on the log alone (never on a clock: what the calendar
brings arrives as `calendar-day-began`, `reduction-started`...), so replaying
the log from an empty state publishes the same sequence for every
practitioner and team. The limits named in `above` are the deployment's
`AllocationPolicy`; each event carries the ones it was judged by.

`Processors` (`plimsoll_allocation.processors`) runs it on a thread of its
own, catching up every few tens of milliseconds, a batch per transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.handling import Store
from plimsoll_events.readmodel import StoreEvent, StoreFedReadModel, StoreReader
from plimsoll_events.records import Metadata, NewEvent, RecordedEvent
from plimsoll_events.store import ConcurrencyError
from plimsoll_events.types.allocation import (
    CalendarDayBegan,
    CaseReallocated,
    WeightingScheme,
    WeightingSchemeChanged,
)
from plimsoll_platform.clock import uk_day
from pydantic import TypeAdapter
from pydantic_core import to_json
from sqlalchemy import Connection, Engine, text

from plimsoll_allocation.domain import DEFAULT_SCHEMES, AllocationPolicy, Scheme
from plimsoll_allocation.domain.figures import (
    MOVES_FIGURES,
    CaseWeight,
    Cause,
    Figures,
    Member,
    Pending,
    Published,
    Team,
)

NAME: Final = "allocation-capacity"
ACTOR: Final = "system:capacity"
"""The actor of every figure published: the allocation service itself."""
APPENDERS: Final = 8
"""Streams appended to in parallel (a batch of history touches many)."""

SCHEMA: Final = """
create table if not exists capacity_practitioners (
    practitioner_id     text primary key,
    grade               text not null,
    contracted_hours    numeric not null,
    reductions          jsonb not null,   -- in force: {reduction id: hours}
    team_id             text not null,
    region_id           text not null,
    in_post             boolean not null,
    total_points        bigint not null,
    pending             jsonb not null,   -- transfers and leavings waiting for their day
    published_total     bigint,
    published_available bigint,
    stream_version      integer not null
);
create index if not exists capacity_practitioners_pending on capacity_practitioners
    (practitioner_id) where pending <> '[]';
create table if not exists capacity_teams (
    team_id           text primary key,
    region_id         text not null,
    total_points      bigint not null,
    available_points  bigint not null,
    members           integer not null,
    published_total     bigint,
    published_available bigint,
    published_members   integer,
    stream_version    integer not null
);
create table if not exists capacity_cases (
    case_id         text primary key,
    practitioner_id text,
    points          bigint not null,
    open            boolean not null
);
create table if not exists capacity_schemes (
    kind   text primary key,
    scheme jsonb not null
);
"""
_SCHEMES: Final = TypeAdapter[Scheme](WeightingScheme)


class CapacityModel:
    """The figures' state as the kit's `StoreReadModel`, publishing as it applies."""

    name = NAME

    def __init__(
        self, store: Store, policy: AllocationPolicy, *, appenders: int = APPENDERS
    ) -> None:
        self.store = store
        self.policy = policy
        self._appenders = ThreadPoolExecutor(appenders, thread_name_prefix="capacity-append")

    def create(self, conn: Connection) -> None:
        conn.exec_driver_sql(SCHEMA)
        for scheme in DEFAULT_SCHEMES:
            conn.execute(
                text(
                    "insert into capacity_schemes values (:kind, cast(:scheme as jsonb)) "
                    "on conflict do nothing"
                ),
                {"kind": scheme.kind, "scheme": to_json(scheme).decode()},
            )

    def drop(self, conn: Connection) -> None:
        conn.exec_driver_sql(
            "drop table if exists capacity_practitioners, capacity_teams, capacity_cases, "
            "capacity_schemes"
        )

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None:
        figures = _load(conn, events, self.policy)
        published: list[tuple[RecordedEvent, Published]] = []
        for event in events:
            recorded = event.recorded
            cause = Cause(recorded.event_id, recorded.type, recorded.position)
            for figure in figures.apply(event.data, cause, uk_day(recorded.recorded_at)):
                published.append((recorded, figure))
        self._append(published)
        changed_scheme = any(isinstance(e.data, WeightingSchemeChanged) for e in events)
        _save(conn, figures, schemes=changed_scheme)

    def close(self) -> None:
        self._appenders.shutdown(wait=True)

    # --- appending ---------------------------------------------------------------------------

    def _append(self, published: Sequence[tuple[RecordedEvent, Published]]) -> None:
        """One append per stream (its figures in log order), streams in parallel."""
        by_stream: dict[str, list[tuple[RecordedEvent, Published]]] = defaultdict(list)
        for trigger, figure in published:
            by_stream[figure.stream_id].append((trigger, figure))
        if len(by_stream) <= 1:
            for stream_id, figures in by_stream.items():
                self._append_stream(stream_id, figures)
            return
        for _ in self._appenders.map(lambda item: self._append_stream(*item), by_stream.items()):
            pass  # raises the first failure

    def _append_stream(
        self, stream_id: str, figures: Sequence[tuple[RecordedEvent, Published]]
    ) -> None:
        """Append a stream's figures at the version the saved state says it is at.

        The stream moved on (`ConcurrencyError`) only if an earlier attempt at this batch
        appended and then stopped before its checkpoint: what it appended is a prefix of
        what is decided again now (the same causes, the same figures), so only the rest is
        appended. Anything else there is a fault worth stopping for.
        """
        owner = figures[0][1].owner
        events = [
            CATALOGUE.new_event(figure.data, _metadata(trigger)) for trigger, figure in figures
        ]
        version = owner.stream_version
        try:
            recorded = self.store.append(stream_id, version, events)
        except ConcurrencyError:
            earlier = self.store.read_stream(stream_id, after_version=version)
            if not _is_prefix(earlier, events):
                raise RuntimeError(
                    f"{stream_id} holds figures after version {version} that this log does not "
                    "decide: was it written by something else?"
                ) from None
            version = earlier[-1].stream_version
            rest = events[len(earlier) :]
            recorded = self.store.append(stream_id, version, rest) if rest else earlier
        owner.stream_version = recorded[-1].stream_version


def _metadata(trigger: RecordedEvent) -> Metadata:
    """A figure's metadata: caused by the event that moved it, in its correlation and trace."""
    return Metadata(
        actor=ACTOR,
        correlation_id=trigger.metadata.correlation_id,
        causation_id=trigger.event_id,
        traceparent=trigger.metadata.traceparent,
        tracestate=trigger.metadata.tracestate,
    )


def _is_prefix(recorded: Sequence[RecordedEvent], decided: Sequence[NewEvent]) -> bool:
    """Whether `recorded` are the first of `decided`: same causes, same figures."""
    if not recorded or len(recorded) > len(decided):
        return False
    return all(
        r.type == d.type
        and r.metadata.causation_id == d.metadata.causation_id
        and all(r.data.get(k) == d.data.get(k) for k in _IDENTITY)
        for r, d in zip(recorded, decided, strict=False)
    )


_IDENTITY: Final = ("cause_event_id", "total_points", "available_points", "previous_total_points")


def capacity_publisher(
    engine: Engine, store: Store, reader: StoreReader, policy: AllocationPolicy
) -> StoreFedReadModel:
    """The process manager, ready for `Processors` (or a test's `catch_up`)."""
    return StoreFedReadModel(engine, reader, CapacityModel(store, policy), types=MOVES_FIGURES)


# --- loading and saving the state a batch touches ----------------------------------------------


def _load(conn: Connection, events: Sequence[StoreEvent], policy: AllocationPolicy) -> Figures:
    data = [event.data for event in events]
    case_ids = {d.case_id for d in data if hasattr(d, "case_id")}
    cases = {row.case_id: row for row in _cases(conn, case_ids)}
    practitioner_ids = {p for d in data for p in _practitioners_named(d)}
    practitioner_ids |= {c.practitioner_id for c in cases.values() if c.practitioner_id}
    everyone = any(isinstance(d, WeightingSchemeChanged) for d in data)
    members = {m.practitioner_id: m for m in _members(conn, practitioner_ids, everyone=everyone)}
    if any(isinstance(d, CalendarDayBegan) for d in data):
        for member in _members(conn, set(), pending=True):
            members.setdefault(member.practitioner_id, member)
    team_ids = {m.team_id for m in members.values()}
    team_ids |= {p.team_id for m in members.values() for p in m.pending if p.team_id}
    # Any team an event names may be joined (a registration, a transfer): load it, so that
    # its sums are added to, never started again from nothing.
    team_ids |= {str(d.team_id) for d in data if hasattr(d, "team_id")}
    teams = {t.team_id: t for t in _teams(conn, team_ids, everyone=everyone)}
    schemes = {
        kind: _SCHEMES.validate_python(scheme)
        for kind, scheme in conn.execute(text("select kind, scheme from capacity_schemes"))
    }
    return Figures(members, teams, cases, schemes, policy)


def _practitioners_named(data: object) -> Iterable[str]:
    named = getattr(data, "practitioner_id", None)
    if isinstance(named, str):
        yield named
    if isinstance(data, CaseReallocated):
        yield data.from_practitioner_id


def _cases(conn: Connection, case_ids: set[str]) -> list[CaseWeight]:
    if not case_ids:
        return []
    rows = conn.execute(
        text("select * from capacity_cases where case_id = any(:ids)"), {"ids": list(case_ids)}
    )
    return [CaseWeight(**row) for row in rows.mappings()]


def _members(
    conn: Connection, ids: set[str], *, everyone: bool = False, pending: bool = False
) -> list[Member]:
    if everyone:
        rows = conn.execute(text("select * from capacity_practitioners"))
    elif pending:
        rows = conn.execute(text("select * from capacity_practitioners where pending <> '[]'"))
    elif ids:
        rows = conn.execute(
            text("select * from capacity_practitioners where practitioner_id = any(:ids)"),
            {"ids": list(ids)},
        )
    else:
        return []
    return [_member(dict(row)) for row in rows.mappings()]


def _member(row: dict[str, Any]) -> Member:
    published = row.pop("published_total"), row.pop("published_available")
    return Member(
        **{
            **row,
            "reductions": {k: Decimal(v) for k, v in row["reductions"].items()},
            "pending": [_pending(p) for p in row["pending"]],
            "published": None if published[0] is None else published,
        }
    )


def _pending(value: dict[str, Any]) -> Pending:
    return Pending(
        kind=value["kind"],
        day=date.fromisoformat(value["day"]),
        team_id=value["team_id"],
        region_id=value["region_id"],
        cause=Cause(UUID(value["cause_event_id"]), value["cause_type"], value["cause_position"]),
    )


def _teams(conn: Connection, ids: set[str], *, everyone: bool = False) -> list[Team]:
    if everyone:
        rows = conn.execute(text("select * from capacity_teams"))
    elif ids:
        rows = conn.execute(
            text("select * from capacity_teams where team_id = any(:ids)"), {"ids": list(ids)}
        )
    else:
        return []
    teams = []
    for found in rows.mappings():
        row = dict(found)
        published = (
            row.pop("published_total"),
            row.pop("published_available"),
            row.pop("published_members"),
        )
        teams.append(Team(**row, published=None if published[0] is None else published))
    return teams


def _save(conn: Connection, figures: Figures, *, schemes: bool) -> None:
    """Save what the batch loaded (the schemes only when it changed one)."""
    _upsert(conn, "capacity_cases", "case_id", [vars(c) for c in figures.cases.values()])
    _upsert(
        conn,
        "capacity_practitioners",
        "practitioner_id",
        [_member_row(m) for m in figures.members.values()],
    )
    _upsert(conn, "capacity_teams", "team_id", [_team_row(t) for t in figures.teams.values()])
    if schemes:
        _upsert(
            conn,
            "capacity_schemes",
            "kind",
            [{"kind": k, "scheme": s.model_dump(mode="json")} for k, s in figures.schemes.items()],
        )


def _member_row(member: Member) -> dict[str, Any]:
    published = member.published or (None, None)
    return {
        "practitioner_id": member.practitioner_id,
        "grade": member.grade,
        "contracted_hours": str(member.contracted_hours),
        "reductions": {k: str(v) for k, v in member.reductions.items()},
        "team_id": member.team_id,
        "region_id": member.region_id,
        "in_post": member.in_post,
        "total_points": member.total_points,
        "pending": [
            {
                "kind": p.kind,
                "day": p.day.isoformat(),
                "team_id": p.team_id,
                "region_id": p.region_id,
                "cause_event_id": str(p.cause.event_id),
                "cause_type": p.cause.type,
                "cause_position": p.cause.position,
            }
            for p in member.pending
        ],
        "published_total": published[0],
        "published_available": published[1],
        "stream_version": member.stream_version,
    }


def _team_row(team: Team) -> dict[str, Any]:
    published = team.published or (None, None, None)
    return {
        "team_id": team.team_id,
        "region_id": team.region_id,
        "total_points": team.total_points,
        "available_points": team.available_points,
        "members": team.members,
        "published_total": published[0],
        "published_available": published[1],
        "published_members": published[2],
        "stream_version": team.stream_version,
    }


def _upsert(conn: Connection, table: str, key: str, rows: list[dict[str, Any]]) -> None:
    """Insert or replace whole rows, one statement per table (the rows name every column)."""
    if not rows:
        return
    conn.execute(
        text(
            f"insert into {table} select * from jsonb_populate_recordset("  # noqa: S608
            f"null::{table}, cast(:rows as jsonb)) on conflict ({key}) do update set "
            + ", ".join(f"{c} = excluded.{c}" for c in rows[0] if c != key)
        ),
        {"rows": to_json(rows).decode()},
    )
