"""Reads, apart from commands: the wellbeing records read model, who carries which case, and
the policy stream.

Every read of the records read model first catches it up with the store (the kit's
`StoreFedReadModel`), so a read after a write sees it. Case holders and placements are fed
by Kafka: they lag allocation by the time a message takes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.handling import Store
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.types.wellbeing import PolicyAdopted
from plimsoll_platform.placements import Placement, Placements
from sqlalchemy import Engine, text

from plimsoll_wellbeing.domain.policy import (
    POLICY,
    POLICY_STREAM,
    PolicyInForce,
    PolicyState,
    in_force,
)

Row = dict[str, Any]


class WellbeingQueries:
    """The practitioner's records, a team's view, and what the deadline sweeps look for."""

    def __init__(
        self, records: StoreFedReadModel, placements: Placements, engine: Engine | None = None
    ) -> None:
        self.records = records
        self.placements = placements
        self.engine = engine or records.engine
        """For the Kafka-fed case holders (the records' engine unless another is given)."""

    def _rows(self, sql: str, **values: Any) -> list[Row]:
        with self.records.reading() as conn:
            return [dict(row) for row in conn.execute(text(sql), values).mappings()]

    def _views(self, sql: str, **values: Any) -> list[Row]:
        return [row["view"] for row in self._rows(sql, **values)]

    # A practitioner's records, oldest first.

    def supervisions(self, practitioner_id: str) -> list[Row]:
        return self._views(
            "select view from wellbeing_supervisions where practitioner_id = :p order by "
            "coalesce(held_on, scheduled_for, cast(view->>'cancelled_on' as date)), position",
            p=practitioner_id,
        )

    def agreements(self, practitioner_id: str) -> list[Row]:
        return self._views(
            "select view from wellbeing_agreements where practitioner_id = :p "
            "order by agreed_on, position",
            p=practitioner_id,
        )

    def declarations(self, practitioner_id: str) -> list[Row]:
        return self._views(
            "select view from wellbeing_declarations where practitioner_id = :p "
            "order by declared_on, position",
            p=practitioner_id,
        )

    def declaration(self, declaration_id: str) -> Row | None:
        found = self._views(
            "select view from wellbeing_declarations where declaration_id = :id", id=declaration_id
        )
        return found[0] if found else None

    def assessments(self, practitioner_id: str) -> list[Row]:
        return [
            {**row["view"], "reviewed": row["reviewed"]}
            for row in self._rows(
                "select view, reviewed from wellbeing_assessments where practitioner_id = :p "
                "order by assessed_on, position",
                p=practitioner_id,
            )
        ]

    def representatives(self, practitioner_id: str) -> list[str]:
        """The union representatives the practitioner lets read their declarations."""
        rows = self._rows(
            "select representative from wellbeing_consents where practitioner_id = :p and given "
            "order by representative",
            p=practitioner_id,
        )
        return [row["representative"] for row in rows]

    # A team.

    def team(
        self, members: list[Placement], day: date, policy: PolicyBook, now: datetime
    ) -> tuple[PolicyInForce, list[Row]]:
        """The policy in force `now`, and one summary per member (in post on `day`)."""
        ids = [m.practitioner_id for m in members]
        with self.records.engine.connect() as conn:
            head = self.records.catch_up(conn)  # at least the store's head when called
            conn.commit()
            in_force = policy.in_force(now, head=head)
            found: dict[str, Row] = {}
            if ids:
                for row in conn.execute(text(_TEAM), {"ids": ids, "day": day}).mappings():
                    found[row["practitioner_id"]] = dict(row)
        return in_force, [_summary(m, found[m.practitioner_id], day, in_force) for m in members]

    # What the deadline sweeps look for.

    def overdue_declarations(self, today: date) -> list[tuple[str, str]]:
        """(declaration, practitioner) of declarations unanswered and unescalated past their
        deadline."""
        rows = self._rows(
            "select declaration_id, practitioner_id from wellbeing_declarations "
            "where awaiting_answer and answer_due_by < :today order by declaration_id",
            today=today,
        )
        return [(row["declaration_id"], row["practitioner_id"]) for row in rows]

    def agreements_to_resume(self, today: date) -> dict[str, frozenset[str]]:
        """Practitioners with an agreement in force that has passed its `until` or is about a
        case known to have left them, with those cases (reallocated to someone else, or
        closed: known from allocation's events, never assumed from a case not yet seen)."""
        rows = self._rows(
            "select a.practitioner_id, a.case_id, "
            "(h.case_id is not null and (not h.open or h.practitioner_id <> a.practitioner_id)) "
            "as gone from wellbeing_agreements a "
            "left join wellbeing_case_holders h using (case_id) "
            "where a.in_force and (a.until < :today or (h.case_id is not null and "
            "(not h.open or h.practitioner_id <> a.practitioner_id)))",
            today=today,
        )
        found: dict[str, set[str]] = {}
        for row in rows:
            gone = found.setdefault(row["practitioner_id"], set())
            if row["gone"]:
                gone.add(row["case_id"])
        return {practitioner: frozenset(cases) for practitioner, cases in found.items()}

    def carried_cases(self, practitioner_id: str) -> frozenset[str]:
        """The open cases the practitioner carries, as allocation's events have told us."""
        with self.engine.connect() as conn:
            found = conn.execute(
                text(
                    "select case_id from wellbeing_case_holders where practitioner_id = :p and open"
                ),
                {"p": practitioner_id},
            ).scalars()
            return frozenset(found)


_TEAM = """
with s as (
  select practitioner_id,
    max(held_on) filter (where status = 'held') as last_supervision_on,
    count(*) filter (where status = 'held' and held_on > cast(:day as date) - 365)
      as supervisions_last_12_months,
    min(scheduled_for) filter (where status = 'scheduled' and scheduled_for >= :day)
      as next_supervision_on
  from wellbeing_supervisions where practitioner_id = any(:ids) group by practitioner_id
), a as (
  select practitioner_id, jsonb_agg(view order by agreed_on, position) as agreements_in_force
  from wellbeing_agreements where practitioner_id = any(:ids) and in_force
  group by practitioner_id
), d as (
  select practitioner_id, jsonb_agg(jsonb_build_object(
      'declaration_id', declaration_id, 'declared_on', declared_on,
      'answer_due_by', answer_due_by, 'status', view->'status')
      order by declared_on, position) as open_declarations
  from wellbeing_declarations where practitioner_id = any(:ids) and open
  group by practitioner_id
), r as (
  select practitioner_id, min(review_on) as next_review_on
  from wellbeing_assessments where practitioner_id = any(:ids) and not reviewed
  group by practitioner_id
)
select t.practitioner_id, s.last_supervision_on,
  coalesce(s.supervisions_last_12_months, 0) as supervisions_last_12_months,
  s.next_supervision_on, coalesce(a.agreements_in_force, '[]') as agreements_in_force,
  coalesce(d.open_declarations, '[]') as open_declarations, r.next_review_on
from unnest(cast(:ids as text[])) as t(practitioner_id)
left join s using (practitioner_id) left join a using (practitioner_id)
left join d using (practitioner_id) left join r using (practitioner_id)
"""


def supervision_due_by(placement: Placement, last_held: date | None, policy: PolicyInForce) -> date:
    """The day the next supervision is due by: the policy's interval after the last one (or
    after they started), shorter for the first-year grades in their first year."""
    interval = policy.thresholds.supervision_interval
    since = last_held or placement.start_date
    first_year = (
        placement.grade in interval.first_year_grades
        and since < placement.start_date + timedelta(days=365)
    )
    return since + timedelta(days=interval.first_year_days if first_year else interval.days)


def _summary(member: Placement, row: Row, day: date, policy: PolicyInForce) -> Row:
    due = supervision_due_by(member, row["last_supervision_on"], policy)
    return {
        **row,
        "name": member.name,
        "grade": member.grade,
        "supervision_due_by": due,
        "supervision_overdue": due < day,
    }


# --- the policy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyRecord:
    """The policy stream folded: the decider's state, every adoption, and each version's
    events (for its history)."""

    version: int
    state: PolicyState
    adoptions: tuple[PolicyAdopted, ...]
    events: tuple[tuple[datetime, Row], ...]
    """(recorded at, {"type": ..., **data}) for each event, in order."""


class PolicyBook:
    """The policy stream, read with only the events newer than those already folded."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._record = PolicyRecord(0, POLICY.initial_state, (), ())
        self._read_at_head = -1  # the store's head when the stream was last read

    def record(self) -> PolicyRecord:
        with self._lock:
            known = self._record
            newer = self.store.read_stream(POLICY_STREAM, after_version=known.version)
            if not newer:
                return known
            state, adoptions, events = known.state, list(known.adoptions), list(known.events)
            for recorded in newer:
                event = CATALOGUE.decode(recorded.type, recorded.version, recorded.data)
                state = POLICY.evolve(state, event)
                if isinstance(event, PolicyAdopted):
                    adoptions.append(event)
                events.append(
                    (recorded.recorded_at, {"type": event.type, **event.model_dump(mode="json")})
                )
            self._record = PolicyRecord(
                newer[-1].stream_version, state, tuple(adoptions), tuple(events)
            )
            return self._record

    def in_force(self, at: datetime, *, head: int | None = None) -> PolicyInForce:
        """The version in force at the instant `at`. `head`: a store position the caller
        knows every event up to is recorded; if the stream was read since, it is not read
        again (nothing can have changed)."""
        if head is not None and head <= self._read_at_head:
            record = self._record
        else:
            record = self.record()
            if head is not None:
                self._read_at_head = max(self._read_at_head, head)
        return in_force(list(record.adoptions), at)
