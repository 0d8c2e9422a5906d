"""Capacity: a practitioner's caseload, capacity and impact preview; a team's and a region's.

Who may (see `deps`): a practitioner's caseload and capacity, the practitioner
themself and whoever reaches their team; the impact preview, whoever reaches
both the practitioner and the case (a case outside the caller's scope is
refused as an unknown one is: its points are not shown).
A team's capacity: whoever reaches the team, with a row per practitioner; ops,
the figures only (no names, no ids). A region's: its head of service, admins
and services, with a row per team; ops, the figures only. A team's or region's
capacity is Σ points / Σ available points of those in post today, not a mean
of percentages. Points are integers; percents go out as JSON strings.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from plimsoll_events.types.fields import Identifier
from plimsoll_platform.access import Place
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_allocation.api.deps import (
    IMPACT_READ,
    PRACTITIONER_READ,
    READ,
    CaseChanger,
    PractitionerId,
    QueriesDep,
    Reader,
    RegionId,
    RegionReader,
    TeamId,
    TeamReader,
    case_place,
    practitioner_reached,
    read_from,
)

router = APIRouter(tags=["capacity"])


# Answers.


class PreviewFields(BaseModel):
    """A practitioner's capacity before and after taking a case (`domain.ImpactPreview`)."""

    model_config = ConfigDict(from_attributes=True)

    available_points: int = read_from("preview", "available_points")
    points_before: int = read_from("preview", "points_before")
    points_after: int = read_from("preview", "points_after")
    capacity_before_percent: Decimal = read_from("preview", "capacity_before_percent")
    capacity_after_percent: Decimal = read_from("preview", "capacity_after_percent")


class ImpactView(PreviewFields):
    practitioner_id: str
    case_id: str
    case_points: int = read_from("preview", "case_points")
    needs_override_reason: bool
    needs_head_of_service: bool


class CaseloadCase(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    team_id: str
    case_type: str
    tier: str | None
    stage: str | None
    points: int
    opened_on: date


class CaseloadView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    practitioner_id: str
    cases: list[CaseloadCase]
    total_points: int
    as_of: date


class Workload(BaseModel):
    """Points, available points and capacity (`domain.Workload`)."""

    model_config = ConfigDict(from_attributes=True)

    total_points: int
    available_points: int
    capacity_percent: Decimal = Field(description="As WMT shows it, e.g. 60.4")


class CapacityView(Workload):
    practitioner_id: str
    as_of: date


class TeamMemberCapacity(Workload):
    practitioner_id: str
    name: str


class Figures(Workload):
    """Σ points / Σ available points of those in post, and how many they are."""

    practitioner_count: int


class TeamFigures(Figures):
    team_id: str


class TeamCapacityView(TeamFigures):
    practitioners: list[TeamMemberCapacity] | None = Field(
        description="Per practitioner; null for ops, who see aggregates only"
    )
    as_of: date


class RegionCapacityView(Figures):
    region_id: str
    teams: list[TeamFigures] | None = Field(description="Per team; null for ops")
    as_of: date


# Routes.


@router.get(
    "/practitioners/{practitioner_id}/caseload",
    summary="The open cases a practitioner carries and their points",
    responses=PRACTITIONER_READ,
)
def read_caseload(
    practitioner_id: PractitionerId, caller: Reader, queries: QueriesDep
) -> CaseloadView:
    reading = practitioner_reached(queries, caller, practitioner_id)
    return CaseloadView.model_validate(queries.caseload_of(reading))


@router.get(
    "/practitioners/{practitioner_id}/capacity",
    summary="A practitioner's points, available points and capacity, as WMT computes them",
    responses=PRACTITIONER_READ,
)
def read_capacity(
    practitioner_id: PractitionerId, caller: Reader, queries: QueriesDep
) -> CapacityView:
    reading = practitioner_reached(queries, caller, practitioner_id)
    return CapacityView.model_validate(queries.capacity_of(reading))


@router.get(
    "/practitioners/{practitioner_id}/impact",
    summary="Impact preview: capacity now and after allocating a case, and what it would need",
    responses=IMPACT_READ,
)
def read_impact(
    practitioner_id: PractitionerId,
    caller: CaseChanger,
    queries: QueriesDep,
    case_id: Annotated[Identifier, Query(description="The case that would be allocated")],
) -> ImpactView:
    reading = practitioner_reached(queries, caller, practitioner_id)
    case = queries.case(case_id)
    caller.check_record(f"case {case_id}", case_place(queries, case), field="case_id")
    assert case is not None  # checked: no such case is a 404 or a 403
    return ImpactView.model_validate(queries.impact_of(reading, case))


@router.get(
    "/teams/{team_id}/capacity",
    summary="A team's capacity: Σ points / Σ available points of those in post",
    responses=READ,
)
def read_team_capacity(
    team_id: TeamId, caller: TeamReader, queries: QueriesDep
) -> TeamCapacityView:
    team = queries.team_capacity(team_id)
    view = TeamCapacityView.model_validate(team)
    if not caller.named_figures(Place(team_id, team.region_id)):
        view.practitioners = None
    return view


@router.get(
    "/regions/{region_id}/capacity",
    summary="A region's capacity: Σ points / Σ available points of those in post",
    responses=READ,
)
def read_region_capacity(
    region_id: RegionId, caller: RegionReader, queries: QueriesDep
) -> RegionCapacityView:
    named = caller.check_region(region_id, field="region_id")
    view = RegionCapacityView.model_validate(queries.region_capacity(region_id))
    if not named:
        view.teams = None
    return view
