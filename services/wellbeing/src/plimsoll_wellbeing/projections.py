"""The wellbeing read models.

* `WellbeingRecords`, fed from the service's own store (store-fed: a read after a write sees
  it): one row per supervision, workload agreement, declaration, stress risk assessment and
  consent, each with the columns queries filter on and `view`, the record as the API serves
  it (jsonb, merged event by event). Every row is a function of the events alone, so a
  rebuild gives the same rows.
* `CaseHoldersProjection`, fed by Kafka from the allocation service's topic: who carries
  which case now (`case-allocated`, `case-reallocated`, `case-closed`). One case's events
  are keyed by different practitioners and so may arrive out of order across partitions:
  each row keeps the allocation store position of the fact it shows, and an older fact never
  overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from plimsoll_events.catalogue import CATALOGUE, EventData, topic_for
from plimsoll_events.projection import Delivered
from plimsoll_events.records import RecordedEvent
from plimsoll_events.types.allocation import CaseAllocated, CaseClosed, CaseReallocated
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
create index if not exists wellbeing_supervisions_held
    on wellbeing_supervisions (practitioner_id, held_on) where status = 'held';
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
create index if not exists wellbeing_declarations_overdue
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
    primary key (practitioner_id, representative)
);
"""
_RECORD_TABLES: Final = (
    "wellbeing_supervisions, wellbeing_agreements, wellbeing_declarations, "
    "wellbeing_assessments, wellbeing_consents"
)
_DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-wellbeing-records-ddl'))"


def _json(data: dict[str, Any]) -> str:
    return to_json(data).decode()


def _data(event: EventData, *drop: str) -> dict[str, Any]:
    dumped: dict[str, Any] = event.model_dump(mode="json")
    for name in drop:
        dumped.pop(name, None)
    return dumped


