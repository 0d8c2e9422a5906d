"""Working-time figures: ISO weeks, leave as contracted time, rolling averages, TOIL balance."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from plimsoll_platform.clock import is_working_day
from plimsoll_timesheet.domain import (
    DayRecord,
    IsoWeek,
    LeaveSpan,
    contracted_day_minutes,
    rolling_average,
    team_average,
    toil_taken,
    week_figures,
    window,
)

STARTED = date(2025, 1, 6)
W10 = IsoWeek(2025, 10)  # Monday 3 March to Sunday 9 March 2025
EASTER = IsoWeek(2025, 17)  # Easter Monday, 21 April 2025, is a bank holiday


def contract(day: date) -> int | None:
    """37 hours a week from 6 January 2025."""
    if day < STARTED:
        return None
    return contracted_day_minutes(Decimal(37), is_working_day(day))


def worked(day: date, minutes: int, category: str = "casework", **extra: int) -> DayRecord:
    return DayRecord(day=day, minutes_by_category={category: minutes}, **extra)


def leave(kind: str, first: date, last: date, minutes: int | None = None) -> LeaveSpan:
    return LeaveSpan(f"L-{kind}", kind, first, last, minutes)


def week_of(minutes_a_day: int, week: IsoWeek = W10, days: int = 5) -> dict[date, DayRecord]:
    return {d: worked(d, minutes_a_day) for d in list(week.days())[:days]}


def test_iso_weeks_run_monday_to_sunday():
    assert IsoWeek.parse("2025-W10") == W10
    assert (W10.first_day, W10.last_day) == (date(2025, 3, 3), date(2025, 3, 9))
    assert IsoWeek.of(date(2024, 12, 30)) == IsoWeek(2025, 1)
    assert str(W10.back(10)) == "2024-W52"
    assert window(W10, 4) == [IsoWeek(2025, w) for w in (7, 8, 9, 10)]


@pytest.mark.parametrize("text", ["2025-10", "2025-W1", "25-W10", "2025-W54", "2025-W53"])
def test_a_week_that_is_not_an_iso_week_is_refused(text: str):
    with pytest.raises(ValueError, match=r"ISO week|week"):
        IsoWeek.parse(text)


def test_a_week_adds_up_minutes_by_category_overtime_and_the_contract():
    records = {
        date(2025, 3, 3): DayRecord(
            date(2025, 3, 3), {"casework": 300, "court": 200}, overtime_minutes=0, toil_minutes=56
        ),
        date(2025, 3, 4): worked(date(2025, 3, 4), 444, "report-writing"),
        date(2025, 3, 8): DayRecord(date(2025, 3, 8), {}, overtime_minutes=240),
    }

    figures = week_figures(W10, records, [], contract)

    assert figures.minutes_by_category == {"casework": 300, "court": 200, "report-writing": 444}
    assert figures.worked_minutes == 944
    assert figures.overtime_minutes == 240
    assert figures.toil_accrued_minutes == 56
    assert figures.contracted_minutes == 5 * 444
    assert figures.counted_minutes == 944 + 240


def test_a_bank_holiday_is_not_a_contracted_day():
    assert week_figures(EASTER, {}, [], contract).contracted_minutes == 4 * 444


def test_a_whole_day_of_leave_counts_as_the_contracted_day_on_working_days_only():
    annual = leave("annual", date(2025, 4, 17), date(2025, 4, 22))  # Thu to Tue, over Easter

    before = week_figures(IsoWeek(2025, 16), {}, [annual], contract)
    after = week_figures(EASTER, {}, [annual], contract)

    assert before.leave_minutes == 444  # Thursday; Good Friday and the weekend are not worked
    assert after.leave_minutes == 444  # Tuesday; Easter Monday is a bank holiday


def test_a_part_day_of_leave_counts_its_minutes_at_most_the_contracted_day():
    phased = leave("phased-return", W10.first_day, W10.last_day, minutes=222)
    sick = leave("sickness", W10.first_day, W10.first_day, minutes=600)

    assert week_figures(W10, {}, [phased], contract).leave_minutes == 5 * 222
    assert week_figures(W10, {}, [sick], contract).leave_minutes == 444


def test_toil_leave_credits_no_time_and_draws_on_the_balance():
    toil = leave("toil", date(2025, 3, 7), date(2025, 3, 7))

    figures = week_figures(W10, week_of(444, days=4), [toil], contract)

    assert figures.leave_minutes == 0
    assert figures.toil_leave_minutes == 444
    assert figures.counted_minutes == 4 * 444


def test_days_out_of_post_have_no_contract_and_no_leave_credit():
    first_week = IsoWeek(2025, 1)  # 30 December to 5 January: before they started
    annual = leave("annual", date(2024, 12, 30), date(2025, 1, 7))

    figures = week_figures(first_week, {}, [annual], contract)

    assert (figures.contracted_minutes, figures.leave_minutes, figures.days_in_post) == (0, 0, 0)


def test_one_long_week_takes_the_four_week_average_above_contract():
    weeks = [IsoWeek(2025, w) for w in (7, 8, 9, 10)]
    records = {**week_of(444, weeks[0]), **week_of(444, weeks[1]), **week_of(444, weeks[2])}
    records |= week_of(444 + 12, weeks[3])  # one hour more across the last week

    average = rolling_average([week_figures(w, records, [], contract) for w in weeks])

    assert average.weeks_counted == 4
    assert average.contracted_average_minutes == Decimal(2220)
    assert average.average_minutes == Decimal("2235.00")
    assert average.above_contract
    assert not average.above_48_hours


def test_leave_keeps_the_average_at_contract_rather_than_lowering_it():
    weeks = window(W10, 4)
    records = {**week_of(444, weeks[0]), **week_of(444, weeks[1]), **week_of(444, weeks[3])}
    annual = leave("annual", weeks[2].first_day, weeks[2].last_day)

    average = rolling_average([week_figures(w, records, [annual], contract) for w in weeks])

    assert average.counted_minutes == average.contracted_minutes == 4 * 2220
    assert not average.above_contract


def test_seventeen_weeks_above_48_hours_on_average_break_the_limit_unless_opted_out():
    weeks = window(IsoWeek(2025, 20), 17)
    records: dict[date, DayRecord] = {}
    for week in weeks:
        records |= week_of(577, week)  # 48 h 5 min a week

    figures = [week_figures(w, records, [], contract) for w in weeks]
    average = rolling_average(figures)
    opted_out = rolling_average(figures, opted_out=True)

    assert average.above_48_hours
    assert average.limit_applies
    assert opted_out.above_48_hours
    assert not opted_out.limit_applies
    assert average.average_minutes == Decimal(2885)


def test_weeks_before_the_practitioner_started_are_left_out_of_the_average():
    weeks = window(IsoWeek(2025, 3), 17)  # 2024-W38 to 2025-W03; in post from 2025-W02
    records = {**week_of(480, IsoWeek(2025, 2)), **week_of(480, IsoWeek(2025, 3))}

    average = rolling_average([week_figures(w, records, [], contract) for w in weeks])

    assert (average.window_weeks, average.weeks_counted) == (17, 2)
    assert average.average_minutes == Decimal(2400)


def test_no_week_in_post_gives_no_average():
    average = rolling_average([week_figures(IsoWeek(2024, 50), {}, [], contract)])

    assert average.average_minutes is None
    assert not average.above_contract
    assert not average.above_48_hours


def test_toil_taken_counts_each_working_day_of_toil_leave_up_to_the_day():
    toil = [
        leave("toil", date(2025, 3, 7), date(2025, 3, 10)),  # Fri, weekend, Mon
        LeaveSpan("L-half", "toil", date(2025, 3, 12), date(2025, 3, 12), 120),
        leave("annual", date(2025, 3, 3), date(2025, 3, 4)),
    ]

    assert toil_taken(toil, contract, date(2025, 3, 9)) == 444
    assert toil_taken(toil, contract, date(2025, 3, 31)) == 2 * 444 + 120
    assert toil_taken(toil, contract, date(2025, 3, 6)) == 0


def test_the_window_counts_back_across_years():
    assert window(IsoWeek(2026, 1), 2) == [IsoWeek(2025, 52), IsoWeek(2026, 1)]
    assert IsoWeek(2026, 1).back(1).last_day + timedelta(days=1) == IsoWeek(2026, 1).first_day


def test_a_team_pools_its_members_and_counts_who_is_above():
    weeks = window(W10, 4)
    long_weeks: dict[date, DayRecord] = {}
    for week in weeks:
        long_weeks |= week_of(600, week)
    at_contract: dict[date, DayRecord] = {}
    for week in weeks:
        at_contract |= week_of(444, week)

    def average(records, opted_out=False):
        return rolling_average(
            [week_figures(w, records, [], contract) for w in weeks], opted_out=opted_out
        )

    team = team_average(
        [average(long_weeks), average(long_weeks, opted_out=True), average(at_contract)]
    )

    assert team.practitioners == 3
    assert team.above_contract == 2
    assert team.above_48_hours == 1  # the opted-out one is above too, but not held to it
    assert team.opted_out == 1
    assert team.average_minutes == Decimal((2 * 3000 + 2220) * 4) / 12
