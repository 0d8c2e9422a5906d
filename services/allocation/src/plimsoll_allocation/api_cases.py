"""The allocation HTTP API, cases part: open, allocate, reallocate, re-tier, re-stage, close;
capacity.

Who may do what (token roles; the scope of each is `access`'s: a manager's
team, a head of service's region, everything for admins and service accounts):

* open, re-tier, re-stage (Cafcass), close a case: a manager of the case's team,
  the head of service of its region, admin, service accounts (a case-management
  system feeding Plimsoll);
* allocate, reallocate: a manager within their own team, or a head of service
  within their region (the domain's `rules.authorise`);
* read a case: whoever may open it, and the practitioner carrying it;
* a practitioner's caseload and capacity: the practitioner themself, a manager
  of their team, the head of service of their region, admin, service accounts;
  the impact preview: the same but the practitioner;
* a team's capacity: managers of that team, the head of service of its region,
  admin and service accounts, with a row per practitioner; ops, the team's
  figures only (no names, no ids).

Refusals are `AllocationRefused` problems naming the field, and record nothing.
Points are integers; capacity percents go out as JSON strings (decimals, exact).
"""

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from plimsoll_platform.auth import CurrentPrincipal, Principal, require_roles
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, Field

from plimsoll_allocation.access import (
    ADMIN,
    EVERYWHERE,
    HEAD_OF_SERVICE,
    MANAGER,
    OPS,
    PRACTITIONER,
    SERVICE,
    Place,
    actor,
    check_reaches,
    forbidden,
    is_self,
    reaches,
)
from plimsoll_allocation.api import (
    PROBLEM_RESPONSES,
    IdempotencyKey,
    StrictBody,
    place_of,
    scoped_key,
)
from plimsoll_allocation.domain import Case, CaseProfile, pooled
from plimsoll_allocation.handlers import Allocated, Cases
from plimsoll_allocation.projections import CaseRow

_CASE_CHANGERS = (MANAGER, HEAD_OF_SERVICE, ADMIN, SERVICE)
_ALLOCATORS = (MANAGER, HEAD_OF_SERVICE)

cases_router = APIRouter(prefix="/cases", tags=["cases"])
capacity_router = APIRouter(tags=["capacity"])


def cases(request: Request) -> Cases:
    handlers: Cases = request.app.state.cases
    return handlers


CasesDep = Annotated[Cases, Depends(cases)]
CaseChanger = Annotated[Principal, Depends(require_roles(*_CASE_CHANGERS))]
Allocator = Annotated[Principal, Depends(require_roles(*_ALLOCATORS))]


# Bodies.


class CaseOpening(StrictBody):
    case_id: str = Field(description="e.g. the probation CRN")
    team_id: str
    case_type: str = Field(
        description="community, custody, licence, standard-court-report, fast-court-report; "
        "or a Cafcass case type (private-law, public-law, adoption)"
    )
    tier: str | None = Field(default=None, description="Probation: A3..D0, with S if unsupervised")
    t2a: bool = Field(default=False, description="Probation: weighted as transition to adulthood")
    stage: str | None = Field(default=None, description="Cafcass: e.g. section-7-report")
    opened_on: date | None = Field(default=None, description="Today if absent")


class Allocation(StrictBody):
    practitioner_id: str
    reason: str = Field(default="INITIAL_ALLOCATION", description="An HMPPS allocation reason")
    override_reason: str | None = Field(
        default=None, description="Required above the override threshold (100%)"
    )


class Reallocation(StrictBody):
    practitioner_id: str
    reason: str = Field(description="An HMPPS reallocation reason")
    note: str | None = Field(default=None, description="Required for OTHER")
    override_reason: str | None = Field(
        default=None, description="Required above the override threshold (100%)"
    )


class TierChange(StrictBody):
    tier: str | None = Field(description="A3..D0 (S if unsupervised), or null: untiered")


class StageChange(StrictBody):
    stage: str = Field(description="Cafcass: the stage the case moves to, e.g. section-7-report")


class Closure(StrictBody):
    closed_on: date


