"""Working time, exactly, in minutes: ISO weeks, the contracted day, leave as contracted time,
the rolling averages and the TOIL taken as leave (pure: no I/O, no clock).

Timesheet shows these figures and wellbeing judges its duty-of-care rules by them, so both
import this one module. The caller hands in what was recorded (each day's work and overtime,
leave, opt-out changes) and `contracted_day`, the contracted minutes of a day from the
practitioner's placement (`contracted_day_minutes`; None on a day they were not in post).

The rule for the averages (the Cafcass joint statement: over any 4 weeks no more than
contracted hours on average; the Working Time Regulations 1998: no more than 48 hours on
average over 17 weeks):

* A week is an ISO week, Monday to Sunday. A window is the N weeks (4 or 17)
  ending with the chosen week, that week as recorded so far.
* The contracted day is contracted hours x 60 / 5 on a working day (Monday to
  Friday except England and Wales bank holidays, `clock.is_working_day`), to the
  nearest minute, halves up; 0 on weekends and bank holidays.
* A day's counted time is its work (entries as they stand now) plus voluntary
  overtime plus its leave credit. A whole day of leave credits the contracted
  day; a part day its minutes, at most the contracted day. Only working days in
  post earn credit (the contracted day is 0 on others). This is how the
  regulations keep leave from lowering an average over the reference period
  (they set leave days aside; counting them as contracted time is the same for
  a practitioner working their contract). TOIL leave credits nothing: the hours
  it gives back were counted when they were worked.
* A week's contracted time is the sum of its contracted days.
* Weeks with no day in post are left out of N: someone who started 6 weeks ago
  is averaged over those 6 (as the regulations do for new workers). No week in
  post: no average.
* Average = sum counted / N, against sum contracted / N and 48 hours (2,880
  minutes); above means strictly above, compared on exact integer totals. The
  48-hour limit does not apply while the practitioner is opted out on the
  window's last day (the figure still shows). The opt-out applying on a day is
  the latest recorded change effective by then.
* Averages shown are exact decimals to 2 places, halves up.

TOIL taken as leave: a whole day of TOIL leave takes the contracted day, a part
day its minutes (`toil_taken`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, Protocol

FORTY_EIGHT_HOURS: Final = 48 * 60
"""The Working Time Regulations' limit on the average week, in minutes."""
CONTRACT_WINDOW_WEEKS: Final = 4
"""The Cafcass window: the average week against contracted hours."""
REFERENCE_PERIOD_WEEKS: Final = 17
"""The Working Time Regulations' reference period: the average week against 48 hours."""
WORKING_DAYS_A_WEEK: Final = 5
TOIL: Final = "toil"
"""The leave kind that gives back time already counted: it credits nothing."""
_ONE_DAY: Final = timedelta(days=1)

ContractedDay = Callable[[date], "int | None"]
"""The contracted minutes of a day; None when the practitioner was not in post."""


