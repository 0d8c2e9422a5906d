"""Duty-of-care views: a practitioner's, a team's, a region's, now or as of a past instant; and
the clock of the time-driven rules, run on demand."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from plimsoll_events.types.fields import Identifier, Instant
from plimsoll_events.types.wellbeing import BreachRule
from plimsoll_platform.access import Place
from plimsoll_platform.api import problem_responses
from plimsoll_platform.roles import Role
from pydantic import BaseModel

from plimsoll_wellbeing.api.deps import (
    AS_OF,
    DutyDep,
    PlacementsDep,
    RecorderDep,
    RegionViewer,
    SweepRunner,
    TeamReader,
    TeamViewer,
    TimeDep,
    reach_practitioner,
)
from plimsoll_wellbeing.domain.errors import NotFound, NotPermitted

router = APIRouter(tags=["duty of care"])

AsOf = Annotated[Instant | None, Query(description=AS_OF)]
NOT_FOUND = {404: "No such practitioner, or nothing known of them at that instant"}


class CapacityFigures(BaseModel):
    capacity_percent: str
    total_points: int
    available_points: int
    status: Literal["green", "amber", "red"]
    amber_since: datetime | None
    red_since: datetime | None
    figure_recorded_at: datetime
    capacity_event_id: str
    allocation_cause_type: str | None


class WeekHours(BaseModel):
    week: str
    worked_minutes: int
    overtime_minutes: int
    leave_minutes: int
    counted_minutes: int
    contracted_minutes: int
    days_in_post: int


class AverageWindow(BaseModel):
    first_week: str
    last_week: str
    weeks_counted: int
    counted_minutes: int
    contracted_minutes: int
    average_hours: str | None
    contracted_average_hours: str | None


class AverageHours(BaseModel):
    """The policy's window ending with the last complete week, and with this week so far."""

    weeks: int
    complete_weeks: AverageWindow
    including_this_week: AverageWindow
    above: list[str]


class WorkingTime(AverageHours):
    limit_hours: int
    opted_out: bool


class ShortRest(BaseModel):
    day: date
    rest_minutes: int
    ended_at: datetime
    started_at: datetime


class Rest(BaseModel):
    threshold_hours: int
    days: int
    shortest_rest_minutes: int | None
    short_rests: list[ShortRest]


class SupervisionFigures(BaseModel):
    last_held_on: date | None
    days_since_last: int | None
    due_by: date
    overdue: bool
    next_scheduled_on: date | None
    interval_days: int


class DeclarationFigures(BaseModel):
    declaration_id: str
    declared_on: date
    answer_due_by: date
    status: str
    answered: bool
    age_days: int
    overdue: bool


class ReviewFigures(BaseModel):
    assessment_id: str
    review_on: date
    overdue: bool


class ConditionView(BaseModel):
    rule: BreachRule
    holds: bool
    since: datetime | None
    facts: dict[str, Any]


class BreachSummary(BaseModel):
    breach_id: str
    rule: BreachRule
    status: Literal["open", "resolved"]
    opened_at: datetime
    breached_since: datetime
    level: str | None
    policy_version: int
    acknowledged: bool
    age_days: float


class PractitionerDuty(BaseModel):
    """A practitioner's duty of care at `as_of`: every figure the rules judge, each rule's
    condition under the policy in force then, and their breaches."""

    practitioner_id: str
    name: str
    grade: str
    team_id: str
    region_id: str
    in_post: bool
    line_manager_id: str | None
    as_of: datetime
    policy_version: int
    capacity: CapacityFigures | None
    weeks: list[WeekHours]
    average_hours: AverageHours | None
    working_time: WorkingTime | None
    rest: Rest | None
    supervision: SupervisionFigures
    declarations: list[DeclarationFigures]
    reviews: list[ReviewFigures]
    conditions: list[ConditionView]
    breaches: list[BreachSummary]


class MemberDuty(BaseModel):
    practitioner_id: str
    name: str
    grade: str
    capacity_percent: str | None
    capacity_status: str | None
    average_hours: str | None
    contracted_average_hours: str | None
    working_time_average_hours: str | None
    shortest_rest_minutes: int | None
    last_supervision_on: date | None
    supervision_due_by: date
    supervision_overdue: bool
    open_declarations: int
    oldest_declaration_days: int | None
    reviews_due: int
    rules_holding: list[BreachRule]
    open_breaches: int


class DutyFigures(BaseModel):
    practitioners: int
    rules_holding: dict[str, int]
    """How many practitioners each rule holds for."""
    supervision_overdue: int
    open_declarations: int
    reviews_due: int
    open_breaches: int


class TeamState(BaseModel):
    capacity: dict[str, Any] | None
    """Team capacity as allocation publishes it (Σ points / Σ available points)."""
    full: dict[str, Any] | None
    """The declaration of the team as full, while it stands."""
    supervisors: list[dict[str, Any]]
    staff_in_post: int | None
    rules_holding: list[BreachRule]


