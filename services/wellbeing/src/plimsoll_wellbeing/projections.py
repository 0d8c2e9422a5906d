"""The wellbeing records read model, fed from the service's own store by the kit's
`StoreFedReadModel` (a read after a write sees it; `TYPES` are the events it takes): one row
per supervision, workload agreement, declaration, stress risk assessment and consent, with the
columns queries filter on and `view`, the record as the API serves it.

A batch is folded in memory: the rows its events touch are read once, each event changes its
row (in position order), and every touched row is written back with one statement per table.
Each row is a function of the events alone, so a rebuild gives the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from plimsoll_events.catalogue import EventData
from plimsoll_events.readmodel import StoreEvent
from plimsoll_events.types.wellbeing import (
    DeclarationAnswered,
    DeclarationClosed,
    DeclarationEscalated,
    StressRiskAssessmentRecorded,
    SupervisionCancelled,
    SupervisionHeld,
    SupervisionScheduled,
    ThreeWayMeetingHeld,
    UnionConsentGiven,
    UnionConsentWithdrawn,
    WorkloadDeclared,
    WorkMarkedNotToBeDone,
    WorkResumed,
    WorkSuspended,
)
from pydantic_core import to_json
from sqlalchemy import Connection, text

RECORDS_SCHEMA: Final = """
create table if not exists wellbeing_supervisions (
    practitioner_id text not null,
    supervision_id  text not null,
    status          text not null,
    scheduled_for   date,
    held_on         date,
    position        bigint not null,
    view            jsonb not null,
    primary key (practitioner_id, supervision_id)
);
create table if not exists wellbeing_agreements (
    practitioner_id text not null,
    agreement_id    text not null,
    case_id         text not null,
    in_force        boolean not null,
    until           date,
    agreed_on       date not null,
    position        bigint not null,
    view            jsonb not null,
    primary key (practitioner_id, agreement_id)
);
create index if not exists wellbeing_agreements_in_force
    on wellbeing_agreements (practitioner_id) where in_force;
create table if not exists wellbeing_declarations (
    declaration_id  text primary key,
    practitioner_id text not null,
    declared_on     date not null,
    answer_due_by   date not null,
    open            boolean not null,
    awaiting_answer boolean not null,
    position        bigint not null,
    view            jsonb not null
);
create index if not exists wellbeing_declarations_practitioner
    on wellbeing_declarations (practitioner_id, declared_on);
create index if not exists wellbeing_declarations_awaiting
    on wellbeing_declarations (answer_due_by) where awaiting_answer;
