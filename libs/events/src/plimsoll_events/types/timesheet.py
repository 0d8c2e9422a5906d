"""Events of the timesheet service: the hours practitioners actually work, their leave,
TOIL, voluntary overtime and the working-time opt-out.

Three kinds of stream produce them: a practitioner's day
(`timesheet-<practitioner>-<day>`: time logged, corrected and withdrawn, overtime
and the day's TOIL), their leave (`leave-<practitioner>`) and their working-time
opt-out (`working-time-<practitioner>`).

Time is counted in whole minutes so that weekly totals and rolling averages add up
exactly. Times of day (`started_at`, `ended_at`) are UK wall-clock times of the day
named. An entry of time logged is identified by the id of its `hours-logged` event:
corrections and withdrawals name it (`entry_id`); nothing is edited in place.
"""

from datetime import date, time
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import Field

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.types.fields import Identifier, Text

WorkCategory = Literal[
    "casework",
    "court",
    "report-writing",
    "travel",
    "admin",
    "training",
    "supervision",
    "union-duties",
    "other",
]
"""What the time was spent on; the categories the working-time figures split by."""

WorkCategoryV2 = Literal["casework", "travel", "supervision", "training", "admin", "other"]
"""The categories `hours-logged` v2 knew; every one of them is still a `WorkCategory`."""

LeaveKind = Literal[
    "annual",
    "sickness",
    "toil",
    "training",
    "special",
    "maternity-adoption",
    "phased-return",
]
"""Why a practitioner is away: annual leave, sickness, time off in lieu taken, training,
special leave, maternity or adoption leave, a phased return to work."""

MINUTES_IN_A_DAY = 1440


@CATALOGUE.register
class HoursLoggedV1(EventData):
    """Superseded by v2. A practitioner logged the hours they worked on a day.

    Kept so that data written as v1 is still validated before it is upcast.
    """

    type = "hours-logged"
    version = 1
    service = "timesheet"
    examples = ({"practitioner_id": "P-0001", "day": "2025-03-03", "hours": 7.5},)

    practitioner_id: Identifier = Field(description="Who worked.")
    day: date = Field(description="The day worked, in the practitioner's local calendar.")
    hours: float = Field(ge=0, le=24, description="Hours worked that day.")


@CATALOGUE.register
class HoursLoggedV2(EventData):
    """Superseded by v3. A practitioner logged time they worked on a day, and what it was
    spent on.

    Kept so that data written as v2 is still validated before it is upcast.
    """

    type = "hours-logged"
    version = 2
    service = "timesheet"
    examples = (
        {"practitioner_id": "P-0001", "day": "2025-03-03", "minutes": 450, "category": "casework"},
    )

    practitioner_id: Identifier = Field(description="Who worked.")
    day: date = Field(description="The day worked, in the practitioner's local calendar.")
    minutes: int = Field(ge=0, le=1440, description="Minutes worked, at most a whole day.")
    category: WorkCategoryV2 = Field(description="What the time was spent on.")


@CATALOGUE.register
class HoursLogged(EventData):
    """Time a practitioner worked on a day: an entry of their timesheet.

    Each event adds one entry to that day: several events for one day are several
    stretches of work, which never overlap when both say when they were worked.
    The entry is identified by this event's id; a later `hours-corrected` gives it
    new values and `hours-withdrawn` takes it out, and the entry counts as its
    latest values say. Voluntary overtime is not logged here but as
    `overtime-recorded`. `on_behalf_reason` is set when someone other than the
    practitioner (their manager, say) logged it; who did is the event's actor.
    """

    type = "hours-logged"
    version = 3
    service = "timesheet"
    examples = (
        {
            "practitioner_id": "P-0001",
            "day": "2025-03-03",
            "minutes": 150,
            "category": "court",
            "started_at": "09:30:00",
            "ended_at": "12:00:00",
            "note": "Sentencing hearing, Leeds Crown Court",
            "on_behalf_reason": None,
        },
        {
            "practitioner_id": "P-0001",
            "day": "2025-03-04",
            "minutes": 420,
            "category": "casework",
            "started_at": None,
            "ended_at": None,
            "note": None,
            "on_behalf_reason": "Pat was off sick and asked me to log Tuesday from her diary",
        },
    )

    practitioner_id: Identifier = Field(description="Who worked.")
    day: date = Field(description="The day worked, in the UK calendar.")
    minutes: int = Field(
        ge=0,
        le=MINUTES_IN_A_DAY,
        description="Minutes worked. New entries are at least 1; 0 appears only in data "
        "upcast from earlier versions.",
    )
    category: WorkCategory = Field(description="What the time was spent on.")
    started_at: time | None = Field(description="When the stretch of work began, if known.")
    ended_at: time | None = Field(
        description="When it ended, if known; with `started_at`, the stretch's interval, "
        "which the rest rules need."
    )
    note: Text | None = Field(description="What the practitioner wants remembered about it.")
    on_behalf_reason: Text | None = Field(
        description="Why someone other than the practitioner logged it; null when they "
        "logged it themself."
    )


