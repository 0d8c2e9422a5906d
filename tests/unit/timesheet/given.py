"""Builders for the timesheet domain tests: the facts most tests start from.

A day's events get the ids `event_id(1)`, `event_id(2)`... by their place in the
stream, so a test names an entry by the version of its `hours-logged` event.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, time
from typing import Any
from uuid import UUID

from plimsoll_events.catalogue import EventData
from plimsoll_events.types.timesheet import (
    HoursCorrected,
    HoursLogged,
    HoursWithdrawn,
    LeaveRecorded,
    OvertimeRecorded,
    ToilAccrued,
)
from plimsoll_timesheet.domain import DAY, DayCommand, DayContext

PRACTITIONER = "P-0001"
TODAY = date(2025, 3, 5)  # a Wednesday
NOW = time(18, 0)
DAY_WORKED = date(2025, 3, 3)  # the Monday before
CONTRACTED_DAY = 444  # 37 hours / 5


def event_id(version: int) -> UUID:
    """The id of the day's event at this stream version."""
    return UUID(int=version)


def context(given: Sequence[EventData] = (), **changes: Any) -> DayContext:
    fields: dict[str, Any] = {
        "today": TODAY,
        "now": NOW,
        "contracted_day_minutes": CONTRACTED_DAY,
        "by_practitioner": True,
        "event_ids": tuple(event_id(n) for n in range(1, len(given) + 1)),
        **changes,
    }
    return DayContext(**fields)


def then(
    given: Sequence[EventData], command: DayCommand, **context_changes: Any
) -> list[EventData]:
    """Given the day's events, when the command (its context filled in), then these events."""
    filled = replace(command, context=context(given, **context_changes))
    return DAY.run(filled, given)


def logged(**changes: Any) -> HoursLogged:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "day": DAY_WORKED,
        "minutes": 120,
        "category": "casework",
        "started_at": None,
        "ended_at": None,
        "note": None,
        "on_behalf_reason": None,
        **changes,
    }
    return HoursLogged(**fields)


def corrected(version: int, **changes: Any) -> HoursCorrected:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "day": DAY_WORKED,
        "entry_id": event_id(version),
        "minutes": 120,
        "category": "casework",
        "started_at": None,
        "ended_at": None,
        "note": None,
        "reason": "Mistyped",
        **changes,
    }
    return HoursCorrected(**fields)


def withdrawn(version: int, reason: str = "Logged twice") -> HoursWithdrawn:
    return HoursWithdrawn(
        practitioner_id=PRACTITIONER, day=DAY_WORKED, entry_id=event_id(version), reason=reason
    )


def overtime(minutes: int, note: str | None = None) -> OvertimeRecorded:
    return OvertimeRecorded(
        practitioner_id=PRACTITIONER, day=DAY_WORKED, minutes=minutes, note=note
    )


def toil(minutes: int, contracted: int = CONTRACTED_DAY, day: date = DAY_WORKED) -> ToilAccrued:
    return ToilAccrued(
        practitioner_id=PRACTITIONER,
        day=day,
        toil_minutes=minutes,
        contracted_day_minutes=contracted,
    )


def leave_recorded(**changes: Any) -> LeaveRecorded:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "leave_id": "L-1",
        "kind": "annual",
        "first_day": date(2025, 3, 10),
        "last_day": date(2025, 3, 14),
        "minutes_per_day": None,
        "note": None,
        **changes,
    }
    return LeaveRecorded(**fields)
