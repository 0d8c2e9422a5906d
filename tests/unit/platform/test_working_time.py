"""The working-time arithmetic timesheet shows and wellbeing judges by, held to its rule: random
records against a day-by-day reading of the rule in exact fractions, and the figures a breach
quotes, to the minute and the hundredth of an hour."""

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor

import pytest
from plimsoll_platform.clock import is_working_day
from plimsoll_platform.working_time import (
    FORTY_EIGHT_HOURS,
    IsoWeek,
    LeaveSpan,
    Week,
    contracted_day_minutes,
    opted_out_on,
    rolling_average,
    toil_taken,
    week_of,
    window,
)

KINDS = ("annual", "sickness", "toil", "training")
W10 = IsoWeek(2025, 10)  # Monday 3 March to Sunday 9 March 2025


@dataclass(frozen=True)
class Worked:
    worked_minutes: int = 0
    overtime_minutes: int = 0


def half_up(value: Fraction) -> int:
    """The nearest whole number, halves up (values here are never negative)."""
    return floor(value + Fraction(1, 2))


def hundredths(value: Fraction) -> str:
    cents = half_up(value * 100)
    return f"{cents // 100}.{cents % 100:02d}"


def by_the_rule(last: IsoWeek, n: int, days, spans, contracted) -> dict[tuple[int, int], list]:
    """Each week of the window as the rule reads, day by day: [counted, contracted, in post]."""
    weeks: dict[tuple[int, int], list] = {}
    first = last.first_day - timedelta(weeks=n - 1)
    for i in range(7 * n):
        day = first + timedelta(days=i)
        year, week, _ = day.isocalendar()
        row = weeks.setdefault((year, week), [0, 0, 0])
        work = days.get(day)
        if work is not None:
            row[0] += work.worked_minutes + work.overtime_minutes
        minutes = contracted(day)
        if minutes is None:
            continue
        row[1] += minutes
        row[2] += 1
        for s in spans:
            if s.kind != "toil" and s.first_day <= day <= s.last_day:
                row[0] += minutes if s.minutes_per_day is None else min(minutes, s.minutes_per_day)
    return weeks


@pytest.mark.parametrize("seed", range(25))
def test_weeks_and_averages_follow_the_rule_on_random_records(seed):
    rng = random.Random(seed)
    hours = Decimal(rng.choice(["37", "30", "22.5", "18.75", "0"]))
    start = date(2025, 1, 1) + timedelta(days=rng.randrange(60))
    leaving = None if rng.random() < 0.7 else start + timedelta(days=rng.randrange(30, 150))

    def contracted(day: date) -> int | None:
        if day < start or (leaving is not None and day > leaving):
            return None
        return contracted_day_minutes(hours, is_working_day(day))

    last = IsoWeek.of(date(2025, 5, 20))
    days: dict[date, Worked] = {}
    for week in window(last, 20):
        for day in week.days():
            if rng.random() < 0.6:
                days[day] = Worked(rng.randrange(0, 700), rng.choice([0, 0, 90]))
    spans = []
    for i in range(rng.randrange(5)):
        first = date(2025, 1, 6) + timedelta(days=rng.randrange(120))
        spans.append(
            LeaveSpan(
                f"L-{i}",
                KINDS[i % 4],
                first,
                first + timedelta(days=rng.randrange(8)),
                rng.choice([None, 120, 600]),
            )
        )

    for n in (1, 4, 17, 20):
        weeks = [week_of(w, days, spans, contracted) for w in window(last, n)]
        expected = by_the_rule(last, n, days, spans, contracted)
        assert [(w.week.year, w.week.week) for w in weeks] == list(expected)
        assert [[w.counted_minutes, w.contracted_minutes, w.days_in_post] for w in weeks] == list(
            expected.values()
        )
        first_day, last_day = weeks[0].week.first_day, weeks[-1].week.last_day
        assert sum(w.toil_leave_minutes for w in weeks) == toil_taken(
            spans, contracted, last_day
        ) - toil_taken(spans, contracted, first_day - timedelta(days=1))

        average = rolling_average(weeks)
        in_post = [row for row in expected.values() if row[2] > 0]
        counted, contract = sum(r[0] for r in in_post), sum(r[1] for r in in_post)
        assert (average.window_weeks, average.weeks_counted) == (n, len(in_post))
        assert (average.counted_minutes, average.contracted_minutes) == (counted, contract)
        if not in_post:
            assert (average.average_hours, average.contracted_average_hours) == (None, None)
            assert (average.above_contract, average.above_48_hours) == (False, False)
            continue
        mean = Fraction(counted, len(in_post))
        assert str(average.average_hours) == hundredths(mean / 60)
        assert str(average.contracted_average_hours) == hundredths(
            Fraction(contract, len(in_post)) / 60
        )
        assert str(average.average_minutes) == hundredths(mean)
        assert average.above_contract == (mean > Fraction(contract, len(in_post)))
        assert average.above_48_hours == (mean > FORTY_EIGHT_HOURS) == average.above_hours(48)
        assert average.above_hours(20) == (mean > 20 * 60)


