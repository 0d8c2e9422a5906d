"""An unsafe-workload declaration, from the practitioner's words to its closing.

One stream per declaration (`declaration_stream`). A decider: `initial_state` (None: not
declared), `decide`, `evolve`.

Rules:

* A practitioner declares (what is unsafe, which cases or tasks, free text). It must be
  answered by `answer_due_by`: the policy's working days (England and Wales bank holidays)
  after the UK day it was declared.
* The manager answers once: actions agreed (at least one), or disagreement with reasons.
  Answering is still possible after an escalation, never after closing; the practitioner
  does not answer their own declaration.
* Unanswered after its deadline, it escalates to the head of service of the practitioner's
  region with a three-way meeting requested (`EscalateOverdue`, from the deadline sweep:
  it records nothing when not due, already answered, escalated or closed, so the sweep may
  run any number of times and on any replica). The practitioner may also escalate an answer
  they do not accept (`EscalateUnaccepted`).
* It is closed only by the practitioner accepting the answer, or by the outcome of the
  three-way meeting (held by a head of service once escalated; the meeting and the closing
  are recorded together).
"""

from dataclasses import dataclass, replace
from datetime import date
from typing import Final, Literal

from plimsoll_events import refusals
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.wellbeing import (
    DeclarationAnswered,
    DeclarationClosed,
    DeclarationEscalated,
    ThreeWayMeetingHeld,
    WorkloadDeclared,
)
from plimsoll_platform.clock import add_working_days  # calendar arithmetic only: no time read

from plimsoll_wellbeing.domain.errors import (
    AlreadyAnswered,
    AlreadyEscalated,
    AlreadyExists,
    DeclarationIsClosed,
    InvalidValue,
    NotAnswered,
    NotEscalated,
    NotFound,
    NotPermitted,
)
from plimsoll_wellbeing.domain.facts import PractitionerFacts, texts

DEADLINES_ACTOR: Final = "system:declaration-deadlines"
"""The actor of escalations the deadline sweep records."""

# Commands.


@dataclass(frozen=True)
class Declare:
    """A practitioner's declaration that their workload is unsafe. `answer_within_working_days`
    and `policy_version` come from the policy in force today."""

    declaration_id: str
    practitioner: PractitionerFacts
    what_is_unsafe: str
    today: date
    answer_within_working_days: int
    policy_version: int
    case_ids: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    details: str | None = None


@dataclass(frozen=True)
class Answer:
    """The manager's answer: `actions` agreed, or `reasons` for disagreeing."""

    declaration_id: str
    answered_by: str
    answered_by_practitioner_id: str | None
    response: Literal["actions-agreed", "disagreed"]
    today: date
    actions: tuple[str, ...] = ()
    reasons: str | None = None


@dataclass(frozen=True)
class EscalateOverdue:
    """Escalate if unanswered past its deadline (`region_id`: the practitioner's now, if known)."""

    declaration_id: str
    today: date
    region_id: str | None = None


@dataclass(frozen=True)
class EscalateUnaccepted:
    """The practitioner does not accept the answer and asks for a three-way meeting."""

    declaration_id: str
    today: date
    region_id: str | None = None


@dataclass(frozen=True)
class AcceptAnswer:
    """The practitioner accepts the answer: the declaration closes."""

    declaration_id: str
    today: date


@dataclass(frozen=True)
class HoldThreeWayMeeting:
    """The head of service records the three-way meeting; its outcome closes the declaration."""

    declaration_id: str
    head_of_service: str
    held_on: date
    outcome: Literal["actions-agreed", "no-change-needed"]
    notes: str
    today: date
    actions: tuple[str, ...] = ()


DeclarationCommand = (
    Declare | Answer | EscalateOverdue | EscalateUnaccepted | AcceptAnswer | HoldThreeWayMeeting
)

# State.


