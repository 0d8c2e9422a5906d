"""A practitioner's day: given its events, when a command, then events or a refusal."""

from datetime import time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from plimsoll_events.refusals import Refused
from plimsoll_events.types.timesheet import HoursCorrected, HoursLogged, HoursWithdrawn
from plimsoll_timesheet.domain import (
    WORK_CATEGORIES,
    CorrectHours,
    LogHours,
    RecordOvertime,
    WithdrawHours,
    contracted_day_minutes,
    day_stream,
)
from plimsoll_timesheet.domain.errors import (
    EntryWithdrawn,
    InTheFuture,
    InvalidValue,
    MoreThanADay,
    NotFound,
    OnBehalfReasonRequired,
    OverlappingTime,
    PractitionerOnly,
)

from .given import (
    DAY_WORKED,
    PRACTITIONER,
    TODAY,
    corrected,
    event_id,
    logged,
    overtime,
    then,
    toil,
    withdrawn,
)


def log(**changes: Any) -> LogHours:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "day": DAY_WORKED,
        "minutes": 120,
        "category": "casework",
        **changes,
    }
    return LogHours(**fields)


def correct(version: int, **changes: Any) -> CorrectHours:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "day": DAY_WORKED,
        "entry_id": event_id(version),
        "minutes": 120,
        "category": "casework",
        "reason": "Mistyped",
        **changes,
    }
    return CorrectHours(**fields)


def withdraw(version: int, reason: str = "Logged twice") -> WithdrawHours:
    return WithdrawHours(PRACTITIONER, DAY_WORKED, event_id(version), reason)


def refused(given: list[Any], command: Any, kind: type[Refused], field: str, **ctx: Any) -> str:
    with pytest.raises(kind) as raised:
        then(given, command, **ctx)
    assert raised.value.field == field
    return raised.value.reason


# Logging.


def test_time_worked_is_logged_as_an_entry_of_the_day():
    command = log(minutes=150, category="court", started_at=time(9, 30), ended_at=time(12))

    assert then([], command) == [
        logged(minutes=150, category="court", started_at=time(9, 30), ended_at=time(12))
    ]


def test_the_day_has_a_stream_of_its_own():
    assert day_stream("P-0001", DAY_WORKED) == "timesheet-P-0001-2025-03-03"


@pytest.mark.parametrize("category", sorted(WORK_CATEGORIES))
def test_every_category_of_work_is_accepted(category: str):
    assert then([], log(category=category)) == [logged(category=category)]


@pytest.mark.parametrize("minutes", [0, -30])
def test_no_time_or_negative_time_is_refused(minutes: int):
    refused([], log(minutes=minutes), InvalidValue, "minutes")


def test_an_entry_longer_than_a_day_is_refused():
    refused([], log(minutes=1441), InvalidValue, "minutes")


def test_an_unknown_category_is_refused():
    reason = refused([], log(category="napping"), InvalidValue, "category")
    assert "casework" in reason


def test_an_interval_needs_both_its_ends():
    refused([], log(started_at=time(9)), InvalidValue, "ended_at")
    refused([], log(ended_at=time(11)), InvalidValue, "started_at")


@pytest.mark.parametrize("ended_at", [time(8, 59), time(9)])
def test_an_interval_ending_before_it_starts_is_refused(ended_at: time):
    refused([], log(minutes=1, started_at=time(9), ended_at=ended_at), InvalidValue, "ended_at")


def test_more_minutes_than_the_interval_holds_are_refused():
    reason = refused(
        [], log(minutes=121, started_at=time(9), ended_at=time(11)), InvalidValue, "minutes"
    )
    assert "(120 minutes)" in reason


def test_a_break_inside_the_interval_is_fine():
    command = log(minutes=90, started_at=time(9), ended_at=time(11))
    assert then([], command) == [logged(minutes=90, started_at=time(9), ended_at=time(11))]


def test_an_interval_overlapping_another_entry_of_the_day_is_refused():
    given = [logged(started_at=time(9), ended_at=time(11))]

    command = log(minutes=60, started_at=time(10, 30), ended_at=time(11, 30))
    reason = refused(given, command, OverlappingTime, "started_at")
    assert str(event_id(1)) in reason


def test_intervals_that_only_touch_do_not_overlap():
    given = [logged(started_at=time(9), ended_at=time(11))]

    command = log(minutes=60, started_at=time(11), ended_at=time(12))
    assert then(given, command) == [logged(minutes=60, started_at=time(11), ended_at=time(12))]