create table if not exists wellbeing_assessments (
    practitioner_id text not null,
    assessment_id   text not null,
    assessed_on     date not null,
    review_on       date not null,
    reviewed        boolean not null,
    position        bigint not null,
    view            jsonb not null,
    primary key (practitioner_id, assessment_id)
);
create table if not exists wellbeing_consents (
    practitioner_id text not null,
    representative  text not null,
    given           boolean not null,
    primary key (practitioner_id, representative)
);
"""
_DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-wellbeing-records-ddl'))"

Row = dict[str, Any]
Key = tuple[str, ...]


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per table
class _Table:
    """A read-model table: its key columns, and every other column with its SQL type."""

    name: str
    keys: tuple[str, ...]
    columns: dict[str, str]

    def load(self, conn: Connection, keys: set[Key]) -> dict[Key, Row]:
        if not keys:
            return {}
        ordered = sorted(keys)
        params = {f"k{i}": [key[i] for key in ordered] for i in range(len(self.keys))}
        unnest = ", ".join(f"cast(:k{i} as text[])" for i in range(len(self.keys)))
        names = ", ".join(self.keys)
        # Table and column names are this module's constants; values are bound.
        query = f"select * from {self.name} where ({names}) in (select * from unnest({unnest}))"  # noqa: S608
        rows = conn.execute(
            text(query),
            params,
        ).mappings()
        return {tuple(row[k] for k in self.keys): dict(row) for row in rows}

    def save(self, conn: Connection, rows: dict[Key, Row]) -> None:
        if not rows:
            return
        names = [*self.keys, *self.columns]
        types = ["text"] * len(self.keys) + list(self.columns.values())
        params: dict[str, list[Any]] = {f"c{i}": [] for i in range(len(names))}
        for key, row in rows.items():
            values = [*key, *(row[c] for c in self.columns)]
            for i, value in enumerate(values):
                params[f"c{i}"].append(to_json(value).decode() if types[i] == "jsonb" else value)
        arrays = ", ".join(f"cast(:c{i} as {t}[])" for i, t in enumerate(types))
        update = ", ".join(f"{c} = excluded.{c}" for c in self.columns)
        upsert = (
            f"insert into {self.name} ({', '.join(names)}) select * from unnest({arrays}) "  # noqa: S608
            f"on conflict ({', '.join(self.keys)}) do update set {update}"
        )
        conn.execute(text(upsert), params)


SUPERVISIONS: Final = _Table(
    "wellbeing_supervisions",
    ("practitioner_id", "supervision_id"),
    {
        "status": "text",
        "scheduled_for": "date",
        "held_on": "date",
        "position": "bigint",
        "view": "jsonb",
    },
)
AGREEMENTS: Final = _Table(
    "wellbeing_agreements",
    ("practitioner_id", "agreement_id"),
    {
        "case_id": "text",
        "in_force": "boolean",
        "until": "date",
        "agreed_on": "date",
        "position": "bigint",
        "view": "jsonb",
    },
)
DECLARATIONS: Final = _Table(
    "wellbeing_declarations",
    ("declaration_id",),
    {
        "practitioner_id": "text",
        "declared_on": "date",
        "answer_due_by": "date",
        "open": "boolean",
        "awaiting_answer": "boolean",
        "position": "bigint",
        "view": "jsonb",
    },
)
ASSESSMENTS: Final = _Table(
    "wellbeing_assessments",
    ("practitioner_id", "assessment_id"),
    {
        "assessed_on": "date",
        "review_on": "date",
        "reviewed": "boolean",
        "position": "bigint",
        "view": "jsonb",
    },
)
CONSENTS: Final = _Table(
    "wellbeing_consents", ("practitioner_id", "representative"), {"given": "boolean"}
)
_TABLES: Final = (SUPERVISIONS, AGREEMENTS, DECLARATIONS, ASSESSMENTS, CONSENTS)
_OWN: Final = ("practitioner_id", "declaration_id")  # a declaration's parts do not repeat them


def _data(event: EventData, *drop: str) -> dict[str, Any]:
    dumped: dict[str, Any] = event.model_dump(mode="json")
    for name in drop:
        dumped.pop(name, None)
    return dumped


# Each fold step: the keys (per table) the event touches, and how it changes their rows.


def _keys(event: EventData) -> list[tuple[_Table, Key]]:
    p: str = getattr(event, "practitioner_id", "")
    if isinstance(event, SupervisionScheduled | SupervisionHeld | SupervisionCancelled):
        return [(SUPERVISIONS, (p, event.supervision_id))]
    if isinstance(event, WorkSuspended | WorkMarkedNotToBeDone | WorkResumed):
        return [(AGREEMENTS, (p, event.agreement_id))]
    if isinstance(event, StressRiskAssessmentRecorded):
        reviewed = [(ASSESSMENTS, (p, event.reviews))] if event.reviews else []
        return [(ASSESSMENTS, (p, event.assessment_id)), *reviewed]
    if isinstance(event, UnionConsentGiven | UnionConsentWithdrawn):
        return [(CONSENTS, (p, event.representative))]
    return [(DECLARATIONS, (event.declaration_id,))]  # type: ignore[attr-defined]


def _supervision(event: EventData, row: Row | None, position: int) -> Row:
    if isinstance(event, SupervisionScheduled):
        return {
            "status": "scheduled",
            "scheduled_for": event.scheduled_for,
            "held_on": None,
            "position": position,
            "view": {**_data(event), "status": "scheduled"},
        }
    assert row is not None or isinstance(event, SupervisionHeld)
    row = row or {"scheduled_for": None, "position": position, "view": {}}
    if isinstance(event, SupervisionHeld):
        view = {**row["view"], **_data(event), "status": "held"}
        return {**row, "status": "held", "held_on": event.held_on, "view": view}
    assert isinstance(event, SupervisionCancelled)
    cancelled = {
        "status": "cancelled",
        "cancelled_on": event.cancelled_on.isoformat(),
        "cancellation_reason": event.reason,
    }
    return {**row, "status": "cancelled", "view": {**row["view"], **cancelled}}


def _agreement(event: EventData, row: Row | None, position: int) -> Row:
    if isinstance(event, WorkResumed):
        assert row is not None
        ended = {
            "in_force": False,
            "resumed_on": event.resumed_on.isoformat(),
            "resumed_because": event.cause,
            "resumption_reason": event.reason,
        }
        return {**row, "in_force": False, "view": {**row["view"], **ended}}
    assert isinstance(event, WorkSuspended | WorkMarkedNotToBeDone)
    suspended = isinstance(event, WorkSuspended)
    until = event.until if isinstance(event, WorkSuspended) else None
    view = {
        "until": None,
        **_data(event),
        "kind": "suspend" if suspended else "not-to-be-done",
        "in_force": True,
        "resumed_on": None,
    }
    return {
        "case_id": event.case_id,
        "in_force": True,
        "until": until,
        "agreed_on": event.agreed_on,
        "position": position,
        "view": view,
    }


def _declaration(event: EventData, row: Row | None, position: int) -> Row:
    if isinstance(event, WorkloadDeclared):
        view = {
            **_data(event),
            "status": "awaiting-answer",
            "answer": None,
            "escalation": None,
            "three_way_meeting": None,
            "closing": None,
        }
        return {
            "practitioner_id": event.practitioner_id,
            "declared_on": event.declared_on,
            "answer_due_by": event.answer_due_by,
            "open": True,
            "awaiting_answer": True,
            "position": position,
            "view": view,
        }
    assert row is not None
    change: dict[str, Any]
    if isinstance(event, DeclarationAnswered):
        change = {"answer": _data(event, *_OWN), "status": "answered"}
    elif isinstance(event, DeclarationEscalated):
        change = {"escalation": _data(event, *_OWN), "status": "escalated"}
    elif isinstance(event, ThreeWayMeetingHeld):
        change = {"three_way_meeting": _data(event, *_OWN)}
    else:
        assert isinstance(event, DeclarationClosed)
        change = {"closing": _data(event, *_OWN), "status": "closed"}
    closed = isinstance(event, DeclarationClosed)
    return {
        **row,
        "open": row["open"] and not closed,
        "awaiting_answer": False,
        "view": {**row["view"], **change},
    }


def _assessment(event: EventData, row: Row | None, position: int) -> Row:
    assert isinstance(event, StressRiskAssessmentRecorded)
    return {
        "assessed_on": event.assessed_on,
        "review_on": event.review_on,
        "reviewed": False,
        "position": position,
        "view": _data(event),
    }


def _consent(event: EventData, row: Row | None, position: int) -> Row:
    return {"given": isinstance(event, UnionConsentGiven)}


_FOLDS: Final[dict[str, Callable[[EventData, Row | None, int], Row]]] = {
    **dict.fromkeys(
        (SupervisionScheduled.type, SupervisionHeld.type, SupervisionCancelled.type), _supervision
    ),
    **dict.fromkeys((WorkSuspended.type, WorkMarkedNotToBeDone.type, WorkResumed.type), _agreement),
    **dict.fromkeys(
        (
            WorkloadDeclared.type,
            DeclarationAnswered.type,
            DeclarationEscalated.type,
            ThreeWayMeetingHeld.type,
            DeclarationClosed.type,
        ),
        _declaration,
    ),
    StressRiskAssessmentRecorded.type: _assessment,
    **dict.fromkeys((UnionConsentGiven.type, UnionConsentWithdrawn.type), _consent),
}


TYPES: Final = frozenset(_FOLDS)
"""The event types the records read model folds."""


class WellbeingRecords:
    """The store-fed read model of supervisions, agreements, declarations, assessments and
    consents (see the module's docstring)."""

    name = "wellbeing-records"

    def create(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql(RECORDS_SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql(f"drop table if exists {', '.join(t.name for t in _TABLES)}")

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None:
        """Fold the batch in position order; other types are ignored."""
        decoded = [(e.data, e.position) for e in events if e.data.type in _FOLDS]
        if not decoded:
            return
        wanted: dict[_Table, set[Key]] = {table: set() for table in _TABLES}
        for event, _ in decoded:
            for table, key in _keys(event):
                wanted[table].add(key)
        rows = {table: table.load(conn, keys) for table, keys in wanted.items()}
        touched: dict[_Table, dict[Key, Row]] = {table: {} for table in _TABLES}
        for event, position in decoded:
            [(table, key), *reviewed] = _keys(event)
            row = _FOLDS[event.type](event, rows[table].get(key), position)
            rows[table][key] = touched[table][key] = row
            for _, earlier in reviewed:  # an assessment reviewed by this one
                if earlier in rows[ASSESSMENTS]:
                    marked = {**rows[ASSESSMENTS][earlier], "reviewed": True}
                    rows[ASSESSMENTS][earlier] = touched[ASSESSMENTS][earlier] = marked
        for table, changed in touched.items():
            table.save(conn, changed)
