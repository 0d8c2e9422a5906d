"""Cases: open, read, allocate, reallocate, re-tier, re-stage, close.

Who may (see `deps`): open, re-tier, re-stage and close, a manager of the
case's team, the head of service of its region, admins and services (a
case-management system feeding Plimsoll); read, the same and the practitioner
carrying it. Allocate and reallocate: a manager or a head of service, within
the domain's rules (`domain.rules.authorise`, decided on the practitioner's
facts read under their allocation lock): in their own team or region, a case
crossing only as a transfer in, above 100% with a written reason, above 120%
a head of service only. Points are integers; percents go out as JSON strings.
"""

from datetime import date

from fastapi import APIRouter, status
from plimsoll_events.types.fields import Day, Identifier, Text
from plimsoll_platform.access import Caller, Place
from plimsoll_platform.api import IdempotencyKey, StrictBody
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_allocation.api.capacity import PreviewFields
from plimsoll_allocation.api.deps import (
    ALLOCATION,
    CASE_COMMAND,
    CASE_READ,
    Allocator,
    CaseChanger,
    CaseId,
    CasesDep,
    QueriesDep,
    Reader,
    actor_of,
    case_place,
    read_from,
)
from plimsoll_allocation.domain import (
    AllocateCase,
    Case,
    CaseProfile,
    ChangeStage,
    ChangeTier,
    CloseCase,
    OpenCase,
    ReallocateCase,
)
from plimsoll_allocation.queries import Queries

router = APIRouter(prefix="/cases", tags=["cases"])


# Bodies.


class CaseOpening(StrictBody):
    case_id: Identifier = Field(description="e.g. the probation CRN")
    team_id: Identifier
    case_type: str = Field(
        description="community, custody, licence, standard-court-report, fast-court-report; "
        "or a Cafcass case type (private-law, public-law, adoption)"
    )
    tier: str | None = Field(default=None, description="Probation: A3..D0, with S if unsupervised")
    t2a: bool = Field(default=False, description="Probation: weighted as transition to adulthood")
    stage: str | None = Field(default=None, description="Cafcass: e.g. section-7-report")
    opened_on: Day | None = Field(default=None, description="Today if absent")


class Allocation(StrictBody):
    practitioner_id: Identifier
    reason: str = Field(default="INITIAL_ALLOCATION", description="An HMPPS allocation reason")
    override_reason: Text | None = Field(
        default=None, description="Required above the override threshold (100%)"
    )


class Reallocation(StrictBody):
    practitioner_id: Identifier
    reason: str = Field(description="An HMPPS reallocation reason")
    note: Text | None = Field(default=None, description="Required for OTHER")
    override_reason: Text | None = Field(
        default=None, description="Required above the override threshold (100%)"
    )


class TierChange(StrictBody):
    tier: str | None = Field(description="A3..D0 (S if unsupervised), or null: untiered")


class StageChange(StrictBody):
    stage: str = Field(description="Cafcass: the stage the case moves to, e.g. section-7-report")


class Closure(StrictBody):
    closed_on: Day


# Answers.


class CaseView(BaseModel):
    """A case as its stream says, from `domain.Case`."""

    model_config = ConfigDict(from_attributes=True)

    case_id: str
    team_id: str
    case_type: str = read_from("profile", "case_type")
    tier: str | None = read_from("profile", "tier")
    t2a: bool = read_from("profile", "t2a")
    stage: str | None = read_from("profile", "stage")
    points: int
    weighting_scheme: str = Field(validation_alias="scheme_name")
    weighting_scheme_version: int = Field(validation_alias="scheme_version")
    practitioner_id: str | None = Field(
        validation_alias="held_by", description="Who carries it; null when nobody, or closed"
    )
    opened_on: date
    closed_on: date | None


class AllocationView(PreviewFields):
    """An allocation or reallocation recorded, from `handlers.Allocated`."""

    case: CaseView
    practitioner_id: str = read_from("case", "practitioner_id")
    override_recorded: bool = Field(description="allocation-override-recorded was recorded")