def test_an_entry_overlaps_as_corrected_and_not_once_withdrawn():
    given = [
        logged(started_at=time(9), ended_at=time(11)),
        corrected(1, minutes=60, started_at=time(13), ended_at=time(14)),
        logged(minutes=60, started_at=time(15), ended_at=time(16)),
        withdrawn(3),
    ]

    assert then(given, log(minutes=60, started_at=time(10), ended_at=time(11)))
    assert then(given, log(minutes=60, started_at=time(15), ended_at=time(16)))
    refused(
        given,
        log(minutes=30, started_at=time(13, 30), ended_at=time(14)),
        OverlappingTime,
        "started_at",
    )


def test_more_than_24_hours_in_a_day_across_entries_and_overtime_is_refused():
    given = [logged(minutes=900), overtime(300)]

    reason = refused(given, log(minutes=241), MoreThanADay, "minutes")
    assert "1441 minutes" in reason
    assert then(given, log(minutes=240))[0] == logged(minutes=240)


def test_a_withdrawn_entry_no_longer_counts_towards_the_day():
    given = [logged(minutes=1400), withdrawn(1)]

    assert then(given, log(minutes=1000))[0] == logged(minutes=1000)


def test_time_on_a_day_after_today_is_refused():
    refused([], log(day=TODAY + timedelta(days=1)), InTheFuture, "day")


def test_an_interval_ending_after_now_is_refused():
    command = log(day=TODAY, minutes=60, started_at=time(17, 30), ended_at=time(18, 30))
    refused([], command, InTheFuture, "ended_at", now=time(18))


def test_more_minutes_today_than_today_has_had_are_refused():
    refused([], log(day=TODAY, minutes=541), InTheFuture, "minutes", now=time(9))
    assert then([], log(day=TODAY, minutes=540), now=time(9))


def test_a_manager_logging_for_a_practitioner_must_say_why():
    refused([], log(), OnBehalfReasonRequired, "on_behalf_reason", by_practitioner=False)

    reason = "Pat asked me to log her court day from her diary"
    recorded = then([], log(on_behalf_reason=reason), by_practitioner=False)
    assert recorded == [logged(on_behalf_reason=reason)]


def test_a_practitioner_logging_their_own_time_gives_no_on_behalf_reason():
    refused([], log(on_behalf_reason="myself"), InvalidValue, "on_behalf_reason")


@pytest.mark.parametrize(("note", "reason"), [("  ", "must say something"), ("a\x00b", "control")])
def test_a_note_is_words_a_person_wrote(note: str, reason: str):
    assert reason in refused([], log(note=note), InvalidValue, "note")


def test_a_command_whose_context_was_not_filled_in_is_refused():
    refused([], log(), InvalidValue, "today", today=None)
    refused([], log(), InvalidValue, "contracted_day_minutes", contracted_day_minutes=None)


# TOIL.


@pytest.mark.parametrize(
    ("hours", "working_day", "minutes"),
    [
        (Decimal(37), True, 444),
        (Decimal("37.5"), True, 450),
        (Decimal("22.5"), True, 270),
        (Decimal("18.33"), True, 220),
        (Decimal(0), True, 0),
        (Decimal(37), False, 0),
    ],
)
def test_the_contracted_day_is_a_fifth_of_the_week_on_working_days(hours, working_day, minutes):
    assert contracted_day_minutes(hours, working_day) == minutes


def test_work_beyond_the_contracted_day_accrues_toil():
    given = [logged(minutes=400)]

    assert then(given, log(minutes=100)) == [logged(minutes=100), toil(56)]


def test_work_within_the_contracted_day_accrues_none():
    assert then([], log(minutes=444)) == [logged(minutes=444)]


def test_all_work_on_a_weekend_or_bank_holiday_is_toil():
    assert then([], log(minutes=240), contracted_day_minutes=0) == [
        logged(minutes=240),
        toil(240, contracted=0),
    ]


def test_overtime_earns_no_toil():
    given = [logged(minutes=444)]

    assert then(given, RecordOvertime(PRACTITIONER, DAY_WORKED, 120)) == [overtime(120)]


def test_a_correction_that_lowers_the_day_records_its_new_toil():
    given = [logged(minutes=500), toil(56)]

    assert then(given, correct(1, minutes=450)) == [corrected(1, minutes=450), toil(6)]
    assert then(given, correct(1, minutes=400)) == [corrected(1, minutes=400), toil(0)]


def test_a_withdrawal_takes_the_entry_out_of_the_toil():
    given = [logged(minutes=300), logged(minutes=200), toil(56)]

    assert then(given, withdraw(2)) == [withdrawn(2), toil(0)]


def test_toil_follows_a_change_of_contracted_hours_at_the_next_change_of_the_day():
    given = [logged(minutes=450), toil(6)]

    assert then(given, log(minutes=10), contracted_day_minutes=450) == [
        logged(minutes=10),
        toil(10, contracted=450),
    ]


# Corrections and withdrawals.