@dataclass(frozen=True)
class Declaration:
    declaration_id: str
    practitioner_id: str
    region_id: str
    declared_on: date
    answer_due_by: date
    answered_on: date | None = None
    escalated_on: date | None = None
    closed_on: date | None = None


DeclarationState = Declaration | None

initial_state: DeclarationState = None


def declaration_stream(declaration_id: str) -> str:
    """The stream of a declaration: `declaration-<id>`."""
    return f"declaration-{declaration_id}"


# Deciding.


def decide(command: DeclarationCommand, state: DeclarationState) -> list[EventData]:
    """The events a command records on a declaration's stream, or a refusal."""
    if isinstance(command, Declare):
        return _declare(command, state)
    declaration = _existing(state, command.declaration_id)
    if isinstance(command, EscalateOverdue):
        return _escalate_overdue(command, declaration)
    if declaration.closed_on is not None:
        raise DeclarationIsClosed(
            f"declaration {declaration.declaration_id} closed on {declaration.closed_on}",
            field="declaration_id",
        )
    if isinstance(command, Answer):
        return _answer(command, declaration)
    if isinstance(command, EscalateUnaccepted):
        return _escalate_unaccepted(command, declaration)
    if isinstance(command, AcceptAnswer):
        _answered(declaration)
        return [_closed(declaration, command.today, "practitioner-accepted-answer")]
    return _meeting(command, declaration)


def _existing(state: DeclarationState, declaration_id: str) -> Declaration:
    if state is None:
        raise NotFound(f"no declaration {declaration_id!r}", field="declaration_id")
    return state


def _declare(command: Declare, state: DeclarationState) -> list[EventData]:
    refusals.identifier(command.declaration_id, "declaration_id")
    if state is not None:
        raise AlreadyExists(f"declaration {command.declaration_id} exists", field="declaration_id")
    if len(command.case_ids) > 200:
        raise InvalidValue("at most 200 cases", field="case_ids")
    case_ids = [refusals.identifier(c, f"case_ids[{i}]") for i, c in enumerate(command.case_ids)]
    practitioner = command.practitioner
    return [
        WorkloadDeclared(
            practitioner_id=practitioner.practitioner_id,
            declaration_id=command.declaration_id,
            team_id=practitioner.team_id,
            region_id=practitioner.region_id,
            line_manager_id=practitioner.line_manager_id,
            what_is_unsafe=refusals.text(command.what_is_unsafe, "what_is_unsafe"),
            case_ids=case_ids,
            tasks=texts(command.tasks, "tasks"),
            details=refusals.optional_text(command.details, "details"),
            declared_on=command.today,
            answer_due_by=add_working_days(command.today, command.answer_within_working_days),
            answer_within_working_days=command.answer_within_working_days,
            policy_version=command.policy_version,
        )
    ]


def _answer(command: Answer, declaration: Declaration) -> list[EventData]:
    if declaration.answered_on is not None:
        raise AlreadyAnswered(
            f"declaration {declaration.declaration_id} was answered on {declaration.answered_on}",
            field="declaration_id",
        )
    if command.answered_by_practitioner_id == declaration.practitioner_id:
        raise NotPermitted(
            "a practitioner does not answer their own declaration", field="declaration_id"
        )
    actions = texts(command.actions, "actions")
    reasons = refusals.optional_text(command.reasons, "reasons")
    if command.response == "actions-agreed":
        if not actions:
            raise InvalidValue("say which actions are agreed", field="actions")
        if reasons is not None:
            raise InvalidValue("reasons are for disagreeing", field="reasons")
    else:
        if reasons is None:
            raise InvalidValue("a disagreement needs reasons", field="reasons")
        if actions:
            raise InvalidValue("a disagreement agrees no actions", field="actions")
    return [
        DeclarationAnswered(
            practitioner_id=declaration.practitioner_id,
            declaration_id=declaration.declaration_id,
            answered_by=command.answered_by,
            answered_on=command.today,
            response=command.response,
            actions=actions,
            reasons=reasons,
        )
    ]


