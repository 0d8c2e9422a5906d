"""A practitioner's day: the time they logged, corrected and withdrew, overtime, and TOIL.

One stream per practitioner and day (`day_stream`). An entry is one stretch of
work (`hours-logged`), identified by its event's id; a correction gives it new
values, a withdrawal takes it out, and it counts as its latest values say.

Rules (every refusal names the field, and records nothing):

* Minutes are whole, from 1 to 1440; the category one of `WORK_CATEGORIES`.
* `started_at` and `ended_at` come together or not at all; the end is after the
  start; the minutes fit in that interval (a break inside it is fine); and the
  interval overlaps no other entry's interval that day (one ending at 10:00 and
  another starting at 10:00 do not overlap). Work past midnight is logged on the
  next day.
* Time is logged once it has been worked, in the UK: not for a day after today,
  not with an interval ending after now, and not more minutes today than today
  has had so far.
* A day holds at most 24 hours: its entries and overtime together.
* Someone other than the practitioner (a manager) logs only with
  `on_behalf_reason`; the practitioner themself gives none.
* Voluntary overtime is recorded by the practitioner only (the right to work
  contracted hours only); it counts towards the 24 hours, never towards TOIL.
* A row of an imported sheet is recorded once: the n-th row of a sheet with the
  same values for the day records nothing when the day already holds n entries
  with those values (whoever logged them, however).
* A correction or withdrawal names an entry of this day of this practitioner
  that is not withdrawn (else 404, or 409 once withdrawn), and says why. A
  correction that changes nothing records nothing.

TOIL. The day's TOIL is what its entries (not overtime) exceed the contracted
day, never below 0. The contracted day is contracted hours * 60 / 5 on a
working day (Monday to Friday except England and Wales bank holidays), to the
nearest minute, and 0 on weekends and bank holidays, where all work is TOIL
(`plimsoll_platform.working_time.contracted_day_minutes`). Whenever a command
leaves the day's TOIL different from the last `toil-accrued` (0 before any), it
records `toil-accrued` with the day's TOIL now, down to 0 after a withdrawal.

Context the handler fills in before deciding: `today` and `now` (UK),
`contracted_day_minutes` (from the practitioner's placement that day),
`by_practitioner` (whether the practitioner themself acts) and `event_ids`, the
ids of the day's events in stream order: `execute` folds event data only, and
corrections name entries by event id.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time
from typing import Final
from uuid import UUID

from plimsoll_events import refusals
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.timesheet import (
    HoursCorrected,
    HoursLogged,
    HoursWithdrawn,
    OvertimeRecorded,
    ToilAccrued,
)

from plimsoll_timesheet.domain import entries as check
from plimsoll_timesheet.domain.entries import Entry
from plimsoll_timesheet.domain.errors import (
    InvalidValue,
    OnBehalfReasonRequired,
    PractitionerOnly,
    supplied,
)


def day_stream(practitioner_id: str, day: date) -> str:
    """The stream of a practitioner's day: `timesheet-<practitioner>-<YYYY-MM-DD>`."""
    return f"timesheet-{practitioner_id}-{day.isoformat()}"


# Commands.


@dataclass(frozen=True)
class DayContext:
    """What the handler knows and the sender does not: filled in before deciding."""

    today: date | None = None
    now: time | None = None
    """The UK wall-clock time now, on `today`."""
    contracted_day_minutes: int | None = None
    by_practitioner: bool | None = None
    event_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True)
class LogHours:
    """Log a stretch of work on a day."""

    practitioner_id: str
    day: date
    minutes: int
    category: str
    started_at: time | None = None
    ended_at: time | None = None
    note: str | None = None
    on_behalf_reason: str | None = None
    sheet_occurrence: int | None = None
    """Set for a row of an imported sheet: it is the n-th row of the sheet with these values
    for this day. The day holding n such entries already means it was imported before."""
    context: DayContext = field(default_factory=DayContext)


@dataclass(frozen=True)
class CorrectHours:
    """Give an entry new values (all of them), saying why."""

    practitioner_id: str
    day: date
    entry_id: UUID
    minutes: int
    category: str
    reason: str
    started_at: time | None = None
    ended_at: time | None = None
    note: str | None = None
    context: DayContext = field(default_factory=DayContext)


