"""Practitioners: register, read, change hours, reductions, transfer, line manager, leaving.

Who may (see `deps`): read, the practitioner themself and whoever reaches
their team (ops read aggregates, elsewhere); register, transfer and change, a
manager of their team, the head of service of their region, admins. A transfer
needs the caller to reach both the team the practitioner is in today and the
one they join. Each answer is the practitioner as read after the change.
Values are checked by the domain, which names the field at fault; a refusal
records nothing. Hours go out as JSON strings (exact decimals).
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal
from uuid import uuid4

from fastapi import APIRouter, status
from plimsoll_events.types.fields import Day, DecimalBounds, Identifier, Name
from plimsoll_platform.api import IdempotencyKey, StrictBody
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_allocation.api.deps import (
    PRACTITIONER_COMMAND,
    PRACTITIONER_READ,
    READ,
    CasesDep,
    Changer,
    PractitionerId,
    QueriesDep,
    Reader,
    Reconciler,
    WorkforceDep,
    practitioner_reached,
    read_from,
    team_place,
)
from plimsoll_allocation.domain import (
    ChangeContractedHours,
    ChangeLineManager,
    EndReduction,
    RecordLeaving,
    RegisterPractitioner,
    StartReduction,
    TransferPractitioner,
)
from plimsoll_allocation.queries import Queries

router = APIRouter(prefix="/practitioners", tags=["workforce"])


# Bodies.

ContractedHours = Annotated[Decimal, DecimalBounds("0", "37.5", description="A week, 0 to 37.5")]
ReductionHours = Annotated[Decimal, DecimalBounds("0.01", "37.5")]
ReductionPercent = Annotated[Decimal, DecimalBounds("0.01", "100")]


class PractitionerRegistration(StrictBody):
    practitioner_id: Identifier
    name: Name
    grade: str = Field(description="e.g. PO, PSO, PQiP, SPO, TPO, FCA, SENIOR_FCA")
    team_id: Identifier
    region_id: Identifier
    contracted_hours: ContractedHours
    start_date: Day
    line_manager_id: Identifier | None = None


class ContractedHoursChange(StrictBody):
    contracted_hours: ContractedHours


class ReductionRequest(StrictBody):
    reduction_id: Identifier | None = Field(default=None, description="Chosen if absent")
    reason: Name = Field(description="One of the scheme's reasons (probation), or free text")
    hours: ReductionHours | None = Field(default=None, description="Hours a week it takes off")
    percent: ReductionPercent | None = Field(
        default=None, description="Or a percent of contracted hours (not both)"
    )
    effective_from: Day
    effective_to: Day | None = Field(default=None, description="Its last day, inclusive")


class Transfer(StrictBody):
    team_id: Identifier = Field(description="The team they join")
    region_id: Identifier = Field(description="That team's region")
    effective_on: Day = Field(description="Their first day in the new team")
    line_manager_id: Identifier | None = Field(
        default=None, description="Their line manager in the new team, if known"
    )


class LineManagerChange(StrictBody):
    line_manager_id: Identifier | None = Field(description="From today; null: nobody")


class Leaving(StrictBody):
    leaving_date: Day = Field(description="Their last day in post")


# Answers.


class ReductionView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    reduction_id: str
    reason: str
    hours: Decimal
    percent: Decimal | None
    effective_from: date
    effective_to: date | None
    status: Literal["active", "scheduled"]


class PractitionerView(BaseModel):
    """A practitioner as placed today, from `PractitionerReading`."""

    model_config = ConfigDict(from_attributes=True)

    practitioner_id: str = read_from("practitioner", "practitioner_id")
    name: str = read_from("practitioner", "name")
    grade: str = read_from("practitioner", "grade")
    team_id: str = read_from("practitioner", "team_id")
    region_id: str = read_from("practitioner", "region_id")
    line_manager_id: str | None = read_from("practitioner", "line_manager_id")
    start_date: date = read_from("practitioner", "start_date")
    contracted_hours: Decimal = read_from("practitioner", "contracted_hours")
    reduction_hours: Decimal = read_from(
        "practitioner",
        "active_reduction_hours",
        description="Taken off by the reductions in force today",
    )
    available_points: int = Field(description="WMT's available points, as of `as_of`")
    weighting_scheme: str = read_from("scheme", "name")
    weighting_scheme_version: int = read_from("scheme", "version")
    reductions: list[ReductionView] = read_from(
        "practitioner", "reductions", description="Active and scheduled reductions"
    )
    leaving_date: date | None = read_from("practitioner", "leaving_date")
    has_left: bool = read_from(
        "practitioner", "has_left", description="A leaving is recorded (its date may be to come)"
    )
    as_of: date = Field(validation_alias="today")


def _view(queries: Queries, practitioner_id: str) -> PractitionerView:
    """The practitioner as read after a change the caller was checked for."""
    return PractitionerView.model_validate(queries.practitioner(practitioner_id))


# Routes.


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a practitioner",
    responses=PRACTITIONER_COMMAND,
)
def register_practitioner(
    body: PractitionerRegistration,
    caller: Changer,
    metadata: CommandMetadata,
    workforce: WorkforceDep,
    queries: QueriesDep,
    idempotency: IdempotencyKey,
) -> PractitionerView:
    place = team_place(queries, body.team_id, body.region_id)
    caller.check_place(place, field="team_id", region_field="region_id")
    workforce.register_practitioner(
        RegisterPractitioner(**body.model_dump()), metadata, idempotency
    )
    return _view(queries, body.practitioner_id)


@router.get(
    "/{practitioner_id}",
    summary="A practitioner, their reductions and available points today",
    responses=PRACTITIONER_READ,
)
def read_practitioner(
    practitioner_id: PractitionerId, caller: Reader, queries: QueriesDep
) -> PractitionerView:
    return PractitionerView.model_validate(practitioner_reached(queries, caller, practitioner_id))


@router.put(
    "/{practitioner_id}/contracted-hours",
    summary="Change a practitioner's contracted hours",
    responses=PRACTITIONER_COMMAND,
)
def change_contracted_hours(
    practitioner_id: PractitionerId,
    body: ContractedHoursChange,
    caller: Changer,
    metadata: CommandMetadata,
    workforce: WorkforceDep,
    queries: QueriesDep,
) -> PractitionerView:
    practitioner_reached(queries, caller, practitioner_id)
    command = ChangeContractedHours(practitioner_id, body.contracted_hours)
    workforce.change_contracted_hours(command, metadata)
    return _view(queries, practitioner_id)


@router.post(
    "/{practitioner_id}/reductions",
    status_code=status.HTTP_201_CREATED,
    summary="Record a reduction (active from its first day, scheduled before)",
    responses=PRACTITIONER_COMMAND,
)
def start_reduction(
    practitioner_id: PractitionerId,
    body: ReductionRequest,
    caller: Changer,
    metadata: CommandMetadata,
    workforce: WorkforceDep,
    queries: QueriesDep,
    idempotency: IdempotencyKey,
) -> PractitionerView:
    practitioner_reached(queries, caller, practitioner_id)
    reduction_id = body.reduction_id or str(uuid4())
    command = StartReduction(
        practitioner_id, reduction_id, **body.model_dump(exclude={"reduction_id"})
    )
    workforce.start_reduction(command, metadata, idempotency)
    return _view(queries, practitioner_id)


@router.delete(
    "/{practitioner_id}/reductions/{reduction_id}",
    summary="End an active reduction today, or withdraw a scheduled one",
    responses=PRACTITIONER_COMMAND,
)
def end_reduction(
    practitioner_id: PractitionerId,
    reduction_id: Identifier,
    caller: Changer,
    metadata: CommandMetadata,
    workforce: WorkforceDep,
    queries: QueriesDep,
) -> PractitionerView:
    practitioner_reached(queries, caller, practitioner_id)
    workforce.end_reduction(EndReduction(practitioner_id, reduction_id), metadata)
    return _view(queries, practitioner_id)


@router.post(
    "/{practitioner_id}/transfer",
    summary="Move a practitioner to another team (and region) from a day",
    responses=PRACTITIONER_COMMAND,
)
def transfer_practitioner(
    practitioner_id: PractitionerId,
    body: Transfer,
    caller: Changer,
    metadata: CommandMetadata,
    workforce: WorkforceDep,
    queries: QueriesDep,
) -> PractitionerView:
    practitioner_reached(queries, caller, practitioner_id)
    joining = team_place(queries, body.team_id, body.region_id)
    caller.check_place(joining, field="team_id", region_field="region_id")
    workforce.transfer_practitioner(
        TransferPractitioner(practitioner_id, **body.model_dump()), metadata
    )
    return _view(queries, practitioner_id)


@router.put(
    "/{practitioner_id}/line-manager",
    summary="Change a practitioner's line manager from today",
    responses=PRACTITIONER_COMMAND,
)
def change_line_manager(
    practitioner_id: PractitionerId,
    body: LineManagerChange,
    caller: Changer,
    metadata: CommandMetadata,
    workforce: WorkforceDep,
    queries: QueriesDep,
) -> PractitionerView:
    practitioner_reached(queries, caller, practitioner_id)
    command = ChangeLineManager(practitioner_id, body.line_manager_id)
    workforce.change_line_manager(command, metadata)
    return _view(queries, practitioner_id)


@router.post(
    "/{practitioner_id}/leaving",
    summary="Record that a practitioner leaves (notice may be given ahead)",
    responses=PRACTITIONER_COMMAND,
)
def record_leaving(
    practitioner_id: PractitionerId,
    body: Leaving,
    caller: Changer,
    metadata: CommandMetadata,
    workforce: WorkforceDep,
    queries: QueriesDep,
) -> PractitionerView:
    practitioner_reached(queries, caller, practitioner_id)
    workforce.record_leaving(RecordLeaving(practitioner_id, body.leaving_date), metadata)
    return _view(queries, practitioner_id)


# The calendar.

calendar_router = APIRouter(tags=["workforce"])


class ReconciliationView(BaseModel):
    """What a reconciliation did (`handlers.Reconciled`)."""

    model_config = ConfigDict(from_attributes=True)

    day: date = Field(description="The UK day begun (calendar-day-began, recorded once)")
    practitioners_examined: int
    events_recorded: int = Field(description="reduction-started / reduction-ended recorded")
    practitioners_moved: int = Field(
        description="Practitioners whose transfer took effect in the team figures"
    )


@calendar_router.post(
    "/reductions/reconciliation",
    summary="Record what the calendar brought by today: reductions starting and ending, "
    "transfers taking effect (run daily; safe to repeat)",
    responses=READ,
)
def reconcile(_: Reconciler, cases: CasesDep, metadata: CommandMetadata) -> ReconciliationView:
    return ReconciliationView.model_validate(cases.reconcile(metadata))