def _escalated(
    declaration: Declaration,
    today: date,
    region_id: str | None,
    because: Literal["deadline-missed", "answer-not-accepted"],
) -> DeclarationEscalated:
    return DeclarationEscalated(
        practitioner_id=declaration.practitioner_id,
        declaration_id=declaration.declaration_id,
        escalated_to="head-of-service",
        region_id=region_id or declaration.region_id,
        three_way_meeting_requested=True,
        because=because,
        answer_due_by=declaration.answer_due_by,
        escalated_on=today,
    )


def _escalate_overdue(command: EscalateOverdue, declaration: Declaration) -> list[EventData]:
    due = command.today > declaration.answer_due_by
    settled = (
        declaration.answered_on is not None
        or declaration.escalated_on is not None
        or declaration.closed_on is not None
    )
    if not due or settled:
        return []
    return [_escalated(declaration, command.today, command.region_id, "deadline-missed")]


def _answered(declaration: Declaration) -> None:
    if declaration.answered_on is None:
        raise NotAnswered(
            f"declaration {declaration.declaration_id} has no answer yet", field="declaration_id"
        )


def _escalate_unaccepted(command: EscalateUnaccepted, declaration: Declaration) -> list[EventData]:
    _answered(declaration)
    if declaration.escalated_on is not None:
        raise AlreadyEscalated(
            f"declaration {declaration.declaration_id} was escalated on {declaration.escalated_on}",
            field="declaration_id",
        )
    return [_escalated(declaration, command.today, command.region_id, "answer-not-accepted")]


def _meeting(command: HoldThreeWayMeeting, declaration: Declaration) -> list[EventData]:
    if declaration.escalated_on is None:
        raise NotEscalated(
            f"declaration {declaration.declaration_id} has not been escalated: a three-way "
            "meeting follows an escalation",
            field="declaration_id",
        )
    refusals.day(command.held_on, "held_on")
    if not declaration.declared_on <= command.held_on <= command.today:
        raise InvalidValue(
            f"must be from {declaration.declared_on} (declared) to {command.today} (today)",
            field="held_on",
        )
    return [
        ThreeWayMeetingHeld(
            practitioner_id=declaration.practitioner_id,
            declaration_id=declaration.declaration_id,
            held_on=command.held_on,
            head_of_service=command.head_of_service,
            outcome=command.outcome,
            notes=refusals.text(command.notes, "notes"),
            actions=texts(command.actions, "actions"),
        ),
        _closed(declaration, command.today, "three-way-meeting"),
    ]


def _closed(
    declaration: Declaration,
    today: date,
    by: Literal["practitioner-accepted-answer", "three-way-meeting"],
) -> DeclarationClosed:
    return DeclarationClosed(
        practitioner_id=declaration.practitioner_id,
        declaration_id=declaration.declaration_id,
        closed_on=today,
        closed_by=by,
    )


# Evolving.


def evolve(state: DeclarationState, event: EventData) -> DeclarationState:
    """The declaration after one event of its stream."""
    if isinstance(event, WorkloadDeclared):
        return Declaration(
            declaration_id=event.declaration_id,
            practitioner_id=event.practitioner_id,
            region_id=event.region_id,
            declared_on=event.declared_on,
            answer_due_by=event.answer_due_by,
        )
    declaration = _existing(state, getattr(event, "declaration_id", "?"))
    if isinstance(event, DeclarationAnswered):
        return replace(declaration, answered_on=event.answered_on)
    if isinstance(event, DeclarationEscalated):
        return replace(declaration, escalated_on=event.escalated_on, region_id=event.region_id)
    if isinstance(event, DeclarationClosed):
        return replace(declaration, closed_on=event.closed_on)
    if isinstance(event, ThreeWayMeetingHeld):
        return declaration
    raise TypeError(f"{event.type} is not an event of a declaration")


DECLARATION: Final = Decider[DeclarationCommand, DeclarationState](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""A declaration as a `Decider`."""