def _case(queries: Queries, caller: Caller, case_id: str, case: Case | None) -> Case:
    """The case read, once the caller is found to reach where it is held."""
    caller.check_record(f"case {case_id}", case_place(queries, case), field="case_id")
    assert case is not None  # checked: no such case is a 404 or a 403
    return case


def _view(queries: Queries, case_id: str) -> CaseView:
    """The case as read after a change the caller was checked for."""
    return CaseView.model_validate(queries.case(case_id))


# Routes.


@router.post("", status_code=status.HTTP_201_CREATED, summary="Open a case", responses=CASE_COMMAND)
def open_case(
    body: CaseOpening,
    caller: CaseChanger,
    metadata: CommandMetadata,
    cases: CasesDep,
    queries: QueriesDep,
    idempotency: IdempotencyKey,
) -> CaseView:
    caller.check_place(Place(body.team_id, queries.team_region(body.team_id)), field="team_id")
    profile = CaseProfile(body.case_type, body.tier, body.t2a, body.stage)
    command = OpenCase(body.case_id, body.team_id, profile, opened_on=body.opened_on)
    cases.open_case(command, metadata, idempotency)
    return _view(queries, body.case_id)


@router.get("/{case_id}", summary="A case, its weighting and who carries it", responses=CASE_READ)
def read_case(case_id: CaseId, caller: Reader, queries: QueriesDep) -> CaseView:
    case = queries.case(case_id)
    carrier = None if case is None else case.practitioner_id
    if carrier is None or not caller.is_practitioner(carrier):
        case = _case(queries, caller, case_id, case)
    return CaseView.model_validate(case)


@router.post(
    "/{case_id}/allocation",
    status_code=status.HTTP_201_CREATED,
    summary="Allocate an unallocated case (above 100% with a written reason; 120%: head only)",
    responses=ALLOCATION,
)
def allocate_case(
    case_id: CaseId,
    body: Allocation,
    caller: Allocator,
    metadata: CommandMetadata,
    cases: CasesDep,
) -> AllocationView:
    command = AllocateCase(case_id, actor=actor_of(caller), **body.model_dump())
    return AllocationView.model_validate(cases.allocate_case(command, metadata))


@router.post(
    "/{case_id}/reallocation",
    status_code=status.HTTP_201_CREATED,
    summary="Move an allocated case to another practitioner",
    responses=ALLOCATION,
)
def reallocate_case(
    case_id: CaseId,
    body: Reallocation,
    caller: Allocator,
    metadata: CommandMetadata,
    cases: CasesDep,
) -> AllocationView:
    command = ReallocateCase(case_id, actor=actor_of(caller), **body.model_dump())
    return AllocationView.model_validate(cases.reallocate_case(command, metadata))


@router.put("/{case_id}/tier", summary="Re-tier a probation case", responses=CASE_COMMAND)
def change_tier(
    case_id: CaseId,
    body: TierChange,
    caller: CaseChanger,
    metadata: CommandMetadata,
    cases: CasesDep,
    queries: QueriesDep,
) -> CaseView:
    _case(queries, caller, case_id, queries.case(case_id))
    cases.change_tier(ChangeTier(case_id, body.tier), metadata)
    return _view(queries, case_id)


@router.put(
    "/{case_id}/stage", summary="Move a Cafcass case to another stage", responses=CASE_COMMAND
)
def change_stage(
    case_id: CaseId,
    body: StageChange,
    caller: CaseChanger,
    metadata: CommandMetadata,
    cases: CasesDep,
    queries: QueriesDep,
) -> CaseView:
    _case(queries, caller, case_id, queries.case(case_id))
    cases.change_stage(ChangeStage(case_id, body.stage), metadata)
    return _view(queries, case_id)


@router.post(
    "/{case_id}/closure",
    summary="Close a case: it leaves whoever carries it",
    responses=CASE_COMMAND,
)
def close_case(
    case_id: CaseId,
    body: Closure,
    caller: CaseChanger,
    metadata: CommandMetadata,
    cases: CasesDep,
    queries: QueriesDep,
) -> CaseView:
    _case(queries, caller, case_id, queries.case(case_id))
    cases.close_case(CloseCase(case_id, body.closed_on), metadata)
    return _view(queries, case_id)
