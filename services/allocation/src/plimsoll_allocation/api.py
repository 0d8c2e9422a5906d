"""The allocation HTTP API, workforce part: parse -> command -> handler -> response.

Who may do what (token roles; the scope of each is `access`'s):

* register (`POST /practitioners`): a manager into their own team, a head of
  service into their region, admin;
* read (`GET /practitioners/{id}`): the practitioner themself, a manager of their team,
  the head of service of their region, admin, service accounts (ops read
  aggregates, elsewhere);
* change (contracted hours, reductions, leaving): a manager of their team, the
  head of service of their region, admin.

Values are checked by the domain, which names the field at fault; a refusal
(`AllocationRefused`) is answered as problem details by `refusal_problem` and
records nothing. Hours and points go out as JSON strings (decimals, exact).
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import uuid4

from fastapi import APIRouter, Depends, Header, Request, status
from plimsoll_events.handling import Idempotency
from plimsoll_platform.auth import CurrentPrincipal, Principal, require_roles
from plimsoll_platform.event_sourcing import CommandMetadata
from plimsoll_platform.problems import InvalidParam, Problem, ProblemDetails
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_allocation.access import (
    ADMIN,
    HEAD_OF_SERVICE,
    MANAGER,
    SERVICE,
    Place,
    check_reaches,
    forbidden,
    is_self,
)
from plimsoll_allocation.domain import AllocationRefused, Practitioner
from plimsoll_allocation.handlers import PractitionerReading, Workforce

router = APIRouter(prefix="/practitioners", tags=["workforce"])

_CHANGERS = (MANAGER, HEAD_OF_SERVICE, ADMIN)

_PROBLEM = {"model": ProblemDetails, "content": {"application/problem+json": {}}}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**_PROBLEM, "description": "No valid token"},
    403: {**_PROBLEM, "description": "The caller's role, team or region does not allow it"},
    404: {**_PROBLEM, "description": "No such practitioner (or reduction)"},
    409: {**_PROBLEM, "description": "Conflicts with what is recorded (left, already exists)"},
    422: {**_PROBLEM, "description": "A value is not valid; invalid-params names the field"},
}


def workforce(request: Request) -> Workforce:
    handlers: Workforce = request.app.state.workforce
    return handlers


WorkforceDep = Annotated[Workforce, Depends(workforce)]
Changer = Annotated[Principal, Depends(require_roles(*_CHANGERS))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retrying with the same key returns the first answer and records nothing.",
    ),
]


# Bodies.


class StrictBody(BaseModel):
    """A request body: a field the API does not know is refused, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class PractitionerRegistration(StrictBody):
    practitioner_id: str
    name: str
    grade: str = Field(description="e.g. PO, PSO, PQiP, SPO, TPO, FCA, SENIOR_FCA")
    team_id: str
    region_id: str
    contracted_hours: Decimal = Field(description="A week, 0 to 37.5")
    start_date: date
    line_manager_id: str | None = None


class ContractedHoursChange(StrictBody):
    contracted_hours: Decimal = Field(description="A week, 0 to 37.5")


class ReductionRequest(StrictBody):
    reduction_id: str | None = Field(default=None, description="Chosen by the server if absent")
    reason: str = Field(description="One of the scheme's reasons (probation), or free text")
    hours: Decimal | None = Field(default=None, description="Hours a week it takes off")
    percent: Decimal | None = Field(default=None, description="Or a percent of contracted hours")
    effective_from: date
    effective_to: date | None = Field(default=None, description="Its last day, inclusive")


class Leaving(StrictBody):
    leaving_date: date = Field(description="Their last day in post")


# Answers.


class ReductionView(BaseModel):
    reduction_id: str
    reason: str
    hours: Decimal
    percent: Decimal | None
    effective_from: date
    effective_to: date | None
    status: Literal["active", "scheduled"]


class PractitionerView(BaseModel):
    practitioner_id: str
    name: str
    grade: str
    team_id: str
    region_id: str
    line_manager_id: str | None
    start_date: date
    contracted_hours: Decimal
    reduction_hours: Decimal = Field(description="Taken off by the reductions in force today")
    available_points: int = Field(description="WMT's available points, as of `as_of`")
    weighting_scheme: str
    weighting_scheme_version: int
    reductions: list[ReductionView] = Field(description="Active and scheduled reductions")
    leaving_date: date | None
    has_left: bool = Field(description="A leaving is recorded (its date may be to come)")
    as_of: date


def _view(reading: PractitionerReading) -> PractitionerView:
    p = reading.practitioner
    return PractitionerView(
        practitioner_id=p.practitioner_id,
        name=p.name,
        grade=p.grade,
        team_id=p.team_id,
        region_id=p.region_id,
        line_manager_id=p.line_manager_id,
        start_date=p.start_date,
        contracted_hours=p.contracted_hours,
        reduction_hours=p.active_reduction_hours,
        available_points=reading.available_points,
        weighting_scheme=reading.scheme.name,
        weighting_scheme_version=reading.scheme.version,
        reductions=[
            ReductionView(
                reduction_id=r.reduction_id,
                reason=r.reason,
                hours=r.hours,
                percent=r.percent,
                effective_from=r.effective_from,
                effective_to=r.effective_to,
                status="active" if r.active else "scheduled",
            )
            for r in p.reductions
        ],
        leaving_date=p.leaving_date,
        has_left=p.has_left,
        as_of=reading.today,
    )


