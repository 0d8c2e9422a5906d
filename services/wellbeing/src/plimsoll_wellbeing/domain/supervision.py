"""A practitioner's supervision record: their supervisions and the workload agreed in them.

One stream per practitioner (`supervision_record_stream`), so that a supervision and the
agreements made in it are recorded in one append, and so that no two agreements about one
case can be in force at once. A decider: `initial_state`, `decide`, `evolve`.

Rules:

* The supervisor is the practitioner's line manager on the day (from placements) unless a
  `supervisor_reason` says why not (`SupervisorNotLineManager`, naming `supervisor_reason`);
  nobody supervises themself.
* A supervision is scheduled for today or later; a scheduled one is held or cancelled, with a
  reason, once (`SupervisionNotScheduled`). One may be recorded as held without having been
  scheduled.
* "Held" is a past or present day, on which the practitioner was in post: never before they
  started, after they left, or in the future (naming `held_on`).
* In a supervision (the prioritising framework), work on a case the practitioner carries is
  suspended until a day or until resumed, or marked not to be done, each with a reason and
  whether a court or partner must be told. A case they do not carry is refused
  (`CaseNotCarried`, naming `agreements[i].case_id`), as is a second agreement about a case
  while one is in force (`AgreementInForce`).
* An agreement in force ends with `work-resumed`: agreed (a reason), the day after its
  `until`, or once the case is known to have left the practitioner (`ResumeDueWork`, what the
  daily sweep sends; it records nothing when nothing is due, so it can be sent any time).
"""

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Final, Literal

from plimsoll_events import refusals
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.wellbeing import (
    SupervisionCancelled,
    SupervisionHeld,
    SupervisionScheduled,
    WorkMarkedNotToBeDone,
    WorkResumed,
    WorkSuspended,
)

from plimsoll_wellbeing.domain.errors import (
    AgreementInForce,
    AgreementNotInForce,
    AlreadyExists,
    CaseNotCarried,
    InvalidValue,
    NotFound,
    SupervisionNotScheduled,
    SupervisorNotLineManager,
)
from plimsoll_wellbeing.domain.facts import PractitionerFacts, in_post_on, texts

AgreementKind = Literal["suspend", "not-to-be-done"]

# Commands.


@dataclass(frozen=True)
class ScheduleSupervision:
    """Arrange a supervision for `scheduled_for` (today or later)."""

    practitioner: PractitionerFacts
    supervision_id: str
    supervisor_id: str
    scheduled_for: date
    today: date
    supervisor_reason: str | None = None


@dataclass(frozen=True)
class CancelSupervision:
    """Call off a scheduled supervision, saying why."""

    practitioner_id: str
    supervision_id: str
    reason: str
    today: date


@dataclass(frozen=True)
class AgreedWork:
    """One agreement of the prioritising framework, made in the supervision being recorded."""

    agreement_id: str
    kind: AgreementKind
    case_id: str
    reason: str
    court_or_partner_must_be_told: bool
    until: date | None = None
    """The last day work stays suspended (suspensions only); None: until resumed."""


@dataclass(frozen=True)
class HoldSupervision:
    """Record a supervision held (the one scheduled as `supervision_id`, or a new one), with the
    work suspended or not to be done in it. `carried_case_ids`: the cases the practitioner
    carries now (allocation's events, as wellbeing has read them)."""

    practitioner: PractitionerFacts
    supervision_id: str
    supervisor_id: str
    held_on: date
    duration_minutes: int
    workload_reviewed: bool
    wellbeing_discussed: bool
    today: date
    agreed_actions: tuple[str, ...] = ()
    supervisor_reason: str | None = None
    agreements: tuple[AgreedWork, ...] = ()
    carried_case_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ResumeWork:
    """End an agreement in force by agreement: the work counts again from today."""

    practitioner_id: str
    agreement_id: str
    reason: str
    today: date