@CATALOGUE.upcaster("hours-logged", from_version=1)
def hours_logged_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 hours become whole minutes, all counted as casework.

    v1 recorded no category. "casework" is the choice made for legacy data: it
    is what nearly all logged time was, and it keeps the time in the
    practitioner's working hours, which is what the duty-of-care averages need;
    a practitioner who disagrees records a correction, never an edit.
    Minutes are `round(hours * 60)` (Python's rounding: exact halves go to even).
    """
    return {
        "practitioner_id": data["practitioner_id"],
        "day": data["day"],
        "minutes": round(float(data["hours"]) * 60),
        "category": "casework",
    }


@CATALOGUE.upcaster("hours-logged", from_version=2)
def hours_logged_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """v2 entries keep their minutes and category, and say nothing of when, why or by whom.

    v2 recorded no interval, note or reason: all three become null. v2's categories
    are all v3 categories, unchanged.
    """
    return {
        **data,
        "started_at": None,
        "ended_at": None,
        "note": None,
        "on_behalf_reason": None,
    }


@CATALOGUE.register
class HoursCorrected(EventData):
    """An entry of time logged was corrected: from now on it counts with these values.

    `entry_id` is the id of the entry's `hours-logged` event, on the same day of the
    same practitioner; the values here replace all of the entry's values (an earlier
    correction's included). The day does not change: time logged on the wrong day is
    withdrawn and logged again.
    """

    type = "hours-corrected"
    version = 1
    service = "timesheet"
    examples = (
        {
            "practitioner_id": "P-0001",
            "day": "2025-03-03",
            "entry_id": "01956a3c-8f2e-7c1a-9b3d-2f4e5a6b7c8d",
            "minutes": 180,
            "category": "court",
            "started_at": "09:30:00",
            "ended_at": "12:30:00",
            "note": "Sentencing hearing, Leeds Crown Court",
            "reason": "The hearing overran by half an hour",
        },
    )

    practitioner_id: Identifier = Field(description="Whose entry it is.")
    day: date = Field(description="The entry's day.")
    entry_id: UUID = Field(description="The id of the entry's `hours-logged` event.")
    minutes: int = Field(ge=1, le=MINUTES_IN_A_DAY, description="Minutes worked, corrected.")
    category: WorkCategory = Field(description="What the time was spent on, corrected.")
    started_at: time | None = Field(description="When the stretch of work began, if known.")
    ended_at: time | None = Field(description="When it ended, if known.")
    note: Text | None = Field(description="The entry's note, corrected.")
    reason: Text = Field(description="Why it was corrected.")


@CATALOGUE.register
class HoursWithdrawn(EventData):
    """An entry of time logged was withdrawn: it no longer counts at all.

    `entry_id` is the id of the entry's `hours-logged` event. The entry stays in the
    record, with this withdrawal after it.
    """

    type = "hours-withdrawn"
    version = 1
    service = "timesheet"
    examples = (
        {
            "practitioner_id": "P-0001",
            "day": "2025-03-03",
            "entry_id": "01956a3c-8f2e-7c1a-9b3d-2f4e5a6b7c8d",
            "reason": "Logged twice",
        },
    )

    practitioner_id: Identifier = Field(description="Whose entry it was.")
    day: date = Field(description="The entry's day.")
    entry_id: UUID = Field(description="The id of the entry's `hours-logged` event.")
    reason: Text = Field(description="Why it was withdrawn.")


@CATALOGUE.register
class OvertimeRecorded(EventData):
    """A practitioner recorded voluntary overtime they worked on a day.

    Overtime is recorded by the practitioner only, never on their behalf: working
    beyond contracted hours is their choice. It counts as time worked in the
    working-time figures but earns no TOIL (it is paid or agreed separately).
    """

    type = "overtime-recorded"
    version = 1
    service = "timesheet"
    examples = (
        {
            "practitioner_id": "P-0001",
            "day": "2025-03-08",
            "minutes": 240,
            "note": "Saturday court duty rota, volunteered",
        },
    )

    practitioner_id: Identifier = Field(description="Who worked it.")
    day: date = Field(description="The day worked.")
    minutes: int = Field(ge=1, le=MINUTES_IN_A_DAY, description="Minutes of overtime.")
    note: Text | None = Field(description="What it was, if they say.")


@CATALOGUE.register
class ToilAccrued(EventData):
    """A day's time off in lieu (TOIL) changed: this is the day's TOIL now.

    A day's TOIL is the time its entries (not overtime) exceed the contracted day:
    contracted hours / 5 on a working day, nothing on weekends and England and Wales
    bank holidays, so all work on those days is TOIL. It is recorded again with the
    new figure whenever time logged, corrected or withdrawn on the day changes it,
    down to 0; a practitioner's balance is the sum of each day's latest figure less
    the TOIL leave they take.
    """

    type = "toil-accrued"
    version = 1
    service = "timesheet"
    examples = (
        {
            "practitioner_id": "P-0001",
            "day": "2025-03-03",
            "toil_minutes": 96,
            "contracted_day_minutes": 444,
        },
    )

    practitioner_id: Identifier = Field(description="Whose TOIL it is.")
    day: date = Field(description="The day it was earned on.")
    toil_minutes: int = Field(
        ge=0, le=MINUTES_IN_A_DAY, description="The day's TOIL now, in minutes."
    )
    contracted_day_minutes: int = Field(
        ge=0,
        le=MINUTES_IN_A_DAY,
        description="The contracted day it was worked out against (0 on a weekend or bank "
        "holiday).",
    )


@CATALOGUE.register
class LeaveRecorded(EventData):
    """Leave or absence was recorded for a practitioner, planned or already taken.

    It covers the working days from `first_day` to `last_day` inclusive: whole days
    when `minutes_per_day` is null (each counts the contracted day), or that many
    minutes of each working day (a part day, a phased return). TOIL leave draws on
    the practitioner's TOIL balance.
    """

    type = "leave-recorded"
    version = 1
    service = "timesheet"
    examples = (
        {
            "practitioner_id": "P-0001",
            "leave_id": "L-2025-07-annual",
            "kind": "annual",
            "first_day": "2025-07-21",
            "last_day": "2025-08-01",
            "minutes_per_day": None,
            "note": "Summer holiday",
        },
        {
            "practitioner_id": "P-0001",
            "leave_id": "L-2025-03-toil",
            "kind": "toil",
            "first_day": "2025-03-14",
            "last_day": "2025-03-14",
            "minutes_per_day": 222,
            "note": None,
        },
    )

    practitioner_id: Identifier = Field(description="Who is away.")
    leave_id: Identifier = Field(description="The leave's id, unique for the practitioner.")
    kind: LeaveKind = Field(description="What kind of leave or absence it is.")
    first_day: date = Field(description="The first day of it.")
    last_day: date = Field(description="The last day of it (inclusive).")
    minutes_per_day: Annotated[int, Field(ge=1, le=MINUTES_IN_A_DAY)] | None = Field(
        description="Minutes of each working day it takes; null for whole days."
    )
    note: Text | None = Field(description="What the practitioner or manager wants noted.")


@CATALOGUE.register
class LeaveCancelled(EventData):
    """Planned leave was cancelled before it started: it no longer counts."""

    type = "leave-cancelled"
    version = 1
    service = "timesheet"
    examples = (
        {
            "practitioner_id": "P-0001",
            "leave_id": "L-2025-07-annual",
            "reason": "Holiday moved to September",
        },
    )

    practitioner_id: Identifier = Field(description="Whose leave it was.")
    leave_id: Identifier = Field(description="The leave cancelled.")
    reason: Text = Field(description="Why it was cancelled.")


@CATALOGUE.register
class WorkingTimeOptOutRecorded(EventData):
    """A practitioner opted out of the 48-hour average working week, in writing, themself.

    From `effective_from` the Working Time Regulations' 48-hour limit on their
    average week no longer applies to them (the figures still show it); the other
    limits (rest, the contracted-hours average) do. Only the practitioner records it.
    """

    type = "working-time-opt-out-recorded"
    version = 1
    service = "timesheet"
    examples = ({"practitioner_id": "P-0001", "effective_from": "2025-04-01"},)

    practitioner_id: Identifier = Field(description="Who opted out.")
    effective_from: date = Field(description="The first day the opt-out applies.")


@CATALOGUE.register
class WorkingTimeOptOutWithdrawn(EventData):
    """A practitioner withdrew their opt-out: the 48-hour limit applies to them again.

    From `effective_from` their average week is held to 48 hours again. Only the
    practitioner withdraws it.
    """

    type = "working-time-opt-out-withdrawn"
    version = 1
    service = "timesheet"
    examples = ({"practitioner_id": "P-0001", "effective_from": "2025-10-01"},)

    practitioner_id: Identifier = Field(description="Who withdrew their opt-out.")
    effective_from: date = Field(description="The first day the 48-hour limit applies again.")
