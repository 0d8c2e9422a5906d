"""When a scheduled job is due: its slots, in UTC and on the UK wall clock (no I/O)."""

from datetime import UTC, datetime, time, timedelta

import pytest
from plimsoll_platform.jobs import Job


def nothing(_: datetime) -> None:
    pass


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_every_n_seconds_slots_are_aligned_to_the_epoch():
    job = Job("six-hourly", nothing, every=timedelta(hours=6))
    assert job.slot(utc(2026, 12, 1, 13, 59, 59)) == utc(2026, 12, 1, 12)
    assert job.slot(utc(2026, 12, 1, 12)) == utc(2026, 12, 1, 12)  # due at that instant
    assert job.next_slot(utc(2026, 12, 1, 12)) == utc(2026, 12, 1, 18)


def test_daily_at_a_uk_time_follows_british_summer_time():
    job = Job("nightly", nothing, daily_at=time(0, 5))
    # Winter: 00:05 UK is 00:05 UTC.
    assert job.slot(utc(2026, 12, 1, 9)) == utc(2026, 12, 1, 0, 5)
    assert job.slot(utc(2026, 12, 1, 0, 4)) == utc(2026, 11, 30, 0, 5)
    # Summer: 00:05 BST is 23:05 UTC the day before.
    assert job.slot(utc(2026, 7, 1, 9)) == utc(2026, 6, 30, 23, 5)
    assert job.next_slot(utc(2026, 6, 30, 23, 5)) == utc(2026, 7, 1, 23, 5)


def test_a_time_the_clocks_skip_runs_later_that_day_and_a_repeated_one_runs_once():
    job = Job("small-hours", nothing, daily_at=time(1, 30))
    # 29 March 2026: clocks go from 01:00 GMT to 02:00 BST; 01:30 never happens.
    assert job.next_slot(utc(2026, 3, 29, 0, 0)) == utc(2026, 3, 29, 1, 30)  # 02:30 BST
    # 25 October 2026: 01:30 happens twice; the slot is the first (BST) one.
    first = utc(2026, 10, 25, 0, 30)
    assert job.next_slot(utc(2026, 10, 24, 23, 0)) == first
    assert job.slot(utc(2026, 10, 25, 1, 45)) == first  # the second 01:30 is the same slot
    assert job.next_slot(first) == utc(2026, 10, 26, 1, 30)


def test_both_schedules_take_the_nearest_slot():
    job = Job("both", nothing, every=timedelta(hours=6), daily_at=time(7, 0))
    assert job.slot(utc(2026, 12, 1, 8)) == utc(2026, 12, 1, 7)
    assert job.slot(utc(2026, 12, 1, 6, 30)) == utc(2026, 12, 1, 6)
    assert job.next_slot(utc(2026, 12, 1, 6, 30)) == utc(2026, 12, 1, 7)


def test_a_job_needs_a_name_and_a_schedule():
    with pytest.raises(ValueError, match="name"):
        Job("", nothing, every=timedelta(minutes=1))
    with pytest.raises(ValueError, match="every"):
        Job("never", nothing)
    with pytest.raises(ValueError, match="whole number"):
        Job("too-often", nothing, every=timedelta(milliseconds=1500))
    with pytest.raises(ValueError, match="wall-clock"):
        Job("zoned", nothing, daily_at=time(0, 5, tzinfo=UTC))