@dataclass(frozen=True)
class ResumeDueWork:
    """End every agreement whose `until` has passed, and every one about a case known to have
    left the practitioner (`cases_gone`: reallocated to someone else, or closed)."""

    practitioner_id: str
    today: date
    cases_gone: frozenset[str] = frozenset()


SupervisionCommand = (
    ScheduleSupervision | CancelSupervision | HoldSupervision | ResumeWork | ResumeDueWork
)

# State.


@dataclass(frozen=True)
class Supervision:
    supervision_id: str
    status: Literal["scheduled", "held", "cancelled"]
    supervisor_id: str
    day: date
    """The day it is scheduled for, was held on, or was cancelled on."""


@dataclass(frozen=True)
class Agreement:
    agreement_id: str
    kind: AgreementKind
    case_id: str
    agreed_on: date
    until: date | None
    in_force: bool = True


@dataclass(frozen=True)
class SupervisionRecord:
    """What a practitioner's supervision record says now."""

    supervisions: dict[str, Supervision] = field(default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)

    def in_force_for(self, case_id: str) -> Agreement | None:
        return next(
            (a for a in self.agreements.values() if a.in_force and a.case_id == case_id), None
        )


initial_state: Final = SupervisionRecord()


def supervision_record_stream(practitioner_id: str) -> str:
    """The stream of a practitioner's supervision record: `supervision-record-<id>`."""
    return f"supervision-record-{practitioner_id}"


# Deciding.


def decide(command: SupervisionCommand, state: SupervisionRecord) -> list[EventData]:
    """The events a command records on the supervision record, or a refusal."""
    if isinstance(command, ScheduleSupervision):
        return _schedule(command, state)
    if isinstance(command, CancelSupervision):
        return _cancel(command, state)
    if isinstance(command, HoldSupervision):
        return _hold(command, state)
    if isinstance(command, ResumeWork):
        return _resume(command, state)
    return _resume_due(command, state)


def _check_supervisor(
    practitioner: PractitionerFacts, supervisor_id: str, reason: str | None
) -> str | None:
    refusals.identifier(supervisor_id, "supervisor_id")
    reason = refusals.optional_text(reason, "supervisor_reason")
    if supervisor_id == practitioner.practitioner_id:
        raise InvalidValue("a practitioner cannot supervise themself", field="supervisor_id")
    manager = practitioner.line_manager_id
    if supervisor_id == manager:
        return None  # a reason for the line manager supervising is not needed, nor kept
    if reason is None:
        known = f"their line manager is {manager}" if manager else "no line manager is known"
        raise SupervisorNotLineManager(
            f"{supervisor_id} is not {practitioner.practitioner_id}'s line manager ({known}): "
            "say why they supervise",
            field="supervisor_reason",
        )
    return reason


def _schedule(command: ScheduleSupervision, state: SupervisionRecord) -> list[EventData]:
    refusals.identifier(command.supervision_id, "supervision_id")
    if command.supervision_id in state.supervisions:
        raise AlreadyExists(f"supervision {command.supervision_id} exists", field="supervision_id")
    refusals.day(command.scheduled_for, "scheduled_for")
    if command.scheduled_for < command.today:
        raise InvalidValue(
            f"{command.scheduled_for} has passed: record a supervision held instead",
            field="scheduled_for",
        )
    practitioner = command.practitioner
    if practitioner.leaving_date is not None and command.scheduled_for > practitioner.leaving_date:
        raise InvalidValue(
            f"after {practitioner.practitioner_id} leaves ({practitioner.leaving_date})",
            field="scheduled_for",
        )
    reason = _check_supervisor(practitioner, command.supervisor_id, command.supervisor_reason)
    return [
        SupervisionScheduled(
            practitioner_id=practitioner.practitioner_id,
            supervision_id=command.supervision_id,
            supervisor_id=command.supervisor_id,
            scheduled_for=command.scheduled_for,
            supervisor_reason=reason,
        )
    ]