# Scope.


def scoped_key(principal: Principal, request: Request, key: str | None) -> Idempotency | None:
    """A client's key, scoped to the client and the route, so two clients never collide."""
    if key is None:
        return None
    return Idempotency(f"{principal.subject} {request.method} {request.url.path} {key}")


def place_of(practitioner: Practitioner) -> Place:
    return Place(practitioner.team_id, practitioner.region_id)


def _may_change(handlers: Workforce, principal: Principal, practitioner_id: str) -> None:
    check_reaches(principal, place_of(handlers.read(practitioner_id).practitioner))


# Routes.


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Register a practitioner",
    responses=PROBLEM_RESPONSES,
)
def register_practitioner(
    body: PractitionerRegistration,
    request: Request,
    principal: Changer,
    metadata: CommandMetadata,
    handlers: WorkforceDep,
    idempotency_key: IdempotencyKey = None,
) -> PractitionerView:
    field = "region_id" if HEAD_OF_SERVICE in principal.roles else "team_id"
    check_reaches(principal, Place(body.team_id, body.region_id), field=field)
    handlers.register_practitioner(
        **body.model_dump(),
        metadata=metadata,
        idempotency=scoped_key(principal, request, idempotency_key),
    )
    return _view(handlers.read(body.practitioner_id))


@router.get(
    "/{practitioner_id}",
    summary="A practitioner, their reductions and available points today",
    responses=PROBLEM_RESPONSES,
)
def read_practitioner(
    practitioner_id: str, principal: CurrentPrincipal, handlers: WorkforceDep
) -> PractitionerView:
    itself = is_self(principal, practitioner_id)
    if not (itself or principal.has_any(MANAGER, HEAD_OF_SERVICE, ADMIN, SERVICE)):
        raise forbidden("practitioners read their own record; operations read aggregates")
    reading = handlers.read(practitioner_id)
    if not itself:
        check_reaches(principal, place_of(reading.practitioner))
    return _view(reading)


@router.put(
    "/{practitioner_id}/contracted-hours",
    summary="Change a practitioner's contracted hours",
    responses=PROBLEM_RESPONSES,
)
def change_contracted_hours(
    practitioner_id: str,
    body: ContractedHoursChange,
    principal: Changer,
    metadata: CommandMetadata,
    handlers: WorkforceDep,
) -> PractitionerView:
    _may_change(handlers, principal, practitioner_id)
    handlers.change_contracted_hours(practitioner_id, body.contracted_hours, metadata)
    return _view(handlers.read(practitioner_id))


@router.post(
    "/{practitioner_id}/reductions",
    status_code=status.HTTP_201_CREATED,
    summary="Record a reduction (active from its first day, scheduled before)",
    responses=PROBLEM_RESPONSES,
)
def start_reduction(
    practitioner_id: str,
    body: ReductionRequest,
    request: Request,
    principal: Changer,
    metadata: CommandMetadata,
    handlers: WorkforceDep,
    idempotency_key: IdempotencyKey = None,
) -> PractitionerView:
    _may_change(handlers, principal, practitioner_id)
    handlers.start_reduction(
        practitioner_id=practitioner_id,
        reduction_id=body.reduction_id or str(uuid4()),
        reason=body.reason,
        hours=body.hours,
        percent=body.percent,
        effective_from=body.effective_from,
        effective_to=body.effective_to,
        metadata=metadata,
        idempotency=scoped_key(principal, request, idempotency_key),
    )
    return _view(handlers.read(practitioner_id))


@router.delete(
    "/{practitioner_id}/reductions/{reduction_id}",
    summary="End an active reduction today, or withdraw a scheduled one",
    responses=PROBLEM_RESPONSES,
)
def end_reduction(
    practitioner_id: str,
    reduction_id: str,
    principal: Changer,
    metadata: CommandMetadata,
    handlers: WorkforceDep,
) -> PractitionerView:
    _may_change(handlers, principal, practitioner_id)
    handlers.end_reduction(practitioner_id, reduction_id, metadata)
    return _view(handlers.read(practitioner_id))


@router.post(
    "/{practitioner_id}/leaving",
    summary="Record that a practitioner leaves (notice may be given ahead)",
    responses=PROBLEM_RESPONSES,
)
def record_leaving(
    practitioner_id: str,
    body: Leaving,
    principal: Changer,
    metadata: CommandMetadata,
    handlers: WorkforceDep,
) -> PractitionerView:
    _may_change(handlers, principal, practitioner_id)
    handlers.record_leaving(practitioner_id, body.leaving_date, metadata)
    return _view(handlers.read(practitioner_id))


def refusal_problem(refusal: AllocationRefused) -> Problem:
    """A domain refusal as problem details: its status and kind, and the field at fault."""
    return Problem(
        refusal.status,
        refusal.title,
        refusal.reason,
        kind=refusal.kind,
        invalid_params=None
        if refusal.field is None
        else [InvalidParam(name=refusal.field, reason=refusal.reason)],
    )