def test_a_correction_gives_the_entry_all_its_new_values():
    given = [logged(minutes=120, category="casework", note="Home visit")]

    command = correct(
        1,
        minutes=180,
        category="travel",
        started_at=time(9),
        ended_at=time(12),
        note=None,
        reason="It was the drive to Hull",
    )
    assert then(given, command) == [
        corrected(
            1,
            minutes=180,
            category="travel",
            started_at=time(9),
            ended_at=time(12),
            note=None,
            reason="It was the drive to Hull",
        )
    ]


@pytest.mark.parametrize(
    "entry_id",
    [UUID(int=99), event_id(2)],
    ids=["another-day-or-practitioner", "not-an-entry"],
)
def test_a_correction_of_an_entry_not_on_this_day_is_refused(entry_id: UUID):
    given = [logged(minutes=500), toil(56)]

    command = correct(1, minutes=30)
    reason = refused(
        given, CorrectHours(**{**command.__dict__, "entry_id": entry_id}), NotFound, "entry_id"
    )
    assert str(entry_id) in reason


def test_a_correction_or_withdrawal_of_a_withdrawn_entry_is_refused():
    given = [logged(), withdrawn(1)]

    refused(given, correct(1, minutes=60), EntryWithdrawn, "entry_id")
    refused(given, withdraw(1), EntryWithdrawn, "entry_id")


def test_a_withdrawal_of_an_unknown_entry_is_refused():
    refused([logged()], withdraw(7), NotFound, "entry_id")


def test_corrections_and_withdrawals_say_why():
    refused([logged()], correct(1, minutes=60, reason=" "), InvalidValue, "reason")
    refused([logged()], withdraw(1, reason=""), InvalidValue, "reason")


def test_a_correction_that_changes_nothing_records_nothing():
    assert then([logged(minutes=120)], correct(1, minutes=120)) == []


def test_a_correction_is_held_to_the_rules_of_the_day_without_its_own_old_value():
    given = [
        logged(minutes=120, started_at=time(9), ended_at=time(11)),
        logged(minutes=1200),
    ]

    moved = correct(1, minutes=60, started_at=time(10), ended_at=time(11))
    assert then(given, moved)[0] == corrected(1, minutes=60, started_at=time(10), ended_at=time(11))
    refused(given, correct(1, minutes=241), MoreThanADay, "minutes")
    refused(
        given,
        correct(1, minutes=60, started_at=time(12), ended_at=time(11)),
        InvalidValue,
        "ended_at",
    )


def test_a_corrected_entry_is_corrected_again_from_its_latest_values():
    given = [logged(minutes=120), corrected(1, minutes=200), toil(0)]

    assert then(given, correct(1, minutes=200)) == []


def test_the_decisions_are_the_facts_of_the_day():
    recorded = then([], log())
    assert isinstance(recorded[0], HoursLogged)
    assert isinstance(then([logged()], correct(1, minutes=1))[0], HoursCorrected)
    assert isinstance(then([logged()], withdraw(1))[0], HoursWithdrawn)


# Overtime.


def test_the_practitioner_records_their_voluntary_overtime():
    command = RecordOvertime(PRACTITIONER, DAY_WORKED, 240, "Saturday court rota")

    assert then([], command) == [overtime(240, "Saturday court rota")]


def test_nobody_records_overtime_for_a_practitioner():
    command = RecordOvertime(PRACTITIONER, DAY_WORKED, 240)

    refused([], command, PractitionerOnly, "practitioner_id", by_practitioner=False)


def test_overtime_is_held_to_the_day_and_the_clock():
    refused(
        [logged(minutes=1400)],
        RecordOvertime(PRACTITIONER, DAY_WORKED, 41),
        MoreThanADay,
        "minutes",
    )
    refused([], RecordOvertime(PRACTITIONER, DAY_WORKED, 0), InvalidValue, "minutes")
    future = RecordOvertime(PRACTITIONER, TODAY + timedelta(days=2), 60)
    refused([], future, InTheFuture, "day")


# Sheets.


def test_a_sheet_row_the_day_already_holds_records_nothing():
    given = [logged(minutes=120, note="Visits"), logged(minutes=60)]

    assert then(given, log(minutes=120, note="Visits", sheet_occurrence=1)) == []
    assert then(given, log(minutes=120, note="Visits", sheet_occurrence=2)) == [
        logged(minutes=120, note="Visits")
    ]


def test_a_sheet_row_whose_entry_was_corrected_or_withdrawn_is_recorded_again():
    given = [logged(minutes=120), corrected(1, minutes=90), logged(minutes=60), withdrawn(3)]

    assert then(given, log(minutes=120, sheet_occurrence=1)) == [logged(minutes=120)]
    assert then(given, log(minutes=60, sheet_occurrence=1)) == [logged(minutes=60)]
    assert then(given, log(minutes=90, sheet_occurrence=1)) == []
