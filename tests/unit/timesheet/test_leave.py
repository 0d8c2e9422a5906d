"""A practitioner's leave: given its events, when a command, then events or a refusal."""

from datetime import date
from typing import Any

import pytest
from plimsoll_events.refusals import Refused
from plimsoll_events.types.timesheet import LeaveCancelled
from plimsoll_timesheet.domain import LEAVE, LEAVE_KINDS, CancelLeave, RecordLeave, leave_stream
from plimsoll_timesheet.domain.errors import (
    AlreadyExists,
    InvalidValue,
    LeaveAlreadyCancelled,
    LeaveAlreadyStarted,
    NotFound,
    OverlappingLeave,
)

from .given import PRACTITIONER, TODAY, leave_recorded


def record(**changes: Any) -> RecordLeave:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "leave_id": "L-1",
        "kind": "annual",
        "first_day": date(2025, 3, 10),
        "last_day": date(2025, 3, 14),
        **changes,
    }
    return RecordLeave(**fields)


def cancel(
    leave_id: str = "L-1", reason: str = "Plans changed", today: date = TODAY
) -> CancelLeave:
    return CancelLeave(PRACTITIONER, leave_id, reason, today)


def cancelled(leave_id: str = "L-1", reason: str = "Plans changed") -> LeaveCancelled:
    return LeaveCancelled(practitioner_id=PRACTITIONER, leave_id=leave_id, reason=reason)


def refused(given: list[Any], command: Any, kind: type[Refused], field: str) -> str:
    with pytest.raises(kind) as raised:
        LEAVE.run(command, given)
    assert raised.value.field == field
    return raised.value.reason


def test_planned_leave_is_recorded():
    assert LEAVE.run(record(note="Half term")) == [leave_recorded(note="Half term")]


def test_leave_has_a_stream_per_practitioner():
    assert leave_stream("P-0001") == "leave-P-0001"


@pytest.mark.parametrize("kind", sorted(LEAVE_KINDS))
def test_every_kind_of_leave_and_absence_is_recorded(kind: str):
    assert LEAVE.run(record(kind=kind)) == [leave_recorded(kind=kind)]


def test_part_days_are_recorded_in_minutes_of_each_day():
    command = record(kind="phased-return", minutes_per_day=222)
    assert LEAVE.run(command) == [leave_recorded(kind="phased-return", minutes_per_day=222)]


def test_leave_already_taken_is_recorded_too():
    command = record(kind="sickness", first_day=date(2025, 2, 3), last_day=date(2025, 2, 4))
    assert LEAVE.run(command)


def test_an_unknown_kind_of_leave_is_refused():
    refused([], record(kind="sabbatical"), InvalidValue, "kind")


def test_leave_ending_before_it_starts_is_refused():
    refused([], record(last_day=date(2025, 3, 9)), InvalidValue, "last_day")


def test_leave_longer_than_a_year_is_recorded_in_periods():
    refused([], record(last_day=date(2026, 3, 11)), InvalidValue, "last_day")
    assert LEAVE.run(record(kind="maternity-adoption", last_day=date(2026, 3, 10)))


@pytest.mark.parametrize("minutes", [0, -60, 1441])
def test_part_days_are_between_a_minute_and_a_day(minutes: int):
    refused([], record(minutes_per_day=minutes), InvalidValue, "minutes_per_day")


@pytest.mark.parametrize(
    ("first_day", "last_day"),
    [
        (date(2025, 3, 14), date(2025, 3, 18)),
        (date(2025, 3, 3), date(2025, 3, 10)),
        (date(2025, 3, 11), date(2025, 3, 11)),
        (date(2025, 3, 1), date(2025, 3, 31)),
    ],
)
def test_leave_overlapping_leave_is_refused(first_day: date, last_day: date):
    given = [leave_recorded()]

    command = record(leave_id="L-2", first_day=first_day, last_day=last_day)
    assert "L-1" in refused(given, command, OverlappingLeave, "first_day")


def test_leave_may_take_the_days_of_cancelled_leave():
    given = [leave_recorded(), cancelled()]

    assert LEAVE.run(record(leave_id="L-2"), given) == [leave_recorded(leave_id="L-2")]


def test_a_leave_id_is_used_once():
    given = [leave_recorded(), cancelled()]

    refused(
        given,
        record(first_day=date(2025, 4, 1), last_day=date(2025, 4, 1)),
        AlreadyExists,
        "leave_id",
    )


def test_leave_is_cancelled_before_it_starts():
    assert LEAVE.run(cancel(), [leave_recorded()]) == [cancelled()]


@pytest.mark.parametrize("today", [date(2025, 3, 10), date(2025, 3, 12), date(2025, 4, 1)])
def test_leave_cannot_be_cancelled_once_it_has_started(today: date):
    refused([leave_recorded()], cancel(today=today), LeaveAlreadyStarted, "leave_id")


def test_unknown_or_cancelled_leave_cannot_be_cancelled():
    refused([leave_recorded()], cancel("L-9"), NotFound, "leave_id")
    refused([leave_recorded(), cancelled()], cancel(), LeaveAlreadyCancelled, "leave_id")


def test_a_cancellation_says_why():
    refused([leave_recorded()], cancel(reason=" "), InvalidValue, "reason")