def _scheduled(state: SupervisionRecord, supervision_id: str) -> Supervision:
    supervision = state.supervisions.get(supervision_id)
    if supervision is None:
        raise NotFound(f"no supervision {supervision_id!r}", field="supervision_id")
    if supervision.status != "scheduled":
        raise SupervisionNotScheduled(
            f"supervision {supervision_id} was {supervision.status} on {supervision.day}",
            field="supervision_id",
        )
    return supervision


def _cancel(command: CancelSupervision, state: SupervisionRecord) -> list[EventData]:
    _scheduled(state, command.supervision_id)
    return [
        SupervisionCancelled(
            practitioner_id=command.practitioner_id,
            supervision_id=command.supervision_id,
            reason=refusals.text(command.reason, "reason"),
            cancelled_on=command.today,
        )
    ]


def _hold(command: HoldSupervision, state: SupervisionRecord) -> list[EventData]:
    refusals.identifier(command.supervision_id, "supervision_id")
    if command.supervision_id in state.supervisions:
        _scheduled(state, command.supervision_id)
    practitioner = command.practitioner
    in_post_on(command.held_on, practitioner, "held_on", today=command.today)
    refusals.whole_number(
        command.duration_minutes, "duration_minutes", low=1, high=1440, unit="minutes"
    )
    reason = _check_supervisor(practitioner, command.supervisor_id, command.supervisor_reason)
    held: list[EventData] = [
        SupervisionHeld(
            practitioner_id=practitioner.practitioner_id,
            supervision_id=command.supervision_id,
            supervisor_id=command.supervisor_id,
            line_manager_id=practitioner.line_manager_id,
            held_on=command.held_on,
            duration_minutes=command.duration_minutes,
            workload_reviewed=command.workload_reviewed,
            wellbeing_discussed=command.wellbeing_discussed,
            agreed_actions=texts(command.agreed_actions, "agreed_actions"),
            supervisor_reason=reason,
        )
    ]
    return held + _agreements(command, state)


def _agreements(command: HoldSupervision, state: SupervisionRecord) -> list[EventData]:
    decided: list[EventData] = []
    cases: set[str] = set()
    ids: set[str] = set()
    for i, agreed in enumerate(command.agreements):
        at = f"agreements[{i}]"
        refusals.identifier(agreed.agreement_id, f"{at}.agreement_id")
        if agreed.agreement_id in state.agreements or agreed.agreement_id in ids:
            raise AlreadyExists(
                f"agreement {agreed.agreement_id} exists", field=f"{at}.agreement_id"
            )
        refusals.identifier(agreed.case_id, f"{at}.case_id")
        if agreed.case_id in cases:
            raise InvalidValue(
                f"case {agreed.case_id} is named twice in this supervision", field=f"{at}.case_id"
            )
        if agreed.case_id not in command.carried_case_ids:
            raise CaseNotCarried(
                f"{command.practitioner.practitioner_id} does not carry case {agreed.case_id}",
                field=f"{at}.case_id",
            )
        earlier = state.in_force_for(agreed.case_id)
        if earlier is not None:
            raise AgreementInForce(
                f"agreement {earlier.agreement_id} about case {agreed.case_id} is in force "
                f"since {earlier.agreed_on}: resume it first",
                field=f"{at}.case_id",
            )
        cases.add(agreed.case_id)
        ids.add(agreed.agreement_id)
        decided.append(_agreement(command, agreed, at))
    return decided