@dataclass(frozen=True)
class WithdrawHours:
    """Take an entry out, saying why."""

    practitioner_id: str
    day: date
    entry_id: UUID
    reason: str
    context: DayContext = field(default_factory=DayContext)


@dataclass(frozen=True)
class RecordOvertime:
    """Record voluntary overtime worked on the day (the practitioner themself only)."""

    practitioner_id: str
    day: date
    minutes: int
    note: str | None = None
    context: DayContext = field(default_factory=DayContext)


DayCommand = LogHours | CorrectHours | WithdrawHours | RecordOvertime


# State.


@dataclass(frozen=True)
class Day:
    """The day's events as folded: entries by stream version, the changes naming them."""

    version: int = 0
    logged: tuple[tuple[int, HoursLogged], ...] = ()
    changes: tuple[HoursCorrected | HoursWithdrawn, ...] = ()
    overtime_minutes: int = 0
    toil_minutes: int = 0

    def entries(self, event_ids: Sequence[UUID]) -> list[Entry]:
        """The entries as they count now, in the order logged; `event_ids` are the stream's."""
        by_id: dict[UUID | int, Entry] = {}
        for version, logged in self.logged:
            entry_id = event_ids[version - 1] if version <= len(event_ids) else None
            # One decided in this very decision has no id yet: keyed by its version instead.
            by_id[entry_id if entry_id is not None else version] = Entry(
                entry_id=entry_id,
                minutes=logged.minutes,
                category=logged.category,
                started_at=logged.started_at,
                ended_at=logged.ended_at,
                note=logged.note,
                on_behalf_reason=logged.on_behalf_reason,
            )
        for change in self.changes:
            entry = by_id.get(change.entry_id)
            if entry is None:  # the ids given are not this stream's: a handler's mistake
                raise InvalidValue(
                    f"names entry {change.entry_id}, not among this day's event ids",
                    field="event_ids",
                )
            by_id[change.entry_id] = _changed(entry, change)
        return list(by_id.values())

    def worked_minutes(self, event_ids: Sequence[UUID]) -> int:
        """Minutes of the entries that count (not overtime)."""
        return sum(e.minutes for e in self.entries(event_ids) if not e.withdrawn)


def _changed(entry: Entry, change: HoursCorrected | HoursWithdrawn) -> Entry:
    if isinstance(change, HoursWithdrawn):
        return replace(entry, withdrawn=True)
    return replace(
        entry,
        minutes=change.minutes,
        category=change.category,
        started_at=change.started_at,
        ended_at=change.ended_at,
        note=change.note,
        corrected=True,
    )


initial_state: Final = Day()


# Deciding.


def decide(command: DayCommand, state: Day) -> list[EventData]:
    """The events a command records on the day's stream, or a refusal."""
    if isinstance(command, LogHours):
        if _imported_before(command, state):
            return []
        decided: list[EventData] = [_log(command, state)]
    elif isinstance(command, CorrectHours):
        decided = _correct(command, state)
    elif isinstance(command, WithdrawHours):
        decided = [_withdraw(command, state)]
    else:
        decided = [_overtime(command, state)]
    return decided + _toil(command, state, decided)


def _log(command: LogHours, state: Day) -> HoursLogged:
    context = command.context
    minutes = check.minutes(command.minutes)
    category = check.category(command.category)
    check.interval(command.started_at, command.ended_at, minutes)
    note = refusals.optional_text(command.note, "note")
    reason = refusals.optional_text(command.on_behalf_reason, "on_behalf_reason")
    if supplied(context.by_practitioner, "by_practitioner"):
        if reason is not None:
            raise InvalidValue(
                "the practitioner logging their own time gives no on-behalf reason",
                field="on_behalf_reason",
            )
    elif reason is None:
        raise OnBehalfReasonRequired(
            f"say why you log time for {command.practitioner_id}", field="on_behalf_reason"
        )
    check.worked_already(command.day, minutes, command.ended_at, context.today, context.now)
    entries = state.entries(context.event_ids)
    check.no_overlap(entries, command.started_at, command.ended_at, exclude=None)
    check.within_a_day(entries, state.overtime_minutes, minutes, exclude=None)
    return HoursLogged(
        practitioner_id=command.practitioner_id,
        day=command.day,
        minutes=minutes,
        category=category,
        started_at=command.started_at,
        ended_at=command.ended_at,
        note=note,
        on_behalf_reason=reason,
    )


