"""A breach of a duty-of-care rule, from its opening to its resolution.

One stream per rule and subject (`breach_stream`): the breaches of that rule about that
practitioner (or team), one after another, so that one is open at a time. A decider:
`initial_state`, `decide`, `evolve`.

Rules:

* `Judge` reconciles the stream with a judgement (the condition holds or not, on these facts,
  under this policy version). It is level-triggered: it records only what differs from the
  stream, so judging the same thing twice, on two replicas or after a crash, records it once.
  Holding and none open: `breach-opened` (its id from the stream and the count of breaches
  before it). Holding and open under another policy version: `breach-rejudged`. Not holding
  and open: `breach-resolved`, condition cleared, citing the cause.
* A breach resolved by a decision does not open again while its condition keeps holding
  since the same instant (`breached_since`): the decision covers that episode; it opens
  again once the condition has cleared and holds anew.
* `Acknowledge`: the open breach, once; a breach already resolved, or acknowledged, is refused.
* `EscalateDue`: an open breach nobody acknowledged goes up the day after a deadline it missed:
  to the manager (a practitioner's breach, after `acknowledge_by`), to the head of service
  (after `escalate_by`), straight there when both have passed; never twice to a level.
* `ResolveByDecision`: the open breach, by someone with a reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Final

from plimsoll_events import refusals
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.wellbeing import (
    BreachAcknowledged,
    BreachCause,
    BreachEscalated,
    BreachOpened,
    BreachRejudged,
    BreachResolved,
    BreachRule,
    EscalationLevel,
    SubjectKind,
)

from plimsoll_wellbeing.domain.errors import Conflict, NotFound

ACTOR: Final = "system:duty-of-care"
"""The actor of everything the duty-of-care judgement records."""


class BreachNotOpen(Conflict):
    """The breach is resolved: nothing more can happen to it."""

    kind = "breach-resolved"
    title = "The breach is resolved"


class AlreadyAcknowledged(Conflict):
    kind = "already-acknowledged"
    title = "The breach has been acknowledged already"


def breach_stream(rule: str, subject_kind: str, subject_id: str) -> str:
    return f"breach-{rule}-{subject_kind}-{subject_id}"


def breach_id(stream: str, number: int) -> str:
    """The `number`th breach of a stream: the same id whoever decides it, however often."""
    return f"BR-{hashlib.sha256(stream.encode()).hexdigest()[:12]}-{number}"


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    subject_id: str
    practitioner_id: str | None
    team_id: str
    region_id: str

    def fields(self) -> dict[str, Any]:
        return {
            "subject_kind": self.kind,
            "subject_id": self.subject_id,
            "practitioner_id": self.practitioner_id,
            "team_id": self.team_id,
            "region_id": self.region_id,
        }


# Commands.


@dataclass(frozen=True)
class Judge:
    """The condition of `rule` about `subject`, as judged at `judged_at` on `cause`."""

    rule: BreachRule
    subject: Subject
    holds: bool
    facts: dict[str, Any]
    thresholds: dict[str, Any]
    policy_version: int
    breached_since: datetime | None
    cause: BreachCause
    judged_at: datetime
    acknowledge_by: date
    escalate_by: date


@dataclass(frozen=True)
class Acknowledge:
    breach_id: str
    acknowledged_by: str
    note: str | None = None


@dataclass(frozen=True)
class EscalateDue:
    today: date


@dataclass(frozen=True)
class ResolveByDecision:
    breach_id: str
    decided_by: str
    reason: str
    at: datetime
    policy_version: int


BreachCommand = Judge | Acknowledge | EscalateDue | ResolveByDecision

# State.


@dataclass(frozen=True)
class OpenBreach:
    breach_id: str
    rule: BreachRule
    subject: Subject
    policy_version: int
    breached_since: datetime
    acknowledge_by: date
    escalate_by: date
    acknowledged_by: str | None = None
    level: EscalationLevel | None = None


@dataclass(frozen=True)
class BreachRecord:
    opened: int = 0
    """Breaches opened on the stream so far."""
    open: OpenBreach | None = None
    decided_since: datetime | None = None
    """`breached_since` of the last breach, if a decision resolved it."""
    last_id: str | None = None
    """The id of the latest breach opened."""


initial_state: Final = BreachRecord()


def decide(command: BreachCommand, state: BreachRecord) -> list[EventData]:
    if isinstance(command, Judge):
        return _judge(command, state)
    if isinstance(command, EscalateDue):
        return _escalate(command, state)
    current = _the_open(command.breach_id, state)
    if isinstance(command, Acknowledge):
        if current.acknowledged_by is not None:
            raise AlreadyAcknowledged(
                f"{current.acknowledged_by} acknowledged {current.breach_id} already",
                field="breach_id",
            )
        return [
            BreachAcknowledged(
                **_identity(current),
                acknowledged_by=command.acknowledged_by,
                note=None if command.note is None else refusals.text(command.note, "note"),
            )
        ]
    return [
        BreachResolved(
            **_identity(current),
            how="decision",
            cause=None,
            facts=None,
            policy_version=command.policy_version,
            decided_by=command.decided_by,
            reason=refusals.text(command.reason, "reason"),
            judged_at=command.at,
        )
    ]


def _the_open(wanted: str, state: BreachRecord) -> OpenBreach:
    if state.open is not None and state.open.breach_id == wanted:
        return state.open
    prefix, _, number = wanted.rpartition("-")
    if (
        state.last_id is not None
        and state.last_id.rpartition("-")[0] == prefix
        and number.isdigit()
        and 1 <= int(number) <= state.opened
    ):
        raise BreachNotOpen(f"{wanted} is resolved", field="breach_id")
    raise NotFound(f"no breach {wanted}", field="breach_id")


def _identity(current: OpenBreach) -> dict[str, Any]:
    return {"breach_id": current.breach_id, "rule": current.rule, **current.subject.fields()}


def _judge(command: Judge, state: BreachRecord) -> list[EventData]:
    current = state.open
    if command.holds and current is None:
        since = command.breached_since or command.judged_at
        if state.decided_since is not None and since == state.decided_since:
            return []  # a decision covers this episode
        stream = breach_stream(command.rule, command.subject.kind, command.subject.subject_id)
        return [
            BreachOpened(
                breach_id=breach_id(stream, state.opened + 1),
                rule=command.rule,
                **command.subject.fields(),
                facts=command.facts,
                thresholds=command.thresholds,
                policy_version=command.policy_version,
                breached_since=since,
                cause=command.cause,
                judged_at=command.judged_at,
                acknowledge_by=command.acknowledge_by,
                escalate_by=command.escalate_by,
            )
        ]
    if command.holds and current is not None and current.policy_version != command.policy_version:
        return [
            BreachRejudged(
                **_identity(current),
                facts=command.facts,
                thresholds=command.thresholds,
                policy_version=command.policy_version,
                previous_policy_version=current.policy_version,
                cause=command.cause,
                judged_at=command.judged_at,
            )
        ]
    if not command.holds and current is not None:
        return [
            BreachResolved(
                **_identity(current),
                how="condition-cleared",
                cause=command.cause,
                facts=command.facts,
                policy_version=command.policy_version,
                decided_by=None,
                reason=None,
                judged_at=command.judged_at,
            )
        ]
    return []


def _escalate(command: EscalateDue, state: BreachRecord) -> list[EventData]:
    current = state.open
    if current is None or current.acknowledged_by is not None:
        return []
    ladder: list[tuple[EscalationLevel, date]] = [("head-of-service", current.escalate_by)]
    if current.subject.kind == "practitioner":
        ladder.insert(0, ("manager", current.acknowledge_by))
    missed = [(level, deadline) for level, deadline in ladder if deadline < command.today]
    if not missed:
        return []
    level, deadline = missed[-1]
    if current.level == level or current.level == "head-of-service":
        return []
    return [
        BreachEscalated(
            **_identity(current),
            level=level,
            deadline_missed=deadline,
            escalated_on=command.today,
            next_deadline=current.escalate_by if level == "manager" else None,
        )
    ]


def evolve(state: BreachRecord, event: EventData) -> BreachRecord:
    if isinstance(event, BreachOpened):
        subject = Subject(
            event.subject_kind,
            event.subject_id,
            event.practitioner_id,
            event.team_id,
            event.region_id,
        )
        opened = OpenBreach(
            event.breach_id,
            event.rule,
            subject,
            event.policy_version,
            event.breached_since,
            event.acknowledge_by,
            event.escalate_by,
        )
        return replace(state, opened=state.opened + 1, open=opened, last_id=event.breach_id)
    current = state.open
    if current is None:
        raise ValueError(f"{event.type} on a stream with no open breach")
    if isinstance(event, BreachAcknowledged):
        return replace(state, open=replace(current, acknowledged_by=event.acknowledged_by))
    if isinstance(event, BreachEscalated):
        return replace(state, open=replace(current, level=event.level))
    if isinstance(event, BreachRejudged):
        return replace(state, open=replace(current, policy_version=event.policy_version))
    if isinstance(event, BreachResolved):
        decided = current.breached_since if event.how == "decision" else None
        return replace(state, open=None, decided_since=decided)
    raise TypeError(f"{event.type} is not an event of a breach")


BREACH: Final = Decider[BreachCommand, BreachRecord](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""A breach stream as a `Decider`."""
