"""The clock's UK day, and working days in England and Wales, on real dates."""

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest
from plimsoll_platform.clock import (
    FixedClock,
    SystemClock,
    add_working_days,
    bank_holidays,
    is_working_day,
    uk_day,
    working_days_between,
)


def test_today_is_the_uk_day_not_the_utc_day():
    # 23:30 UTC on 30 June is 00:30 BST on 1 July: a UK working day has begun.
    clock = FixedClock(datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    assert clock.today() == date(2026, 7, 1)
    # In winter the UK is on UTC.
    clock.set(datetime(2026, 12, 31, 23, 30, tzinfo=UTC))
    assert clock.today() == date(2026, 12, 31)


def test_fixed_clock_moves_only_when_told():
    clock = FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert clock.now() == clock.now() == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert clock.advance(timedelta(days=1, hours=15)) == datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
    assert clock.today() == date(2026, 12, 3)


def test_clocks_refuse_naive_times_and_answer_in_utc():
    with pytest.raises(ValueError, match="aware"):
        FixedClock(datetime(2026, 12, 1, 9, 0))
    with pytest.raises(ValueError, match="aware"):
        uk_day(datetime(2026, 12, 1, 9, 0))
    now = SystemClock().now()
    assert now.utcoffset() == timedelta(0)
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)


def test_five_working_days_after_christmas_eve_skip_christmas_boxing_day_and_the_weekend():
    # Thu 24 Dec 2026; Fri 25 Christmas, Sat 26 Boxing Day (substitute Mon 28),
    # so: Tue 29, Wed 30, Thu 31, Fri 1 Jan is New Year's Day, Mon 4, Tue 5.
    assert add_working_days(date(2026, 12, 24), 5) == date(2027, 1, 5)
    assert not is_working_day(date(2026, 12, 28))
    assert is_working_day(date(2026, 12, 29))
    assert working_days_between(date(2026, 12, 24), date(2027, 1, 5)) == 5


def test_easter_2027_takes_good_friday_and_easter_monday():
    # Good Friday 26 March 2027, Easter Monday 29 March.
    assert not is_working_day(date(2027, 3, 26))
    assert not is_working_day(date(2027, 3, 29))
    assert add_working_days(date(2027, 3, 25), 1) == date(2027, 3, 30)
    assert working_days_between(date(2027, 3, 22), date(2027, 4, 2)) == 7


def test_the_2026_early_may_and_spring_bank_holidays():
    assert bank_holidays(2026)[date(2026, 5, 4)] == "May Day"
    assert bank_holidays(2026)[date(2026, 5, 25)] == "Spring Bank Holiday"
    assert add_working_days(date(2026, 5, 1), 1) == date(2026, 5, 5)  # Fri -> Tue
    assert add_working_days(date(2026, 5, 22), 2) == date(2026, 5, 27)  # Fri -> Wed
    assert working_days_between(date(2026, 5, 1), date(2026, 5, 29)) == 18


def test_one_off_bank_holidays_count():
    assert not is_working_day(date(2022, 9, 19))  # the state funeral
    assert not is_working_day(date(2023, 5, 8))  # the coronation


def test_adding_zero_or_negative_working_days():
    assert add_working_days(date(2026, 12, 26), 0) == date(2026, 12, 26)
    assert add_working_days(date(2027, 1, 5), -5) == date(2026, 12, 24)
    assert working_days_between(date(2027, 1, 5), date(2026, 12, 24)) == -5


def test_adding_then_counting_working_days_round_trips():
    start = date(2026, 11, 20)
    for n in range(0, 60):
        assert working_days_between(start, add_working_days(start, n)) == n


def test_england_and_wales_share_their_bank_holidays_2020_to_2030():
    for year in range(2020, 2031):
        wales = holidays.country_holidays("GB", subdiv="WLS", years=year)
        assert dict(bank_holidays(year)) == dict(wales.items()), year
        assert len(bank_holidays(year)) >= 8, year