@pytest.mark.parametrize(
    ("hours", "minutes"),
    [("37", 444), ("37.5", 450), ("22.5", 270), ("18.75", 225), ("7.25", 87), ("0", 0)],
)
def test_the_contracted_day_is_a_fifth_of_the_week_on_working_days(hours, minutes):
    assert contracted_day_minutes(Decimal(hours), True) == minutes
    assert contracted_day_minutes(Decimal(hours), False) == 0


def test_the_contracted_day_rounds_to_the_nearest_minute_halves_up():
    assert contracted_day_minutes(Decimal("18.125"), True) == 218  # 217.5
    assert contracted_day_minutes(Decimal("18.12"), True) == 217  # 217.44
    rng = random.Random(7)
    for _ in range(500):
        hours = Decimal(rng.randrange(0, 60_000)) / 1000
        expected = half_up(Fraction(hours) * 60 / 5)
        assert contracted_day_minutes(hours, True) == expected, hours


def test_leave_takes_the_contracted_day_or_its_part_of_it_on_its_days_only():
    whole = LeaveSpan("L-1", "annual", date(2025, 3, 4), date(2025, 3, 6), None)
    part = LeaveSpan("L-2", "annual", date(2025, 3, 4), date(2025, 3, 6), 120)
    assert [whole.minutes_on(date(2025, 3, d), 444) for d in (3, 4, 6, 7)] == [0, 444, 444, 0]
    assert (part.minutes_on(date(2025, 3, 5), 444), part.minutes_on(date(2025, 3, 5), 90)) == (
        120,
        90,
    )
    assert whole.minutes_on(date(2025, 3, 5), 0) == whole.minutes_on(date(2025, 3, 5), None) == 0


def test_a_week_counts_work_overtime_and_leave_credit_but_not_toil_leave():
    def contracted(day: date) -> int | None:
        return contracted_day_minutes(Decimal(37), is_working_day(day))

    days = {date(2025, 3, 3): Worked(500, 60), date(2025, 3, 8): Worked(0, 240)}
    leave = [
        LeaveSpan("L-1", "annual", date(2025, 3, 4), date(2025, 3, 4), None),
        LeaveSpan("L-2", "toil", date(2025, 3, 5), date(2025, 3, 5), None),
    ]
    assert week_of(W10, days, leave, contracted) == Week(
        week=W10,
        worked_minutes=500,
        overtime_minutes=300,
        leave_minutes=444,
        toil_leave_minutes=444,
        contracted_minutes=5 * 444,
        days_in_post=7,
    )
    assert week_of(W10, days, leave, contracted).counted_minutes == 500 + 300 + 444


def test_exactly_the_limit_is_not_above_it_and_weeks_out_of_post_are_not_counted():
    def in_post_from_w9(day: date) -> int | None:
        return None if day < IsoWeek(2025, 9).first_day else 0

    days = {
        d: Worked(FORTY_EIGHT_HOURS // 2)
        for w in (9, 10)
        for d in list(IsoWeek(2025, w).days())[:2]
    }
    average = rolling_average([week_of(w, days, [], in_post_from_w9) for w in window(W10, 4)])
    assert (average.window_weeks, average.weeks_counted) == (4, 2)
    assert str(average.average_hours) == "48.00"
    assert (average.above_48_hours, average.above_hours(48)) == (False, False)
    assert (average.above_hours(47), average.above_contract) == (True, True)
    assert (str(average.first_week), str(average.last_week)) == ("2025-W07", "2025-W10")


def test_iso_weeks_and_windows_cross_the_year():
    assert IsoWeek.parse("2025-W10") == W10
    assert (W10.first_day, W10.last_day) == (date(2025, 3, 3), date(2025, 3, 9))
    assert window(IsoWeek(2026, 1), 2) == [IsoWeek(2025, 52), IsoWeek(2026, 1)]
    assert str(IsoWeek(2021, 1).back(1)) == "2020-W53"
    with pytest.raises(ValueError, match="week"):
        IsoWeek.parse("2025-W53")


def test_the_opt_out_on_a_day_is_the_latest_recorded_change_in_effect():
    april, october = date(2025, 4, 1), date(2025, 10, 1)
    assert opted_out_on([(april, True), (october, False)], date(2025, 6, 1))
    assert not opted_out_on([(april, True), (october, False)], october)
    assert not opted_out_on([(october, True), (april, False)], date(2025, 11, 1))
    assert not opted_out_on([], october)
