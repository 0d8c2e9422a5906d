"""A practitioner's leave and absence: one stream per practitioner (`leave_stream`).

Rules (every refusal names the field, and records nothing):

* A leave's id is the sender's, unique for the practitioner (a cancelled one's
  included): a second leave with it is refused (409).
* Its kind is one of `LEAVE_KINDS`; it runs from `first_day` to `last_day`
  inclusive, at most `MAX_LEAVE_DAYS` days (longer leave is recorded as
  consecutive periods); whole days (`minutes_per_day` absent) or part days of
  1 to 1440 minutes.
* Leave may be recorded before it starts (planned) or after it (sickness told
  afterwards); it may not overlap leave already recorded and not cancelled,
  whole or part days alike (409 on `first_day`).
* Leave is cancelled only before its first day (`today` is the UK day), once,
  with a reason; cancelled leave no longer counts.

What leave counts for (the contracted day each working day, TOIL drawn from the
balance) is worked out by the read models: see `figures`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final, get_args

from plimsoll_events import refusals
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.timesheet import LeaveCancelled, LeaveKind, LeaveRecorded

from plimsoll_timesheet.domain.errors import (
    AlreadyExists,
    InvalidValue,
    LeaveAlreadyCancelled,
    LeaveAlreadyStarted,
    NotFound,
    OverlappingLeave,
    supplied,
)

LEAVE_KINDS: Final = frozenset(get_args(LeaveKind))
MAX_LEAVE_DAYS: Final = 366
_MINUTES_IN_A_DAY: Final = 1440


def leave_stream(practitioner_id: str) -> str:
    """The stream of a practitioner's leave: `leave-<practitioner>`."""
    return f"leave-{practitioner_id}"


# Commands.


@dataclass(frozen=True)
class RecordLeave:
    """Record leave or absence, planned or taken."""

    practitioner_id: str
    leave_id: str
    kind: str
    first_day: date
    last_day: date
    minutes_per_day: int | None = None
    note: str | None = None


@dataclass(frozen=True)
class CancelLeave:
    """Cancel leave before it starts, saying why; `today` is filled in by the handler."""

    practitioner_id: str
    leave_id: str
    reason: str
    today: date | None = None


LeaveCommand = RecordLeave | CancelLeave


# State.


@dataclass(frozen=True)
class Leave:
    """One leave as recorded, and whether it was cancelled."""

    leave_id: str
    kind: str
    first_day: date
    last_day: date
    minutes_per_day: int | None
    note: str | None = None
    cancelled: bool = False

    def overlaps(self, first_day: date, last_day: date) -> bool:
        return not self.cancelled and self.first_day <= last_day and first_day <= self.last_day


@dataclass(frozen=True)
class LeaveBook:
    """Every leave of the practitioner, by id."""

    leaves: Mapping[str, Leave] = field(default_factory=lambda: MappingProxyType({}))


initial_state: Final = LeaveBook()


# Deciding.


def decide(command: LeaveCommand, state: LeaveBook) -> list[EventData]:
    if isinstance(command, RecordLeave):
        return [_record(command, state)]
    return [_cancel(command, state)]


def _record(command: RecordLeave, state: LeaveBook) -> LeaveRecorded:
    leave_id = refusals.identifier(command.leave_id, "leave_id")
    if leave_id in state.leaves:
        raise AlreadyExists(f"leave {leave_id!r} is already recorded", field="leave_id")
    if command.kind not in LEAVE_KINDS:
        raise InvalidValue(f"must be one of: {', '.join(sorted(LEAVE_KINDS))}", field="kind")
    first_day = refusals.day(command.first_day, "first_day")
    last_day = refusals.day(command.last_day, "last_day")
    if last_day < first_day:
        raise InvalidValue(f"ends ({last_day}) before it starts ({first_day})", field="last_day")
    if last_day - first_day >= timedelta(days=MAX_LEAVE_DAYS):
        raise InvalidValue(
            f"at most {MAX_LEAVE_DAYS} days: record longer leave as consecutive periods",
            field="last_day",
        )
    minutes = command.minutes_per_day
    if minutes is not None:
        refusals.whole_number(
            minutes, "minutes_per_day", low=1, high=_MINUTES_IN_A_DAY, unit="minutes"
        )
    note = refusals.optional_text(command.note, "note")
    clash = next(
        (leave for leave in state.leaves.values() if leave.overlaps(first_day, last_day)), None
    )
    if clash is not None:
        raise OverlappingLeave(
            f"overlaps leave {clash.leave_id} ({clash.kind}, {clash.first_day} to "
            f"{clash.last_day})",
            field="first_day",
        )
    return LeaveRecorded(
        practitioner_id=command.practitioner_id,
        leave_id=leave_id,
        kind=command.kind,
        first_day=first_day,
        last_day=last_day,
        minutes_per_day=minutes,
        note=note,
    )


def _cancel(command: CancelLeave, state: LeaveBook) -> LeaveCancelled:
    leave = state.leaves.get(command.leave_id)
    if leave is None:
        raise NotFound(
            f"{command.practitioner_id} has no leave {command.leave_id!r}", field="leave_id"
        )
    if leave.cancelled:
        raise LeaveAlreadyCancelled(f"leave {leave.leave_id} was cancelled", field="leave_id")
    today = supplied(command.today, "today")
    if leave.first_day <= today:
        raise LeaveAlreadyStarted(
            f"leave {leave.leave_id} started on {leave.first_day}: leave is cancelled only "
            "before it starts",
            field="leave_id",
        )
    return LeaveCancelled(
        practitioner_id=command.practitioner_id,
        leave_id=leave.leave_id,
        reason=refusals.text(command.reason, "reason"),
    )


# Evolving.


def evolve(state: LeaveBook, event: EventData) -> LeaveBook:
    if isinstance(event, LeaveRecorded):
        leave = Leave(
            leave_id=event.leave_id,
            kind=event.kind,
            first_day=event.first_day,
            last_day=event.last_day,
            minutes_per_day=event.minutes_per_day,
            note=event.note,
        )
    elif isinstance(event, LeaveCancelled):
        leave = replace(state.leaves[event.leave_id], cancelled=True)
    else:
        raise TypeError(f"{event.type} is not an event of a practitioner's leave")
    return LeaveBook(MappingProxyType({**state.leaves, leave.leave_id: leave}))


LEAVE: Final = Decider[LeaveCommand, LeaveBook](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""A practitioner's leave as a `Decider`."""