class TeamDuty(BaseModel):
    team_id: str
    as_of: datetime
    team: TeamState | None
    figures: DutyFigures
    practitioners: list[MemberDuty] | None
    """One row per practitioner in post; null for ops (figures only)."""


class TeamRow(BaseModel):
    team_id: str
    team: TeamState | None
    figures: DutyFigures


class RegionFigures(DutyFigures):
    teams: int
    teams_full: int


class RegionDuty(BaseModel):
    region_id: str
    as_of: datetime
    figures: RegionFigures
    teams: list[TeamRow] | None
    """One row per team; null for ops (the region's figures only)."""


def _json(view: BaseModel) -> Response:
    return Response(view.model_dump_json(), media_type="application/json")


@router.get(
    "/practitioners/{practitioner_id}/duty-of-care",
    response_model=PractitionerDuty,
    responses=problem_responses(NOT_FOUND),
    summary="A practitioner's duty of care: capacity, hours, rest, supervision, declarations, "
    "reviews, each rule judged, breaches; now or as of a past instant",
)
def practitioner_duty(
    practitioner_id: Identifier,
    caller: TeamReader,
    placements: PlacementsDep,
    duty: DutyDep,
    as_of: AsOf = None,
) -> Response:
    reach_practitioner(caller, placements, practitioner_id)
    duty.check_as_of(as_of, subjects=[practitioner_id])
    view = duty.practitioner(practitioner_id, as_of)
    if view is None:
        raise NotFound(f"duty of care knows nothing of {practitioner_id} yet", field=None)
    return _json(PractitionerDuty.model_validate(view))


@router.get(
    "/teams/{team_id}/duty-of-care",
    response_model=TeamDuty,
    responses=problem_responses(),
    summary="A team's duty of care: its capacity, fullness and supervisor ratio, and a row per "
    "practitioner in post (ops: the figures only); now or as of a past instant",
)
def team_duty(
    team_id: Identifier,
    caller: TeamViewer,
    placements: PlacementsDep,
    duty: DutyDep,
    time: TimeDep,
    as_of: AsOf = None,
) -> Response:
    members = placements.team_members(team_id, time.today())
    region = members[0].region_id if members else placements.team_region(team_id)
    named = caller.named_figures(Place(team_id, region))
    duty.check_as_of(as_of, team_id=team_id)
    view = TeamDuty.model_validate(duty.team(team_id, [m.practitioner_id for m in members], as_of))
    if not named:
        view = view.model_copy(update={"practitioners": None})
    else:  # the access log: whose names and figures this answer shows
        caller.served(*(p.practitioner_id for p in view.practitioners or []))
    return _json(view)


@router.get(
    "/regions/{region_id}/duty-of-care",
    response_model=RegionDuty,
    responses=problem_responses(),
    summary="A region's duty of care: its figures and a row per team (ops: the figures only); "
    "now or as of a past instant",
)
def region_duty(
    region_id: Identifier,
    caller: RegionViewer,
    placements: PlacementsDep,
    duty: DutyDep,
    time: TimeDep,
    as_of: AsOf = None,
) -> Response:
    named = caller.check_region(region_id)
    duty.check_as_of(as_of, region_id=region_id)
    members = [
        (m.practitioner_id, m.team_id) for m in placements.region_members(region_id, time.today())
    ]
    view = RegionDuty.model_validate(duty.region(region_id, members, as_of))
    if not named:
        view = view.model_copy(update={"teams": None})
    return _json(view)


class ClockRun(BaseModel):
    as_of: datetime
    recorded: list[dict[str, Any]]
    """What was recorded: each event's type and breach."""


@router.post(
    "/duty-of-care/run",
    response_model=ClockRun,
    responses=problem_responses(command=True),
    summary="Run the duty-of-care clock now: judge what time alone changed, escalate breaches "
    "past their deadlines",
)
def run_clock(
    caller: SweepRunner,
    recorder: RecorderDep,
    time: TimeDep,
    as_of: Annotated[
        Instant | None,
        Query(
            description="Escalate as of this instant instead of now (admins only: for tests and "
            "the demo; escalations are dated that day). Rules are always judged now: a judgement "
            "in the future would be undone by the next one."
        ),
    ] = None,
) -> ClockRun:
    if as_of is not None and Role.ADMIN not in caller.principal.roles:
        raise NotPermitted("only an admin runs the clock as of another instant", field="as_of")
    now = time.now()
    recorded = [*recorder.run_clock(now), *recorder.escalate_due(as_of or now)]
    return ClockRun(
        as_of=as_of or now,
        recorded=[{"type": e.type, "breach_id": e.data.get("breach_id")} for e in recorded],
    )
