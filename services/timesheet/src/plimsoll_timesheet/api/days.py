"""A practitioner's days: log time, correct or withdraw an entry, record overtime, read a day.

Who may (see `deps`): the practitioner themself; a manager of their team, admins and
services on their behalf, with `on_behalf_reason` when logging; overtime only the
practitioner (anyone else: 403 `practitioner-only` on `practitioner_id`). Every write
requires an `Idempotency-Key`. Each answer is the day as it now stands, read from its
stream: its entries (an entry's id is its `hours-logged` event's), worked minutes,
overtime and the day's TOIL. A refusal records nothing and names the field.
"""

from collections.abc import Sequence
from datetime import date, time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, status
from plimsoll_events.types.fields import Day, LocalTime, Text
from plimsoll_events.types.timesheet import WorkCategory
from plimsoll_platform.api import StrictBody
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_timesheet.api.deps import (
    DAY_COMMAND,
    READ,
    DayInPath,
    IdempotencyKeyRequired,
    OwnDecision,
    PlacementsDep,
    PractitionerId,
    Reader,
    TimesheetsDep,
    Writer,
    practitioner_reached,
)
from plimsoll_timesheet.domain import CorrectHours, LogHours, RecordOvertime, WithdrawHours
from plimsoll_timesheet.domain import Day as DayState
from plimsoll_timesheet.handlers import DayOutcome

router = APIRouter(prefix="/practitioners/{practitioner_id}", tags=["time worked"])


Minutes = Annotated[int, Field(description="Whole minutes, 1 to 1440")]

# Bodies.


class TimeLogged(StrictBody):
    day: Day = Field(description="The day worked (UK calendar); not after today")
    minutes: Minutes
    category: WorkCategory
    started_at: LocalTime | None = Field(default=None, description="With ended_at, or neither")
    ended_at: LocalTime | None = Field(default=None, description="After started_at, not after now")
    note: Text | None = None
    on_behalf_reason: Text | None = Field(
        default=None, description="Required when logging for someone else; never otherwise"
    )


class Correction(StrictBody):
    """The entry's new values, all of them, and why."""

    minutes: Minutes
    category: WorkCategory
    started_at: LocalTime | None = None
    ended_at: LocalTime | None = None
    note: Text | None = None
    reason: Text


class Withdrawal(StrictBody):
    reason: Text


class Overtime(StrictBody):
    day: Day
    minutes: Minutes
    note: Text | None = None


# Answers.


class EntryView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    entry_id: UUID = Field(description="The id of its hours-logged event")
    minutes: int
    category: str
    started_at: time | None
    ended_at: time | None
    note: str | None
    on_behalf_reason: str | None
    corrected: bool
    withdrawn: bool = Field(description="Withdrawn entries no longer count")


class DayView(BaseModel):
    practitioner_id: str
    day: date
    entries: list[EntryView] = Field(description="In the order logged, withdrawn ones included")
    worked_minutes: int = Field(description="The entries that count (not overtime)")
    overtime_minutes: int
    toil_minutes: int = Field(description="The day's TOIL: work beyond the contracted day")
    contracted_day_minutes: int | None = Field(
        description="Contracted hours / 5 on a working day, 0 on weekends and bank holidays"
    )


class EntryLogged(BaseModel):
    entry_id: UUID
    day: DayView


def day_view(
    practitioner_id: str,
    day: date,
    state: DayState,
    ids: Sequence[UUID],
    contracted: int | None,
) -> DayView:
    entries = state.entries(ids)
    return DayView(
        practitioner_id=practitioner_id,
        day=day,
        entries=[EntryView.model_validate(e) for e in entries],
        worked_minutes=sum(e.minutes for e in entries if not e.withdrawn),
        overtime_minutes=state.overtime_minutes,
        toil_minutes=state.toil_minutes,
        contracted_day_minutes=contracted,
    )


def _answer(practitioner_id: str, day: date, done: DayOutcome) -> DayView:
    return day_view(practitioner_id, day, done.day, done.event_ids, done.contracted_day_minutes)


EntryId = Annotated[UUID, Path(description="The entry: the id of its hours-logged event")]


# Routes.


@router.post(
    "/hours",
    status_code=status.HTTP_201_CREATED,
    summary="Log time worked on a day",
    responses=DAY_COMMAND,
)
def log_hours(
    practitioner_id: PractitionerId,
    body: TimeLogged,
    caller: Writer,
    metadata: CommandMetadata,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
    idempotency: IdempotencyKeyRequired,
) -> EntryLogged:
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    command = LogHours(practitioner_id=practitioner_id, **body.model_dump())
    done = timesheets.log_hours(command, practitioner, metadata, idempotency)
    return EntryLogged(
        entry_id=done.outcome.recorded[0].event_id, day=_answer(practitioner_id, body.day, done)
    )


@router.get("/days/{day}", summary="A day: its entries, overtime and TOIL", responses=READ)
def read_day(
    practitioner_id: PractitionerId,
    day: DayInPath,
    caller: Reader,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
) -> DayView:
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    state, ids = timesheets.read_day(practitioner_id, day)
    placed = None if practitioner.history is None else practitioner.history.on(day)
    contracted = None if placed is None else practitioner.contracted_day(day)
    return day_view(practitioner_id, day, state, ids, contracted)


@router.post(
    "/days/{day}/entries/{entry_id}/correction",
    summary="Correct an entry: all its new values, and why",
    responses=DAY_COMMAND,
)
def correct_hours(
    practitioner_id: PractitionerId,
    day: DayInPath,
    entry_id: EntryId,
    body: Correction,
    caller: Writer,
    metadata: CommandMetadata,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
    idempotency: IdempotencyKeyRequired,
) -> DayView:
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    command = CorrectHours(practitioner_id, day, entry_id, **body.model_dump())
    done = timesheets.correct_hours(command, practitioner, metadata, idempotency)
    return _answer(practitioner_id, day, done)


@router.post(
    "/days/{day}/entries/{entry_id}/withdrawal",
    summary="Withdraw an entry, saying why: it no longer counts",
    responses=DAY_COMMAND,
)
def withdraw_hours(
    practitioner_id: PractitionerId,
    day: DayInPath,
    entry_id: EntryId,
    body: Withdrawal,
    caller: Writer,
    metadata: CommandMetadata,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
    idempotency: IdempotencyKeyRequired,
) -> DayView:
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    command = WithdrawHours(practitioner_id, day, entry_id, body.reason)
    done = timesheets.withdraw_hours(command, practitioner, metadata, idempotency)
    return _answer(practitioner_id, day, done)


@router.post(
    "/overtime",
    status_code=status.HTTP_201_CREATED,
    summary="Record voluntary overtime (the practitioner themself only)",
    responses=DAY_COMMAND,
)
def record_overtime(
    practitioner_id: PractitionerId,
    body: Overtime,
    caller: OwnDecision,
    metadata: CommandMetadata,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
    idempotency: IdempotencyKeyRequired,
) -> DayView:
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    command = RecordOvertime(practitioner_id, body.day, body.minutes, body.note)
    done = timesheets.record_overtime(command, practitioner, metadata, idempotency)
    return _answer(practitioner_id, body.day, done)
