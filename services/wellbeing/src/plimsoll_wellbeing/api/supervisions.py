"""Supervisions: scheduled, held (with the work suspended or not to be done in them), cancelled."""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter
from plimsoll_events.types.fields import Day, Identifier, Text
from plimsoll_platform.access import Caller
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, Field

from plimsoll_wellbeing.api.agreements import AgreementView
from plimsoll_wellbeing.api.deps import (
    HandlersDep,
    PlacementsDep,
    QueriesDep,
    TeamReader,
    TeamStaff,
    TimeDep,
    facts,
    new_id,
    reach_practitioner,
)
from plimsoll_wellbeing.domain.errors import InvalidValue
from plimsoll_wellbeing.domain.supervision import (
    AgreedWork,
    CancelSupervision,
    HoldSupervision,
    ScheduleSupervision,
)

router = APIRouter(tags=["supervisions"])

NOT_FOUND = {404: "No such practitioner or supervision"}
Texts = Annotated[list[Text], Field(max_length=50)]


class SupervisionView(BaseModel):
    """A supervision as recorded: scheduled, held or cancelled."""

    practitioner_id: str
    supervision_id: str
    status: Literal["scheduled", "held", "cancelled"]
    supervisor_id: str
    supervisor_reason: str | None = None
    scheduled_for: date | None = None
    held_on: date | None = None
    line_manager_id: str | None = None
    duration_minutes: int | None = None
    workload_reviewed: bool | None = None
    wellbeing_discussed: bool | None = None
    agreed_actions: list[str] = []
    cancelled_on: date | None = None
    cancellation_reason: str | None = None


class Scheduling(StrictBody):
    scheduled_for: Day
    supervisor_id: Identifier | None = Field(
        default=None, description="Default: the caller (their token's practitioner_id)."
    )
    supervisor_reason: Text | None = Field(
        default=None, description="Required when the supervisor is not the line manager."
    )


class AgreedWorkBody(StrictBody):
    kind: Literal["suspend", "not-to-be-done"]
    case_id: Identifier
    reason: Text
    court_or_partner_must_be_told: bool = False
    until: Day | None = Field(
        default=None, description="Suspensions: the last day suspended; none: until resumed."
    )


class Holding(StrictBody):
    supervision_id: Identifier | None = Field(
        default=None, description="The scheduled supervision held; none: one not scheduled."
    )
    held_on: Day
    duration_minutes: int
    workload_reviewed: bool
    wellbeing_discussed: bool
    supervisor_id: Identifier | None = Field(
        default=None, description="Default: the caller (their token's practitioner_id)."
    )
    supervisor_reason: Text | None = Field(
        default=None, description="Required when the supervisor is not the line manager that day."
    )
    agreed_actions: Texts = Field(default_factory=list)
    agreements: Annotated[list[AgreedWorkBody], Field(max_length=50)] = Field(default_factory=list)


class Cancelling(StrictBody):
    reason: Text


class Held(BaseModel):
    """A supervision held, and the agreements made in it."""

    supervision: SupervisionView
    agreements: list[AgreementView]


def _supervisor(caller: Caller, given: str | None) -> str:
    supervisor = given or caller.principal.practitioner_id
    if supervisor is None:
        raise InvalidValue(
            "your token names no practitioner: say who supervised", field="supervisor_id"
        )
    return supervisor


@router.get(
    "/practitioners/{practitioner_id}/supervisions",
    responses=problem_responses(NOT_FOUND),
    summary="A practitioner's supervisions, oldest first",
)
def list_supervisions(
    practitioner_id: Identifier, caller: TeamReader, placements: PlacementsDep, queries: QueriesDep
) -> list[SupervisionView]:
    reach_practitioner(caller, placements, practitioner_id)
    return [SupervisionView.model_validate(v) for v in queries.supervisions(practitioner_id)]


@router.post(
    "/practitioners/{practitioner_id}/supervisions/scheduled",
    status_code=201,
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Schedule a supervision (today or later) with the line manager, or another "
    "supervisor for a reason",
)
def schedule(
    practitioner_id: Identifier,
    body: Scheduling,
    caller: TeamStaff,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> SupervisionView:
    placement = reach_practitioner(caller, placements, practitioner_id)
    command = ScheduleSupervision(
        practitioner=facts(placement),
        supervision_id=new_id("S"),
        supervisor_id=_supervisor(caller, body.supervisor_id),
        scheduled_for=body.scheduled_for,
        today=time.today(),
        supervisor_reason=body.supervisor_reason,
    )
    [recorded] = handlers.schedule_supervision(command, metadata, key)
    return _supervision(queries, practitioner_id, recorded.data["supervision_id"])


@router.post(
    "/practitioners/{practitioner_id}/supervisions/held",
    status_code=201,
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Record a supervision held, with the work suspended or not to be done in it",
)
def hold(
    practitioner_id: Identifier,
    body: Holding,
    caller: TeamStaff,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> Held:
    placement = reach_practitioner(caller, placements, practitioner_id)
    on_the_day = placements.on(practitioner_id, body.held_on) or placement
    command = HoldSupervision(
        practitioner=facts(placement, on_the_day.line_manager_id),
        supervision_id=body.supervision_id or new_id("S"),
        supervisor_id=_supervisor(caller, body.supervisor_id),
        held_on=body.held_on,
        duration_minutes=body.duration_minutes,
        workload_reviewed=body.workload_reviewed,
        wellbeing_discussed=body.wellbeing_discussed,
        today=time.today(),
        agreed_actions=tuple(body.agreed_actions),
        supervisor_reason=body.supervisor_reason,
        agreements=tuple(
            AgreedWork(
                agreement_id=new_id("A"),
                kind=agreed.kind,
                case_id=agreed.case_id,
                reason=agreed.reason,
                court_or_partner_must_be_told=agreed.court_or_partner_must_be_told,
                until=agreed.until,
            )
            for agreed in body.agreements
        ),
        carried_case_ids=queries.carried_cases(practitioner_id) if body.agreements else frozenset(),
    )
    recorded = handlers.hold_supervision(command, metadata, key)
    made = {e.data["agreement_id"] for e in recorded[1:]}
    return Held(
        supervision=_supervision(queries, practitioner_id, recorded[0].data["supervision_id"]),
        agreements=[
            AgreementView.model_validate(view)
            for view in queries.agreements(practitioner_id)
            if view["agreement_id"] in made
        ],
    )


@router.post(
    "/practitioners/{practitioner_id}/supervisions/{supervision_id}/cancellation",
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Cancel a scheduled supervision, saying why",
)
def cancel(
    practitioner_id: Identifier,
    supervision_id: Identifier,
    body: Cancelling,
    caller: TeamStaff,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> SupervisionView:
    reach_practitioner(caller, placements, practitioner_id)
    command = CancelSupervision(practitioner_id, supervision_id, body.reason, time.today())
    handlers.cancel_supervision(command, metadata, key)
    return _supervision(queries, practitioner_id, supervision_id)


def _supervision(queries: QueriesDep, practitioner_id: str, supervision_id: str) -> SupervisionView:
    found = [
        v for v in queries.supervisions(practitioner_id) if v["supervision_id"] == supervision_id
    ]
    return SupervisionView.model_validate(found[0])
