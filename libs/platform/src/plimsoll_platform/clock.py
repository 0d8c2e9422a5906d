"""Time as Plimsoll's services see it: one clock, the UK calendar, and working days.

Guarantees:

* `Clock.now()` is an aware datetime in UTC; `Clock.today()` is the day in
  Europe/London. Probation and Cafcass work to the UK calendar, so "today" is
  never the server's local day nor the UTC day (between midnight and 01:00 BST
  those differ). Services take a `Clock` and never read the system time
  themselves, so tests move time with a `FixedClock`.
* Working days are Monday to Friday except the bank holidays of England and
  Wales (from the pinned `holidays` package, `GB` subdivision `ENG`; Wales has
  the same bank holidays, which a unit test checks for 2020-2030). Substitute
  days (Boxing Day on a Saturday observed on the Monday) and one-off holidays
  (a coronation, a state funeral) are included.
* `add_working_days(day, n)` is the n-th working day after `day` (`day` itself
  never counts), and `working_days_between(start, end)` counts the working days
  after `start` up to and including `end`, so for n >= 0 the two are inverse:
  `working_days_between(d, add_working_days(d, n)) == n`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

UK = ZoneInfo("Europe/London")
"""The zone of the working day: probation and Cafcass work to the UK calendar."""

SATURDAY = 5


class Clock(Protocol):
    """Where a service gets the time from."""

    def now(self) -> datetime:
        """This instant, aware, in UTC."""
        ...

    def today(self) -> date:
        """Today in the UK."""
        ...


def uk_day(instant: datetime) -> date:
    """The UK calendar day an instant falls on."""
    if instant.tzinfo is None:
        raise ValueError("an instant must be timezone-aware to have a UK day")
    return instant.astimezone(UK).date()


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return uk_day(self.now())


class FixedClock:
    """A clock that stands still until a test sets or advances it; safe across threads."""

    def __init__(self, now: datetime) -> None:
        self._lock = threading.Lock()
        self._now = _aware_utc(now)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def today(self) -> date:
        return uk_day(self.now())

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = _aware_utc(now)

    def advance(self, by: timedelta) -> datetime:
        """Move the clock on by `by`; returns the new now."""
        with self._lock:
            self._now += by
            return self._now


def _aware_utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("a clock's time must be timezone-aware")
    return instant.astimezone(UTC)


# Working days in England and Wales.


@lru_cache(maxsize=256)
def _bank_holidays(year: int) -> Mapping[date, str]:
    # A new holidays object per year, frozen: the package's own objects fill in years
    # lazily on lookup, which is not safe to share between threads.
    found = holidays.country_holidays("GB", subdiv="ENG", years=year)
    return MappingProxyType(dict(found.items()))


def bank_holidays(year: int) -> Mapping[date, str]:
    """England and Wales bank holidays of `year` (substitute days included), by name."""
    return _bank_holidays(year)


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a bank holiday in England and Wales."""
    return day.weekday() < SATURDAY and day not in _bank_holidays(day.year)


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after `day` (before it, for negative n); `day` itself never counts.

    The deadline "within 5 working days" of something on `day` is
    `add_working_days(day, 5)`. With n == 0 the answer is `day`, working day or not.
    """
    step = timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`; negative when `end` is earlier.

    So a deadline set on `start` and met on `end` took this many working days.
    """
    if end < start:
        return -working_days_between(end, start)
    count = 0
    day = start
    while day < end:
        day += timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count
