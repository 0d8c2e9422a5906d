"""The service's calendar: one stream (`calendar`) recording each UK day as it begins.

What was recorded ahead of its day (a transfer from a later day, a leaving
after the last day) takes effect when that day begins. A reader of the log
alone, a read model or the capacity figures, cannot know the day has come from
a wall clock without replaying differently from live; `calendar-day-began` is
that knowledge in the log. `BeginDay(day)` records it once: a day already
begun (or an earlier one, after a later day) records nothing, so two replicas,
or the daily job run again, record each day once.
"""

from dataclasses import dataclass
from datetime import date
from typing import Final

from plimsoll_events import refusals as check
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.allocation import CalendarDayBegan

CALENDAR_STREAM: Final = "calendar"


@dataclass(frozen=True)
class BeginDay:
    """Record that `day` began, unless it (or a later day) already has."""

    day: date


CalendarState = date | None
"""The latest day begun; None before the first."""


def decide(command: BeginDay, state: CalendarState) -> list[EventData]:
    check.day(command.day, "day")
    if state is not None and command.day <= state:
        return []
    return [CalendarDayBegan(day=command.day)]


def evolve(state: CalendarState, event: EventData) -> CalendarState:
    if isinstance(event, CalendarDayBegan):
        return event.day if state is None else max(state, event.day)
    raise TypeError(f"{event.type} is not an event of the calendar")


CALENDAR: Final = Decider[BeginDay, CalendarState](initial_state=None, decide=decide, evolve=evolve)
"""The calendar as a `Decider`."""
