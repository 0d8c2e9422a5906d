"""A team's working time: an ISO week and the rolling averages, pooled, with a row per member.

Who may (see `deps`): a manager of the team, the head of service of its region, admins and
services, each with a row per member (name and id); ops the team's figures only, without
names or ids. A team is those in post in it on the last day read. A team placements has
never seen: 404 to admins, services and ops, 403 to anyone else.
"""

from decimal import Decimal

from fastapi import APIRouter
from plimsoll_platform.access import Caller, Place
from plimsoll_platform.placements import Placements
from plimsoll_platform.roles import Role
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_timesheet.api.deps import TEAM_READ, PlacementsDep, QueriesDep, TeamId, TeamReader
from plimsoll_timesheet.api.figures import (
    AverageView,
    Until,
    WeekFiguresView,
    WeekInPath,
    WeekText,
    iso_week,
)
from plimsoll_timesheet.domain import (
    CONTRACT_WINDOW_WEEKS,
    REFERENCE_PERIOD_WEEKS,
    IsoWeek,
    TeamAverage,
    team_average,
    window,
)
from plimsoll_timesheet.domain.errors import NotFound
from plimsoll_timesheet.queries import Reading

router = APIRouter(prefix="/teams/{team_id}", tags=["working time"])


class TeamAverageView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    practitioners: int
    weeks_counted: int
    counted_minutes: int
    contracted_minutes: int
    average_minutes: Decimal | None = Field(description="Σ counted / Σ weeks counted")
    contracted_average_minutes: Decimal | None
    above_contract: int = Field(description="Practitioners above their contract on average")
    above_48_hours: int = Field(description="Above 48 hours on average, the limit applying")
    opted_out: int


class MemberWorkingTime(BaseModel):
    practitioner_id: str
    name: str | None
    four_weeks: AverageView
    seventeen_weeks: AverageView
    toil_balance_minutes: int


class TeamWorkingTimeView(BaseModel):
    team_id: str
    last_week: WeekText
    four_weeks: TeamAverageView
    seventeen_weeks: TeamAverageView
    members: list[MemberWorkingTime] | None = Field(description="Null for ops: figures only")


class MemberWeek(BaseModel):
    practitioner_id: str
    name: str | None
    figures: WeekFiguresView
    toil_balance_minutes: int


class TeamWeekView(BaseModel):
    team_id: str
    week: WeekText
    practitioners: int
    minutes_by_category: dict[str, int]
    worked_minutes: int
    overtime_minutes: int
    leave_minutes: int
    toil_leave_minutes: int
    contracted_minutes: int
    counted_minutes: int
    members: list[MemberWeek] | None = Field(description="Null for ops: figures only")


def _named(caller: Caller, placements: Placements, team_id: str) -> bool:
    """Whether the caller sees names; refuses a caller outside scope, 404 for no such team
    to those who would see it anyway."""
    region = placements.team_region(team_id)
    if region is None and (caller.everywhere or Role.OPS in caller.principal.roles):
        raise NotFound(f"no team {team_id!r} in placements", field="team_id")
    return caller.named_figures(Place(team_id, region))


def _pooled(readings: list[Reading], weeks: int) -> TeamAverageView:
    pooled: TeamAverage = team_average([r.average(weeks) for r in readings])
    return TeamAverageView.model_validate(pooled)


@router.get(
    "/working-time",
    summary="A team's rolling 4- and 17-week averages, pooled, with a row per member",
    responses=TEAM_READ,
)
def read_team_working_time(
    team_id: TeamId,
    caller: TeamReader,
    queries: QueriesDep,
    placements: PlacementsDep,
    until: Until = None,
) -> TeamWorkingTimeView:
    last = iso_week(until, placements.clock.today(), "until")
    named = _named(caller, placements, team_id)
    readings = queries.team(team_id, window(last, REFERENCE_PERIOD_WEEKS))
    if named:
        caller.served(*(r.practitioner_id for r in readings))  # the access log
    members = [
        MemberWorkingTime(
            practitioner_id=r.practitioner_id,
            name=r.name,
            four_weeks=AverageView.model_validate(r.four_weeks),
            seventeen_weeks=AverageView.model_validate(r.seventeen_weeks),
            toil_balance_minutes=r.toil_balance_minutes,
        )
        for r in readings
    ]
    return TeamWorkingTimeView(
        team_id=team_id,
        last_week=str(last),
        four_weeks=_pooled(readings, CONTRACT_WINDOW_WEEKS),
        seventeen_weeks=_pooled(readings, REFERENCE_PERIOD_WEEKS),
        members=members if named else None,
    )


@router.get(
    "/weeks/{week}", summary="A team's ISO week, with a row per member", responses=TEAM_READ
)
def read_team_week(
    team_id: TeamId,
    week: WeekInPath,
    caller: TeamReader,
    queries: QueriesDep,
    placements: PlacementsDep,
) -> TeamWeekView:
    wanted: IsoWeek = iso_week(week, placements.clock.today(), "week")
    named = _named(caller, placements, team_id)
    readings = queries.team(team_id, [wanted])
    if named:
        caller.served(*(r.practitioner_id for r in readings))  # the access log
    figures = [r.weeks[-1] for r in readings]
    by_category: dict[str, int] = {}
    for one in figures:
        for category, minutes in one.minutes_by_category.items():
            by_category[category] = by_category.get(category, 0) + minutes
    members = [
        MemberWeek(
            practitioner_id=r.practitioner_id,
            name=r.name,
            figures=WeekFiguresView.model_validate(r.weeks[-1]),
            toil_balance_minutes=r.toil_balance_minutes,
        )
        for r in readings
    ]
    return TeamWeekView(
        team_id=team_id,
        week=str(wanted),
        practitioners=len(readings),
        minutes_by_category=dict(sorted(by_category.items())),
        worked_minutes=sum(f.worked_minutes for f in figures),
        overtime_minutes=sum(f.overtime_minutes for f in figures),
        leave_minutes=sum(f.leave_minutes for f in figures),
        toil_leave_minutes=sum(f.toil_leave_minutes for f in figures),
        contracted_minutes=sum(f.contracted_minutes for f in figures),
        counted_minutes=sum(f.counted_minutes for f in figures),
        members=members if named else None,
    )