# Answers.


class CaseView(BaseModel):
    case_id: str
    team_id: str
    case_type: str
    tier: str | None
    t2a: bool
    stage: str | None
    points: int
    weighting_scheme: str
    weighting_scheme_version: int
    practitioner_id: str | None
    opened_on: date
    closed_on: date | None


class AllocationView(BaseModel):
    case: CaseView
    practitioner_id: str
    available_points: int
    points_before: int
    points_after: int
    capacity_before_percent: Decimal
    capacity_after_percent: Decimal
    override_recorded: bool = Field(description="allocation-override-recorded was recorded")


class CaseloadCase(BaseModel):
    case_id: str
    team_id: str
    case_type: str
    tier: str | None
    stage: str | None
    points: int
    opened_on: date


class CaseloadView(BaseModel):
    practitioner_id: str
    cases: list[CaseloadCase]
    total_points: int
    as_of: date


class CapacityView(BaseModel):
    practitioner_id: str
    total_points: int
    available_points: int
    capacity_percent: Decimal = Field(description="As WMT shows it, e.g. 60.4")
    as_of: date


class ImpactView(BaseModel):
    practitioner_id: str
    case_id: str
    case_points: int
    available_points: int
    points_before: int
    points_after: int
    capacity_before_percent: Decimal
    capacity_after_percent: Decimal
    needs_override_reason: bool
    needs_head_of_service: bool


class TeamMemberCapacity(BaseModel):
    practitioner_id: str
    name: str
    total_points: int
    available_points: int
    capacity_percent: Decimal


class TeamCapacityView(BaseModel):
    team_id: str
    total_points: int
    available_points: int
    capacity_percent: Decimal = Field(description="Σ points / Σ available points, not a mean")
    practitioner_count: int
    practitioners: list[TeamMemberCapacity] | None = Field(
        description="Per practitioner; null for ops, who see aggregates only"
    )
    as_of: date


def _case_view(case: Case) -> CaseView:
    return CaseView(
        case_id=case.case_id,
        team_id=case.team_id,
        case_type=case.profile.case_type,
        tier=case.profile.tier,
        t2a=case.profile.t2a,
        stage=case.profile.stage,
        points=case.points,
        weighting_scheme=case.scheme_name,
        weighting_scheme_version=case.scheme_version,
        practitioner_id=case.practitioner_id if case.is_open else None,
        opened_on=case.opened_on,
        closed_on=case.closed_on,
    )


def _allocation_view(allocated: Allocated) -> AllocationView:
    preview = allocated.preview
    assert allocated.case.practitioner_id is not None  # it was just allocated
    return AllocationView(
        case=_case_view(allocated.case),
        practitioner_id=allocated.case.practitioner_id,
        available_points=preview.available_points,
        points_before=preview.points_before,
        points_after=preview.points_after,
        capacity_before_percent=preview.capacity_before_percent,
        capacity_after_percent=preview.capacity_after_percent,
        override_recorded=allocated.override_recorded,
    )


def _caseload_case(row: CaseRow) -> CaseloadCase:
    return CaseloadCase(
        case_id=row.case_id,
        team_id=row.team_id,
        case_type=row.case_type,
        tier=row.tier,
        stage=row.stage,
        points=row.points,
        opened_on=row.opened_on,
    )


# Scope.


def team_place(handlers: Cases, team_id: str) -> Place:
    return Place(team_id, handlers.caseload.team_region(team_id))


def _reads_as_self(
    principal: Principal, practitioner_id: str, *, self_allowed: bool = True
) -> bool:
    """Whether the caller reads as the practitioner themself; else they need a role with a
    scope, which `check_reaches` then checks against the practitioner's record."""
    if self_allowed and is_self(principal, practitioner_id):
        return True
    if not principal.has_any(MANAGER, HEAD_OF_SERVICE, *EVERYWHERE):
        raise forbidden("practitioners read their own caseload; operations read team aggregates")
    return False


def _may_change_case(handlers: Cases, principal: Principal, case_id: str) -> None:
    check_reaches(principal, team_place(handlers, handlers.read_case(case_id).case.team_id))


