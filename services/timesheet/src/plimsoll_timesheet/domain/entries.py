"""An entry of time logged, and the checks a day's entries are held to (see `day`)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time
from typing import Final, get_args
from uuid import UUID

from plimsoll_events import refusals
from plimsoll_events.types.timesheet import WorkCategory

from plimsoll_timesheet.domain.errors import (
    EntryWithdrawn,
    InTheFuture,
    InvalidValue,
    MoreThanADay,
    NotFound,
    OverlappingTime,
    supplied,
)

MINUTES_IN_A_DAY: Final = 1440
WORK_CATEGORIES: Final = frozenset(get_args(WorkCategory))


@dataclass(frozen=True)
class Entry:
    """An entry as it counts now."""

    entry_id: UUID | None
    """Its `hours-logged` event's id; None only inside a decision, before it is stored."""
    minutes: int
    category: str
    started_at: time | None
    ended_at: time | None
    note: str | None
    on_behalf_reason: str | None
    withdrawn: bool = False
    corrected: bool = False

    def overlaps(self, started_at: time, ended_at: time) -> bool:
        if self.withdrawn or self.started_at is None or self.ended_at is None:
            return False
        return self.started_at < ended_at and started_at < self.ended_at


def minutes(value: int) -> int:
    """Whole minutes, 1 to 1440."""
    return refusals.whole_number(value, "minutes", low=1, high=MINUTES_IN_A_DAY, unit="minutes")


def category(value: str) -> str:
    if value not in WORK_CATEGORIES:
        raise InvalidValue(
            f"must be one of: {', '.join(sorted(WORK_CATEGORIES))}", field="category"
        )
    return value


def interval(started_at: time | None, ended_at: time | None, minutes: int) -> None:
    """Both times or neither; the end after the start; the minutes within the interval."""
    if started_at is None and ended_at is None:
        return
    if started_at is None:
        raise InvalidValue("give started_at with ended_at, or neither", field="started_at")
    if ended_at is None:
        raise InvalidValue("give ended_at with started_at, or neither", field="ended_at")
    if ended_at <= started_at:
        raise InvalidValue(
            f"ends ({ended_at:%H:%M}) before it starts ({started_at:%H:%M}): "
            "work past midnight is logged on the next day",
            field="ended_at",
        )
    length = _seconds_of(ended_at) // 60 - (_seconds_of(started_at) + 59) // 60
    if minutes > length:
        raise InvalidValue(
            f"{minutes} minutes do not fit between {started_at:%H:%M} and {ended_at:%H:%M} "
            f"({length} minutes)",
            field="minutes",
        )


def _seconds_of(moment: time) -> int:
    """Whole seconds since midnight (an interval's minutes are the whole minutes inside it)."""
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def worked_already(
    day: date, minutes: int, ended_at: time | None, today: date | None, now: time | None
) -> None:
    """Refuse time not worked yet (UK): a later day, an interval ending after now, more
    minutes today than today has had."""
    refusals.day(day, "day")
    today = supplied(today, "today")
    if day > today:
        raise InTheFuture(f"{day} is after today ({today})", field="day")
    if day < today:
        return
    now = supplied(now, "now")
    if ended_at is not None and ended_at > now:
        raise InTheFuture(f"ends at {ended_at:%H:%M}, after now ({now:%H:%M})", field="ended_at")
    so_far = now.hour * 60 + now.minute
    if minutes > so_far:
        raise InTheFuture(
            f"today has had {so_far} minutes so far (it is {now:%H:%M})", field="minutes"
        )


def find(entries: Sequence[Entry], entry_id: UUID, practitioner_id: str, day: date) -> Entry:
    """The entry of that id on the day, not withdrawn; 404 (none: not theirs, or not that
    day) or 409 (withdrawn)."""
    entry = next((e for e in entries if e.entry_id == entry_id), None)
    if entry is None:
        raise NotFound(f"{practitioner_id} has no entry {entry_id} on {day}", field="entry_id")
    if entry.withdrawn:
        raise EntryWithdrawn(f"entry {entry_id} was withdrawn", field="entry_id")
    return entry


def no_overlap(
    entries: Sequence[Entry],
    started_at: time | None,
    ended_at: time | None,
    *,
    exclude: UUID | None,
) -> None:
    """The interval overlaps no other entry's (touching at one end is not overlapping)."""
    if started_at is None or ended_at is None:
        return
    for entry in entries:
        if entry.entry_id != exclude and entry.overlaps(started_at, ended_at):
            raise OverlappingTime(
                f"overlaps entry {entry.entry_id}, {entry.started_at:%H:%M} to "
                f"{entry.ended_at:%H:%M}",
                field="started_at",
            )


def within_a_day(
    entries: Sequence[Entry], overtime_minutes: int, minutes: int, *, exclude: UUID | None
) -> None:
    """The day's entries (but `exclude`), overtime and `minutes` come to at most 24 hours."""
    others = sum(e.minutes for e in entries if not e.withdrawn and e.entry_id != exclude)
    total = others + overtime_minutes + minutes
    if total > MINUTES_IN_A_DAY:
        raise MoreThanADay(
            f"the day would hold {total} minutes of work and overtime: at most "
            f"{MINUTES_IN_A_DAY} (24 hours)",
            field="minutes",
        )