class WellbeingRecords:
    """The store-fed read model of supervisions, agreements, declarations, assessments and
    consents (see the module's docstring)."""

    name = "wellbeing-records"

    def create(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql(RECORDS_SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.execute(text(_DDL_LOCK))
        conn.exec_driver_sql(f"drop table if exists {_RECORD_TABLES}")

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None:
        """Apply the events in position order; other services' or unknown types are ignored."""
        for recorded in events:
            if recorded.type not in _APPLIERS:
                continue
            event = CATALOGUE.decode(recorded.type, recorded.version, recorded.data)
            statement, values = _APPLIERS[recorded.type](event)
            conn.execute(text(statement), {**values, "position": recorded.position})


def _supervision(event: EventData) -> tuple[str, dict[str, Any]]:
    upsert = (
        "insert into wellbeing_supervisions as s (practitioner_id, supervision_id, status, "
        "scheduled_for, held_on, position, view) values (:p, :id, :status, :scheduled_for, "
        ":held_on, :position, cast(:view as jsonb)) "
        "on conflict (practitioner_id, supervision_id) do update set status = excluded.status, "
        "held_on = excluded.held_on, view = s.view || excluded.view"
    )
    if isinstance(event, SupervisionScheduled):
        view = {**_data(event), "status": "scheduled"}
        values = {"status": "scheduled", "scheduled_for": event.scheduled_for, "held_on": None}
    elif isinstance(event, SupervisionHeld):
        view = {**_data(event), "status": "held"}
        values = {"status": "held", "scheduled_for": None, "held_on": event.held_on}
    else:
        assert isinstance(event, SupervisionCancelled)
        view = {
            "status": "cancelled",
            "cancelled_on": event.cancelled_on.isoformat(),
            "cancellation_reason": event.reason,
        }
        values = {"status": "cancelled", "scheduled_for": None, "held_on": None}
    return upsert, {
        "p": event.practitioner_id,
        "id": event.supervision_id,
        "view": _json(view),
        **values,
    }


def _agreement(event: EventData) -> tuple[str, dict[str, Any]]:
    if isinstance(event, WorkResumed):
        ended = {
            "in_force": False,
            "resumed_on": event.resumed_on.isoformat(),
            "resumed_because": event.cause,
            "resumption_reason": event.reason,
        }
        return (
            "update wellbeing_agreements set in_force = false, view = view || cast(:view as jsonb) "
            "where practitioner_id = :p and agreement_id = :id",
            {"p": event.practitioner_id, "id": event.agreement_id, "view": _json(ended)},
        )
    assert isinstance(event, WorkSuspended | WorkMarkedNotToBeDone)
    kind = "suspend" if isinstance(event, WorkSuspended) else "not-to-be-done"
    until = event.until if isinstance(event, WorkSuspended) else None
    view = {"until": None, **_data(event), "kind": kind, "in_force": True, "resumed_on": None}
    return (
        "insert into wellbeing_agreements (practitioner_id, agreement_id, case_id, in_force, "
        "until, agreed_on, position, view) values (:p, :id, :case, true, :until, :agreed_on, "
        ":position, cast(:view as jsonb)) on conflict do nothing",
        {
            "p": event.practitioner_id,
            "id": event.agreement_id,
            "case": event.case_id,
            "until": until,
            "agreed_on": event.agreed_on,
            "view": _json(view),
        },
    )


_OWN: Final = ("practitioner_id", "declaration_id")  # a declaration's parts do not repeat them


def _declaration(event: EventData) -> tuple[str, dict[str, Any]]:
    if isinstance(event, WorkloadDeclared):
        view = {
            **_data(event),
            "status": "awaiting-answer",
            "answer": None,
            "escalation": None,
            "three_way_meeting": None,
            "closing": None,
        }
        return (
            "insert into wellbeing_declarations (declaration_id, practitioner_id, declared_on, "
            "answer_due_by, open, awaiting_answer, position, view) values (:id, :p, "
            ":declared_on, :due, true, true, :position, cast(:view as jsonb)) "
            "on conflict do nothing",
            {
                "id": event.declaration_id,
                "p": event.practitioner_id,
                "declared_on": event.declared_on,
                "due": event.answer_due_by,
                "view": _json(view),
            },
        )
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
    return (
        "update wellbeing_declarations set view = view || cast(:view as jsonb), "
        "open = open and not :closes, awaiting_answer = false where declaration_id = :id",
        {
            "id": event.declaration_id,
            "view": _json(change),
            "closes": isinstance(event, DeclarationClosed),
        },
    )


def _assessment(event: EventData) -> tuple[str, dict[str, Any]]:
    assert isinstance(event, StressRiskAssessmentRecorded)
    return (
        "with reviewed as (update wellbeing_assessments set reviewed = true "
        "where practitioner_id = :p and assessment_id = :reviews) "
        "insert into wellbeing_assessments (practitioner_id, assessment_id, assessed_on, "
        "review_on, reviewed, position, view) values (:p, :id, :assessed_on, :review_on, "
        "false, :position, cast(:view as jsonb)) on conflict do nothing",
        {
            "p": event.practitioner_id,
            "id": event.assessment_id,
            "reviews": event.reviews,
            "assessed_on": event.assessed_on,
            "review_on": event.review_on,
            "view": _json(_data(event)),
        },
    )


def _consent(event: EventData) -> tuple[str, dict[str, Any]]:
    values = {"p": event.practitioner_id, "rep": event.representative}  # type: ignore[attr-defined]
    if isinstance(event, UnionConsentGiven):
        return (
            "insert into wellbeing_consents values (:p, :rep) on conflict do nothing",
            values,
        )
    assert isinstance(event, UnionConsentWithdrawn)
    return (
        "delete from wellbeing_consents where practitioner_id = :p and representative = :rep",
        values,
    )


_APPLIERS: Final = {
    **dict.fromkeys(
        (SupervisionScheduled.type, SupervisionHeld.type, SupervisionCancelled.type),
        _supervision,
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


# --- who carries which case (Kafka-fed) -------------------------------------------------------

CASE_HOLDERS_SCHEMA: Final = """
create table if not exists wellbeing_case_holders (
    case_id         text primary key,
    practitioner_id text,
    open            boolean not null,
    position        bigint not null
);
create index if not exists wellbeing_case_holders_practitioner
    on wellbeing_case_holders (practitioner_id) where open;
"""
_HOLDERS_DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-case-holders-ddl'))"
_CASE_EVENTS: Final = frozenset({CaseAllocated.type, CaseReallocated.type, CaseClosed.type})


class CaseHoldersProjection:
    """Who carries which open case, from the allocation service's topic (see the module)."""

    def __init__(self, service: str = "wellbeing", *, topic: str | None = None) -> None:
        self.name = f"{service}-case-holders"
        self.topics: Sequence[str] = [topic or topic_for("allocation")]

    def create(self, conn: Connection) -> None:
        conn.execute(text(_HOLDERS_DDL_LOCK))
        conn.exec_driver_sql(CASE_HOLDERS_SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.execute(text(_HOLDERS_DDL_LOCK))
        conn.exec_driver_sql("drop table if exists wellbeing_case_holders")

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        latest: dict[str, tuple[int, str | None, bool]] = {}
        for event in events:
            if event.type not in _CASE_EVENTS:
                continue
            data = event.data
            holder: str | None = data.practitioner_id  # type: ignore[attr-defined]
            fact = (event.position, holder, not isinstance(data, CaseClosed))
            case_id: str = data.case_id  # type: ignore[attr-defined]
            if case_id not in latest or latest[case_id][0] < event.position:
                latest[case_id] = fact
        if not latest:
            return
        ids = sorted(latest)
        conn.execute(
            text(
                "insert into wellbeing_case_holders as h "
                "select * from unnest(cast(:ids as text[]), cast(:holders as text[]), "
                "cast(:open as boolean[]), cast(:positions as bigint[])) "
                "on conflict (case_id) do update set practitioner_id = excluded.practitioner_id, "
                "open = excluded.open, position = excluded.position "
                "where h.position < excluded.position"
            ),
            {
                "ids": ids,
                "holders": [latest[i][1] for i in ids],
                "open": [latest[i][2] for i in ids],
                "positions": [latest[i][0] for i in ids],
            },
        )