def _imported_before(command: LogHours, state: Day) -> bool:
    """A sheet's row whose entry the day already holds (the n-th identical row, n of them)."""
    if command.sheet_occurrence is None:
        return False
    same = [
        entry
        for entry in state.entries(command.context.event_ids)
        if not entry.withdrawn
        and (entry.minutes, entry.category, entry.started_at, entry.ended_at, entry.note)
        == (command.minutes, command.category, command.started_at, command.ended_at, command.note)
    ]
    return len(same) >= command.sheet_occurrence


def _correct(command: CorrectHours, state: Day) -> list[EventData]:
    context = command.context
    entries = state.entries(context.event_ids)
    entry = check.find(entries, command.entry_id, command.practitioner_id, command.day)
    minutes = check.minutes(command.minutes)
    category = check.category(command.category)
    check.interval(command.started_at, command.ended_at, minutes)
    note = refusals.optional_text(command.note, "note")
    reason = refusals.text(command.reason, "reason")
    check.worked_already(command.day, minutes, command.ended_at, context.today, context.now)
    check.no_overlap(entries, command.started_at, command.ended_at, exclude=entry.entry_id)
    check.within_a_day(entries, state.overtime_minutes, minutes, exclude=entry.entry_id)
    unchanged = (
        entry.minutes == minutes
        and entry.category == category
        and entry.started_at == command.started_at
        and entry.ended_at == command.ended_at
        and entry.note == note
    )
    if unchanged:
        return []
    return [
        HoursCorrected(
            practitioner_id=command.practitioner_id,
            day=command.day,
            entry_id=command.entry_id,
            minutes=minutes,
            category=category,
            started_at=command.started_at,
            ended_at=command.ended_at,
            note=note,
            reason=reason,
        )
    ]


def _withdraw(command: WithdrawHours, state: Day) -> HoursWithdrawn:
    entries = state.entries(command.context.event_ids)
    check.find(entries, command.entry_id, command.practitioner_id, command.day)
    return HoursWithdrawn(
        practitioner_id=command.practitioner_id,
        day=command.day,
        entry_id=command.entry_id,
        reason=refusals.text(command.reason, "reason"),
    )


def _overtime(command: RecordOvertime, state: Day) -> OvertimeRecorded:
    context = command.context
    if not supplied(context.by_practitioner, "by_practitioner"):
        raise PractitionerOnly(
            f"overtime is voluntary: only {command.practitioner_id} records their own",
            field="practitioner_id",
        )
    minutes = check.minutes(command.minutes)
    note = refusals.optional_text(command.note, "note")
    check.worked_already(command.day, minutes, None, context.today, context.now)
    check.within_a_day(
        state.entries(context.event_ids), state.overtime_minutes, minutes, exclude=None
    )
    return OvertimeRecorded(
        practitioner_id=command.practitioner_id, day=command.day, minutes=minutes, note=note
    )


def _toil(command: DayCommand, state: Day, decided: list[EventData]) -> list[EventData]:
    """`toil-accrued` when the decided events leave the day's TOIL changed."""
    if not decided:
        return []
    contracted = supplied(command.context.contracted_day_minutes, "contracted_day_minutes")
    after = DAY.fold(decided, state)
    toil = max(0, after.worked_minutes(command.context.event_ids) - contracted)
    if toil == state.toil_minutes:
        return []
    return [
        ToilAccrued(
            practitioner_id=command.practitioner_id,
            day=command.day,
            toil_minutes=toil,
            contracted_day_minutes=contracted,
        )
    ]


# Evolving.


def evolve(state: Day, event: EventData) -> Day:
    """The day after one of its events."""
    version = state.version + 1
    if isinstance(event, HoursLogged):
        return replace(state, version=version, logged=(*state.logged, (version, event)))
    if isinstance(event, HoursCorrected | HoursWithdrawn):
        return replace(state, version=version, changes=(*state.changes, event))
    if isinstance(event, OvertimeRecorded):
        return replace(
            state, version=version, overtime_minutes=state.overtime_minutes + event.minutes
        )
    if isinstance(event, ToilAccrued):
        return replace(state, version=version, toil_minutes=event.toil_minutes)
    raise TypeError(f"{event.type} is not an event of a practitioner's day")


DAY: Final = Decider[DayCommand, Day](initial_state=initial_state, decide=decide, evolve=evolve)
"""A practitioner's day as a `Decider`."""