def _agreement(command: HoldSupervision, agreed: AgreedWork, at: str) -> EventData:
    common = {
        "practitioner_id": command.practitioner.practitioner_id,
        "agreement_id": agreed.agreement_id,
        "case_id": agreed.case_id,
        "supervision_id": command.supervision_id,
        "reason": refusals.text(agreed.reason, f"{at}.reason"),
        "court_or_partner_must_be_told": agreed.court_or_partner_must_be_told,
        "agreed_on": command.today,
    }
    if agreed.kind == "not-to-be-done":
        if agreed.until is not None:
            raise InvalidValue(
                "work not to be done has no end day: resume it when it is to be done",
                field=f"{at}.until",
            )
        return WorkMarkedNotToBeDone(**common)
    if agreed.until is not None:
        refusals.day(agreed.until, f"{at}.until")
        if agreed.until < command.today:
            raise InvalidValue(
                f"{agreed.until} has passed (today is {command.today})", field=f"{at}.until"
            )
    return WorkSuspended(**common, until=agreed.until)


def _resume(command: ResumeWork, state: SupervisionRecord) -> list[EventData]:
    agreement = state.agreements.get(command.agreement_id)
    if agreement is None:
        raise NotFound(f"no agreement {command.agreement_id!r}", field="agreement_id")
    if not agreement.in_force:
        raise AgreementNotInForce(
            f"agreement {command.agreement_id} has ended already", field="agreement_id"
        )
    return [
        WorkResumed(
            practitioner_id=command.practitioner_id,
            agreement_id=agreement.agreement_id,
            case_id=agreement.case_id,
            resumed_on=max(command.today, agreement.agreed_on),
            cause="agreed",
            reason=refusals.text(command.reason, "reason"),
        )
    ]


def _resume_due(command: ResumeDueWork, state: SupervisionRecord) -> list[EventData]:
    decided: list[EventData] = []
    for agreement in sorted(state.agreements.values(), key=lambda a: a.agreement_id):
        if not agreement.in_force:
            continue
        if agreement.until is not None and agreement.until < command.today:
            cause: Literal["until-passed", "case-left-practitioner"] = "until-passed"
            resumed_on = agreement.until + timedelta(days=1)
        elif agreement.case_id in command.cases_gone:
            cause, resumed_on = "case-left-practitioner", command.today
        else:
            continue
        decided.append(
            WorkResumed(
                practitioner_id=command.practitioner_id,
                agreement_id=agreement.agreement_id,
                case_id=agreement.case_id,
                resumed_on=resumed_on,
                cause=cause,
                reason=None,
            )
        )
    return decided


# Evolving.


def evolve(state: SupervisionRecord, event: EventData) -> SupervisionRecord:
    """The record after one event of its stream."""
    if isinstance(event, SupervisionScheduled):
        supervision = Supervision(
            event.supervision_id, "scheduled", event.supervisor_id, event.scheduled_for
        )
        return _with_supervision(state, supervision)
    if isinstance(event, SupervisionHeld):
        supervision = Supervision(event.supervision_id, "held", event.supervisor_id, event.held_on)
        return _with_supervision(state, supervision)
    if isinstance(event, SupervisionCancelled):
        cancelled = replace(
            state.supervisions[event.supervision_id], status="cancelled", day=event.cancelled_on
        )
        return _with_supervision(state, cancelled)
    if isinstance(event, WorkSuspended | WorkMarkedNotToBeDone):
        until = event.until if isinstance(event, WorkSuspended) else None
        kind: AgreementKind = "suspend" if isinstance(event, WorkSuspended) else "not-to-be-done"
        agreement = Agreement(event.agreement_id, kind, event.case_id, event.agreed_on, until)
        return replace(state, agreements={**state.agreements, event.agreement_id: agreement})
    if isinstance(event, WorkResumed):
        ended = replace(state.agreements[event.agreement_id], in_force=False)
        return replace(state, agreements={**state.agreements, event.agreement_id: ended})
    raise TypeError(f"{event.type} is not an event of a supervision record")


def _with_supervision(state: SupervisionRecord, supervision: Supervision) -> SupervisionRecord:
    supervisions = {**state.supervisions, supervision.supervision_id: supervision}
    return replace(state, supervisions=supervisions)


SUPERVISION_RECORD: Final = Decider[SupervisionCommand, SupervisionRecord](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""A practitioner's supervision record as a `Decider`."""
