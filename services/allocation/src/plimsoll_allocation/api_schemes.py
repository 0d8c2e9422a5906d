"""The allocation HTTP API, oversight part: weighting schemes, regions and overrides.

Who may do what (token roles; the scope of each is `access`'s):

* read the weighting schemes in force (`GET /weighting-schemes[/{kind}]`): anyone
  signed in (they are what every capacity figure is computed from);
* change one (`PUT /weighting-schemes/{kind}`): admins only, as a scheme holds
  in every region, beyond any head of service's area. The body is the whole
  scheme as `weighting-scheme-changed` carries it, with `version` the one in
  force plus one (else 409). Every open case weighed under that kind of scheme
  is then re-weighed, one `case-weighting-changed` per case whose points
  change; the answer says how many;
* a region's capacity (`GET /regions/{id}/capacity`): its head of service,
  admins and service accounts, with a row per team; ops the region's figures
  only;
* the recorded allocation overrides (`GET /overrides`): admins (any team or
  region), a head of service (their region's), managers (their own team's).
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from plimsoll_events.types.allocation import CafcassWeightingScheme, ProbationWeightingScheme
from plimsoll_platform.auth import CurrentPrincipal, Principal, require_roles
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, Field

from plimsoll_allocation.access import (
    ADMIN,
    EVERYWHERE,
    HEAD_OF_SERVICE,
    MANAGER,
    OPS,
    SERVICE,
    check_region,
    forbidden,
)
from plimsoll_allocation.api import PROBLEM_RESPONSES
from plimsoll_allocation.api_cases import CasesDep
from plimsoll_allocation.domain import OutsideScope, Workload, pooled
from plimsoll_allocation.handlers import Cases

router = APIRouter(tags=["oversight"])

SchemeBody = Annotated[
    ProbationWeightingScheme | CafcassWeightingScheme, Field(discriminator="kind")
]
SchemeChanger = Annotated[Principal, Depends(require_roles(ADMIN))]


# Answers.


class SchemeView(BaseModel):
    kind: str
    stream_version: int = Field(description="Changes recorded so far; 0: the default in force")
    scheme: SchemeBody


class SchemeChangeView(BaseModel):
    kind: str
    scheme: SchemeBody
    cases_examined: int = Field(description="Open cases the new version may weigh otherwise")
    cases_reweighed: int = Field(description="Cases whose points changed (case-weighting-changed)")
    cases_refused: list[str] = Field(
        description="Cases the new version cannot weigh (e.g. a stage it dropped): unchanged"
    )


class TeamFigures(BaseModel):
    team_id: str
    total_points: int
    available_points: int
    capacity_percent: Decimal
    practitioner_count: int


class RegionCapacityView(BaseModel):
    region_id: str
    total_points: int
    available_points: int
    capacity_percent: Decimal = Field(description="Σ points / Σ available points, not a mean")
    practitioner_count: int
    teams: list[TeamFigures] | None = Field(description="Per team; null for ops")
    as_of: date


class OverrideView(BaseModel):
    event_id: str
    recorded_at: datetime
    case_id: str
    practitioner_id: str
    team_id: str
    action: str
    case_points: int
    points_before: int
    points_after: int
    available_points: int
    capacity_before_percent: Decimal
    capacity_after_percent: Decimal
    override_threshold_percent: Decimal
    hard_ceiling_percent: Decimal
    exceeded: str = Field(description="override-threshold or hard-ceiling")
    reason: str
    decided_by: str
    decided_by_role: str


class OverridesView(BaseModel):
    since: date | None
    team_id: str | None
    region_id: str | None
    overrides: list[OverrideView]


# Weighting schemes.


def _scheme_view(handlers: Cases, kind: str) -> SchemeView:
    scheme, stream_version = handlers.workforce.scheme_source.in_force(kind)
    return SchemeView(kind=kind, stream_version=stream_version, scheme=scheme)


@router.get(
    "/weighting-schemes", summary="The weighting schemes in force", responses=PROBLEM_RESPONSES
)
def read_schemes(_: CurrentPrincipal, handlers: CasesDep) -> list[SchemeView]:
    return [_scheme_view(handlers, scheme.kind) for scheme in handlers.schemes]


@router.get(
    "/weighting-schemes/{kind}",
    summary="The weighting scheme of a kind in force (probation, cafcass)",
    responses=PROBLEM_RESPONSES,
)
def read_scheme(kind: str, _: CurrentPrincipal, handlers: CasesDep) -> SchemeView:
    return _scheme_view(handlers, kind)


@router.put(
    "/weighting-schemes/{kind}",
    summary="Bring a new version into force and re-weigh the open cases under it",
    responses=PROBLEM_RESPONSES,
)
def change_scheme(
    kind: str,
    body: SchemeBody,
    principal: SchemeChanger,
    metadata: CommandMetadata,
    handlers: CasesDep,
    reason: Annotated[str | None, Query(description="Why, for the record")] = None,
) -> SchemeChangeView:
    changed = handlers.change_scheme(
        kind,
        body,
        changed_by=principal.username or principal.subject,
        reason=reason,
        metadata=metadata,
    )
    return SchemeChangeView(
        kind=kind,
        scheme=changed.scheme,
        cases_examined=changed.cases_examined,
        cases_reweighed=changed.cases_reweighed,
        cases_refused=changed.cases_refused,
    )


# Regions.


@router.get(
    "/regions/{region_id}/capacity",
    summary="A region's capacity: Σ points / Σ available points of those in post",
    responses=PROBLEM_RESPONSES,
)
def read_region_capacity(
    region_id: str, principal: CurrentPrincipal, handlers: CasesDep
) -> RegionCapacityView:
    if principal.has_any(HEAD_OF_SERVICE, *EVERYWHERE):
        check_region(principal, region_id, field="region_id")
        named = True
    elif OPS in principal.roles:
        named = False
    else:
        raise forbidden("region capacity is read by its head of service, admins and ops")
    members = handlers.region_capacity(region_id)
    by_team: dict[str, list[Workload]] = {}
    for member, workload in members:
        by_team.setdefault(member.team_id, []).append(workload)
    whole = pooled(workload for _, workload in members)
    return RegionCapacityView(
        region_id=region_id,
        total_points=whole.total_points,
        available_points=whole.available_points,
        capacity_percent=whole.capacity_percent,
        practitioner_count=len(members),
        teams=[_team_figures(team_id, team) for team_id, team in by_team.items()]
        if named
        else None,
        as_of=handlers.today(),
    )


def _team_figures(team_id: str, team: list[Workload]) -> TeamFigures:
    whole = pooled(team)
    return TeamFigures(
        team_id=team_id,
        total_points=whole.total_points,
        available_points=whole.available_points,
        capacity_percent=whole.capacity_percent,
        practitioner_count=len(team),
    )


# Overrides.


@router.get(
    "/overrides",
    summary="Allocations above the override threshold: who decided, why, and the capacity",
    responses=PROBLEM_RESPONSES,
)
def read_overrides(
    principal: CurrentPrincipal,
    handlers: CasesDep,
    since: Annotated[date | None, Query(description="Recorded on or after this day")] = None,
    team_id: Annotated[str | None, Query(description="Only this team's")] = None,
    region_id: Annotated[
        str | None, Query(description="Only those given to practitioners of this region")
    ] = None,
) -> OverridesView:
    if ADMIN in principal.roles:
        pass
    elif HEAD_OF_SERVICE in principal.roles:
        if principal.region is None or region_id not in (None, principal.region):
            raise OutsideScope(
                f"a head of service reads only their own region's overrides ({principal.region})",
                field="region_id",
            )
        region_id = principal.region
    elif MANAGER in principal.roles:
        if principal.team is None or team_id not in (None, principal.team):
            raise OutsideScope(
                f"a manager reads only their own team's overrides ({principal.team})",
                field="team_id",
            )
        team_id = principal.team
    else:
        raise forbidden("overrides are read by heads of service, admins and team managers")
    rows = handlers.overrides(since=since, team_id=team_id, region_id=region_id)
    return OverridesView(
        since=since,
        team_id=team_id,
        region_id=region_id,
        overrides=[
            OverrideView(**{k: v for k, v in vars(row).items() if k != "position"}) for row in rows
        ],
    )


class ReconciliationView(BaseModel):
    practitioners_examined: int
    events_recorded: int = Field(description="reduction-started / reduction-ended recorded")


Reconciler = Annotated[Principal, Depends(require_roles(ADMIN, SERVICE))]


@router.post(
    "/reductions/reconciliation",
    summary="Record the reductions that started or ended by today (run daily; safe to repeat)",
    responses=PROBLEM_RESPONSES,
)
def reconcile_reductions(
    _: Reconciler, handlers: CasesDep, metadata: CommandMetadata
) -> ReconciliationView:
    examined, recorded = handlers.reconcile_reductions(metadata)
    return ReconciliationView(practitioners_examined=examined, events_recorded=recorded)