def contracted_day_minutes(contracted_hours: Decimal, working_day: bool) -> int:
    """Contracted hours x 60 / 5 on a working day, to the nearest minute (halves up); else 0."""
    if not working_day:
        return 0
    minutes = contracted_hours * 60 / WORKING_DAYS_A_WEEK
    return int(minutes.to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week, `2025-W10`: Monday to Sunday."""

    year: int
    week: int

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """`YYYY-Www`; ValueError for anything else or a week the year does not have."""
        year, separator, week = text.partition("-W")
        if not separator or len(year) != 4 or len(week) != 2:
            raise ValueError(f"{text!r} is not an ISO week such as 2025-W10")
        parsed = cls(int(year), int(week))
        parsed.first_day  # noqa: B018 - raises for week 53 of a 52-week year
        return parsed

    @property
    def first_day(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def last_day(self) -> date:
        return self.first_day + 6 * _ONE_DAY

    def days(self) -> Iterator[date]:
        first = self.first_day
        return (first + n * _ONE_DAY for n in range(7))

    def back(self, weeks: int) -> IsoWeek:
        """The week `weeks` before this one."""
        return IsoWeek.of(self.first_day - timedelta(weeks=weeks))

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"


def window(last_week: IsoWeek, weeks: int) -> list[IsoWeek]:
    """The `weeks` ISO weeks ending with `last_week`, oldest first."""
    return [last_week.back(n) for n in range(weeks - 1, -1, -1)]


@dataclass(frozen=True)
class LeaveSpan:
    """Leave as recorded and not cancelled."""

    leave_id: str
    kind: str
    first_day: date
    last_day: date
    minutes_per_day: int | None
    """None: whole days."""

    def minutes_on(self, day: date, contracted: int | None) -> int:
        """What the leave takes of `day`: the contracted day, or its part of it (0 off it)."""
        if not self.first_day <= day <= self.last_day or not contracted:
            return 0
        return contracted if self.minutes_per_day is None else min(self.minutes_per_day, contracted)


class DayWork(Protocol):
    """What a day counts of its own: its entries as they stand now and its overtime."""

    @property
    def worked_minutes(self) -> int: ...

    @property
    def overtime_minutes(self) -> int: ...


@dataclass(frozen=True)
class Week:
    """One practitioner's ISO week, as the averages count it."""

    week: IsoWeek
    worked_minutes: int
    overtime_minutes: int
    leave_minutes: int
    """Leave credited as contracted time (every kind but TOIL)."""
    toil_leave_minutes: int
    """TOIL taken as leave this week."""
    contracted_minutes: int
    days_in_post: int

    @property
    def counted_minutes(self) -> int:
        """What the averages count: work, overtime and leave credit."""
        return self.worked_minutes + self.overtime_minutes + self.leave_minutes


def week_of(
    week: IsoWeek,
    days: Mapping[date, DayWork],
    leave: Sequence[LeaveSpan],
    contracted_day: ContractedDay,
) -> Week:
    """The week from its days' work, the leave and the contract."""
    worked = overtime = leave_credit = toil_leave = contracted_total = in_post = 0
    for day in week.days():
        work = days.get(day)
        if work is not None:
            worked += work.worked_minutes
            overtime += work.overtime_minutes
        contracted = contracted_day(day)
        if contracted is None:
            continue
        in_post += 1
        contracted_total += contracted
        for span in leave:
            taken = span.minutes_on(day, contracted)
            if span.kind == TOIL:
                toil_leave += taken
            else:
                leave_credit += taken
    return Week(
        week=week,
        worked_minutes=worked,
        overtime_minutes=overtime,
        leave_minutes=leave_credit,
        toil_leave_minutes=toil_leave,
        contracted_minutes=contracted_total,
        days_in_post=in_post,
    )


def _per_week(minutes: int, weeks: int) -> Decimal | None:
    if weeks == 0:
        return None
    return (Decimal(minutes) / weeks).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class RollingAverage:
    """The average week over a window of weeks, against the contract and a weekly limit."""

    first_week: IsoWeek
    last_week: IsoWeek
    window_weeks: int
    weeks_counted: int
    """Weeks with a day in post: the divisor."""
    counted_minutes: int
    contracted_minutes: int
    opted_out: bool

    @property
    def average_minutes(self) -> Decimal | None:
        return _per_week(self.counted_minutes, self.weeks_counted)

    @property
    def contracted_average_minutes(self) -> Decimal | None:
        return _per_week(self.contracted_minutes, self.weeks_counted)

    @property
    def average_hours(self) -> Decimal | None:
        return _per_week(self.counted_minutes, self.weeks_counted * 60)

    @property
    def contracted_average_hours(self) -> Decimal | None:
        return _per_week(self.contracted_minutes, self.weeks_counted * 60)

    @property
    def above_contract(self) -> bool:
        return self.weeks_counted > 0 and self.counted_minutes > self.contracted_minutes

    def above_hours(self, hours: int) -> bool:
        """Strictly above `hours` a week on average (opted out or not)."""
        return self.weeks_counted > 0 and self.counted_minutes > hours * 60 * self.weeks_counted

    @property
    def above_48_hours(self) -> bool:
        return self.above_hours(FORTY_EIGHT_HOURS // 60)

    @property
    def limit_applies(self) -> bool:
        """The 48-hour limit applies: the practitioner is not opted out."""
        return not self.opted_out


def rolling_average(weeks: Sequence[Week], *, opted_out: bool = False) -> RollingAverage:
    """The average over `weeks` (oldest first), counting only weeks with a day in post."""
    if not weeks:
        raise ValueError("a rolling average needs at least one week")
    counted = [w for w in weeks if w.days_in_post > 0]
    return RollingAverage(
        first_week=weeks[0].week,
        last_week=weeks[-1].week,
        window_weeks=len(weeks),
        weeks_counted=len(counted),
        counted_minutes=sum(w.counted_minutes for w in counted),
        contracted_minutes=sum(w.contracted_minutes for w in counted),
        opted_out=opted_out,
    )


@dataclass(frozen=True)
class TeamAverage:
    """A team's rolling averages pooled: sum counted / sum weeks counted, and how many of its
    practitioners are above their contract, or above 48 hours where the limit applies."""

    practitioners: int
    weeks_counted: int
    counted_minutes: int
    contracted_minutes: int
    above_contract: int
    above_48_hours: int
    opted_out: int

    @property
    def average_minutes(self) -> Decimal | None:
        return _per_week(self.counted_minutes, self.weeks_counted)

    @property
    def contracted_average_minutes(self) -> Decimal | None:
        return _per_week(self.contracted_minutes, self.weeks_counted)


def team_average(averages: Sequence[RollingAverage]) -> TeamAverage:
    return TeamAverage(
        practitioners=len(averages),
        weeks_counted=sum(a.weeks_counted for a in averages),
        counted_minutes=sum(a.counted_minutes for a in averages),
        contracted_minutes=sum(a.contracted_minutes for a in averages),
        above_contract=sum(a.above_contract for a in averages),
        above_48_hours=sum(a.above_48_hours and a.limit_applies for a in averages),
        opted_out=sum(a.opted_out for a in averages),
    )


def toil_taken(leave: Sequence[LeaveSpan], contracted_day: ContractedDay, until: date) -> int:
    """Minutes of TOIL taken as leave on days up to and including `until`."""
    taken = 0
    for span in leave:
        if span.kind != TOIL:
            continue
        day = span.first_day
        while day <= min(span.last_day, until):
            taken += span.minutes_on(day, contracted_day(day))
            day += _ONE_DAY
    return taken


def opted_out_on(changes: Sequence[tuple[date, bool]], day: date) -> bool:
    """Whether the 48-hour opt-out applies on `day`: the latest recorded change effective by
    then.

    `changes` are (effective_from, opted_out) in the order they were recorded.
    """
    applying = [opted_out for effective_from, opted_out in changes if effective_from <= day]
    return applying[-1] if applying else False