# Case routes.


@cases_router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Open a case", responses=PROBLEM_RESPONSES
)
def open_case(
    body: CaseOpening,
    request: Request,
    principal: CaseChanger,
    metadata: CommandMetadata,
    handlers: CasesDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseView:
    check_reaches(principal, team_place(handlers, body.team_id), field="team_id")
    handlers.open_case(
        case_id=body.case_id,
        team_id=body.team_id,
        profile=CaseProfile(
            case_type=body.case_type, tier=body.tier, t2a=body.t2a, stage=body.stage
        ),
        opened_on=body.opened_on,
        metadata=metadata,
        idempotency=scoped_key(principal, request, idempotency_key),
    )
    return _case_view(handlers.read_case(body.case_id).case)


@cases_router.get("/{case_id}", summary="A case, its weighting and who carries it")
def read_case(case_id: str, principal: CurrentPrincipal, handlers: CasesDep) -> CaseView:
    if not principal.has_any(*_CASE_CHANGERS, PRACTITIONER):
        raise forbidden("cases are read by managers, heads of service and who carries them")
    case = handlers.read_case(case_id).case
    if case.practitioner_id is not None and is_self(principal, case.practitioner_id):
        return _case_view(case)
    if not principal.has_any(*_CASE_CHANGERS):
        raise forbidden("a practitioner reads only the cases they carry")
    check_reaches(principal, team_place(handlers, case.team_id))
    return _case_view(case)


@cases_router.post(
    "/{case_id}/allocation",
    status_code=status.HTTP_201_CREATED,
    summary="Allocate an unallocated case (above 100% with a written reason; 120%: head only)",
    responses=PROBLEM_RESPONSES,
)
def allocate_case(
    case_id: str,
    body: Allocation,
    principal: Allocator,
    metadata: CommandMetadata,
    handlers: CasesDep,
) -> AllocationView:
    allocated = handlers.allocate_case(
        case_id=case_id,
        practitioner_id=body.practitioner_id,
        actor=actor(principal),
        reason=body.reason,
        override_reason=body.override_reason,
        metadata=metadata,
    )
    return _allocation_view(allocated)


@cases_router.post(
    "/{case_id}/reallocation",
    status_code=status.HTTP_201_CREATED,
    summary="Move an allocated case to another practitioner",
    responses=PROBLEM_RESPONSES,
)
def reallocate_case(
    case_id: str,
    body: Reallocation,
    principal: Allocator,
    metadata: CommandMetadata,
    handlers: CasesDep,
) -> AllocationView:
    allocated = handlers.reallocate_case(
        case_id=case_id,
        practitioner_id=body.practitioner_id,
        actor=actor(principal),
        reason=body.reason,
        note=body.note,
        override_reason=body.override_reason,
        metadata=metadata,
    )
    return _allocation_view(allocated)


@cases_router.put(
    "/{case_id}/tier", summary="Re-tier a probation case", responses=PROBLEM_RESPONSES
)
def change_tier(
    case_id: str,
    body: TierChange,
    principal: CaseChanger,
    metadata: CommandMetadata,
    handlers: CasesDep,
) -> CaseView:
    _may_change_case(handlers, principal, case_id)
    handlers.change_tier(case_id, body.tier, metadata)
    return _case_view(handlers.read_case(case_id).case)


@cases_router.put(
    "/{case_id}/stage", summary="Move a Cafcass case to another stage", responses=PROBLEM_RESPONSES
)
def change_stage(
    case_id: str,
    body: StageChange,
    principal: CaseChanger,
    metadata: CommandMetadata,
    handlers: CasesDep,
) -> CaseView:
    _may_change_case(handlers, principal, case_id)
    handlers.change_stage(case_id, body.stage, metadata)
    return _case_view(handlers.read_case(case_id).case)


@cases_router.post(
    "/{case_id}/closure",
    summary="Close a case: it leaves whoever carries it",
    responses=PROBLEM_RESPONSES,
)
def close_case(
    case_id: str,
    body: Closure,
    principal: CaseChanger,
    metadata: CommandMetadata,
    handlers: CasesDep,
) -> CaseView:
    _may_change_case(handlers, principal, case_id)
    handlers.close_case(case_id, body.closed_on, metadata)
    return _case_view(handlers.read_case(case_id).case)


# Capacity routes.


@capacity_router.get(
    "/practitioners/{practitioner_id}/caseload",
    summary="The open cases a practitioner carries and their points",
    responses=PROBLEM_RESPONSES,
)
def read_caseload(
    practitioner_id: str, principal: CurrentPrincipal, handlers: CasesDep
) -> CaseloadView:
    itself = _reads_as_self(principal, practitioner_id)
    reading, rows = handlers.caseload_of(practitioner_id)
    if not itself:
        check_reaches(principal, place_of(reading.practitioner))
    return CaseloadView(
        practitioner_id=practitioner_id,
        cases=[_caseload_case(row) for row in rows],
        total_points=sum(row.points for row in rows),
        as_of=reading.today,
    )


@capacity_router.get(
    "/practitioners/{practitioner_id}/capacity",
    summary="A practitioner's points, available points and capacity, as WMT computes them",
    responses=PROBLEM_RESPONSES,
)
def read_capacity(
    practitioner_id: str, principal: CurrentPrincipal, handlers: CasesDep
) -> CapacityView:
    itself = _reads_as_self(principal, practitioner_id)
    reading, workload = handlers.capacity_of(practitioner_id)
    if not itself:
        check_reaches(principal, place_of(reading.practitioner))
    return CapacityView(
        practitioner_id=practitioner_id,
        total_points=workload.total_points,
        available_points=workload.available_points,
        capacity_percent=workload.capacity_percent,
        as_of=reading.today,
    )


@capacity_router.get(
    "/practitioners/{practitioner_id}/impact",
    summary="Impact preview: capacity now and after allocating a case, and what it would need",
    responses=PROBLEM_RESPONSES,
)
def read_impact(
    practitioner_id: str, case_id: str, principal: CurrentPrincipal, handlers: CasesDep
) -> ImpactView:
    _reads_as_self(principal, practitioner_id, self_allowed=False)
    reading = handlers.workforce.read(practitioner_id)
    check_reaches(principal, place_of(reading.practitioner))
    assessment = handlers.impact_of(reading, case_id)
    preview = assessment.preview
    return ImpactView(
        practitioner_id=practitioner_id,
        case_id=case_id,
        case_points=preview.case_points,
        available_points=preview.available_points,
        points_before=preview.points_before,
        points_after=preview.points_after,
        capacity_before_percent=preview.capacity_before_percent,
        capacity_after_percent=preview.capacity_after_percent,
        needs_override_reason=assessment.needs_reason,
        needs_head_of_service=assessment.needs_head_of_service,
    )


@capacity_router.get(
    "/teams/{team_id}/capacity",
    summary="A team's capacity: Σ points / Σ available points of those in post",
    responses=PROBLEM_RESPONSES,
)
def read_team_capacity(
    team_id: str, principal: CurrentPrincipal, handlers: CasesDep
) -> TeamCapacityView:
    team = handlers.team_capacity(team_id)
    place = Place(team_id, team.region_id)
    named = reaches(principal, place)
    if not named and OPS not in principal.roles:
        check_reaches(principal, place)  # says why: outside their scope, or not their role
    members = team.members
    whole = pooled(workload for _, workload in members)
    return TeamCapacityView(
        team_id=team_id,
        total_points=whole.total_points,
        available_points=whole.available_points,
        capacity_percent=whole.capacity_percent,
        practitioner_count=len(members),
        practitioners=[
            TeamMemberCapacity(
                practitioner_id=member.practitioner_id,
                name=member.name,
                total_points=workload.total_points,
                available_points=workload.available_points,
                capacity_percent=workload.capacity_percent,
            )
            for member, workload in members
        ]
        if named
        else None,
        as_of=handlers.today(),
    )
