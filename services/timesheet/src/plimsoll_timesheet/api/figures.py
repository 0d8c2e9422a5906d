"""A practitioner's working-time figures: an ISO week, and the rolling 4- and 17-week averages.

Who may (see `deps`): the practitioner themself, a manager of their team, the head of
service of their region, admins and services. Read from the store-fed read model (a
read after a write sees it) and placements. Minutes are whole numbers; averages are
exact decimals sent as strings. The rule for the averages is
`plimsoll_platform.working_time`'s: a day counts its work, overtime and leave as
contracted time (TOIL leave excepted), weeks out of post are left out, and the 48-hour
limit does not apply while opted out.
"""

from datetime import date, time
from decimal import Decimal
from typing import Annotated, Final
from uuid import UUID

from fastapi import APIRouter, Path, Query
from plimsoll_platform.problems import InvalidParam, Problem
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from plimsoll_timesheet.api.deps import (
    READ,
    PlacementsDep,
    PractitionerId,
    QueriesDep,
    Reader,
    practitioner_reached,
)
from plimsoll_timesheet.domain import FORTY_EIGHT_HOURS, IsoWeek
from plimsoll_timesheet.queries import Reading

router = APIRouter(prefix="/practitioners/{practitioner_id}", tags=["working time"])

_LONG_YEARS: Final = "|".join(
    str(year) for year in range(1900, 2200) if date(year, 12, 28).isocalendar().week == 53
)
WEEK_PATTERN: Final = (
    rf"^(?:(?:19[0-9]{{2}}|2[01][0-9]{{2}})-W(?:0[1-9]|[1-4][0-9]|5[0-2])|(?:{_LONG_YEARS})-W53)$"
)
"""An ISO week from 1900 to 2199 that exists: week 53 only in the years that have one."""
WeekText = Annotated[str, BeforeValidator(str)]


def iso_week(text: str | None, today: date, name: str) -> IsoWeek:
    """The ISO week named, or today's; 422 naming `name` for a week that does not exist."""
    if text is None:
        return IsoWeek.of(today)
    try:
        return IsoWeek.parse(text)
    except ValueError as error:
        raise Problem(
            422,
            "The request is not valid",
            str(error),
            kind="invalid-request",
            invalid_params=[InvalidParam(name=name, reason=str(error))],
        ) from error


Until = Annotated[
    str | None,
    Query(
        pattern=WEEK_PATTERN,
        description="The last ISO week of the windows, e.g. 2025-W10; default this week",
    ),
]
WeekInPath = Annotated[str, Path(pattern=WEEK_PATTERN, description="An ISO week, e.g. 2025-W10")]


# Answers.


class WeekFiguresView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    week: WeekText
    minutes_by_category: dict[str, int]
    worked_minutes: int = Field(description="Entries as they count now")
    overtime_minutes: int
    leave_minutes: int = Field(description="Leave counted as contracted time (not TOIL leave)")
    toil_leave_minutes: int = Field(description="TOIL taken as leave")
    toil_accrued_minutes: int = Field(description="The days' latest TOIL, summed")
    contracted_minutes: int = Field(description="Contracted days of the week's working days")
    counted_minutes: int = Field(description="What the averages count: work, overtime, leave")
    days_in_post: int


class AverageView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    first_week: WeekText
    last_week: WeekText
    window_weeks: int
    weeks_counted: int = Field(description="Weeks with a day in post: the divisor")
    counted_minutes: int
    contracted_minutes: int
    average_minutes: Decimal | None = Field(description="A week, on average; null: no week")
    average_hours: Decimal | None
    contracted_average_minutes: Decimal | None
    limit_minutes: int = Field(default=FORTY_EIGHT_HOURS, description="48 hours")
    above_contract: bool
    above_48_hours: bool
    opted_out: bool = Field(description="Opted out of the 48-hour limit on the last day")
    limit_applies: bool


class WorkingTimeView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    practitioner_id: str
    four_weeks: AverageView = Field(description="Against contracted hours (Cafcass)")
    seventeen_weeks: AverageView = Field(description="Against 48 hours (Working Time Regs)")
    toil_balance_minutes: int = Field(description="At the end of the last week")
    weeks: list[WeekFiguresView] = Field(description="The 17 weeks, oldest first")


class LeaveInWeek(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    leave_id: str
    kind: str
    first_day: date
    last_day: date
    minutes_per_day: int | None


class EntryInWeek(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_id: UUID
    day: date
    minutes: int
    category: str
    started_at: time | None
    ended_at: time | None
    note: str | None
    on_behalf_reason: str | None
    logged_by: str
    corrected: bool


class WeekView(BaseModel):
    practitioner_id: str
    week: WeekText
    first_day: date
    last_day: date
    figures: WeekFiguresView
    toil_balance_minutes: int = Field(description="At the end of the week")
    leave: list[LeaveInWeek]
    entries: list[EntryInWeek] = Field(description="Entries that count, in the order logged")


def working_time_view(reading: Reading) -> WorkingTimeView:
    return WorkingTimeView.model_validate(reading)


# Routes.


@router.get("/weeks/{week}", summary="An ISO week of a practitioner", responses=READ)
def read_week(
    practitioner_id: PractitionerId,
    week: WeekInPath,
    caller: Reader,
    queries: QueriesDep,
    placements: PlacementsDep,
) -> WeekView:
    wanted = iso_week(week, placements.clock.today(), "week")
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    found = queries.week(practitioner_id, wanted, practitioner.history)
    return WeekView(
        practitioner_id=practitioner_id,
        week=str(wanted),
        first_day=wanted.first_day,
        last_day=wanted.last_day,
        figures=WeekFiguresView.model_validate(found.figures),
        toil_balance_minutes=found.reading.toil_balance_minutes,
        leave=[LeaveInWeek.model_validate(span) for span in found.leave],
        entries=[EntryInWeek.model_validate(entry) for entry in found.entries],
    )


@router.get(
    "/working-time",
    summary="Rolling 4- and 17-week averages against contracted hours and 48 hours",
    responses=READ,
)
def read_working_time(
    practitioner_id: PractitionerId,
    caller: Reader,
    queries: QueriesDep,
    placements: PlacementsDep,
    until: Until = None,
) -> WorkingTimeView:
    last = iso_week(until, placements.clock.today(), "until")
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    return working_time_view(queries.working_time(practitioner_id, last, practitioner.history))
