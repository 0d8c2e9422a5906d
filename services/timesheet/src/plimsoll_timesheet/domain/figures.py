"""Working-time figures: weeks, rolling averages and the TOIL balance, exactly, in minutes.

Pure: the read models hand in what was recorded (each day's minutes by category,
overtime and TOIL; leave; opt-out changes) and `contracted_day`, the contracted
minutes of a day from the practitioner's placement (`day.contracted_day_minutes`:
contracted hours / 5 on working days, 0 on weekends and bank holidays; None on a
day they were not in post).

The rule for the averages (the Cafcass joint statement: over any 4 weeks no more
than contracted hours on average; the Working Time Regulations 1998: no more
than 48 hours on average over 17 weeks):

* A week is an ISO week, Monday to Sunday. A window is the N weeks (4 or 17)
  ending with the chosen week, that week as recorded so far.
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
* Average = Σ counted / N, against Σ contracted / N and 48 hours (2,880 minutes);
  above means strictly above. The 48-hour limit does not apply while the
  practitioner is opted out on the window's last day (the figure still shows).

TOIL balance on a day: the sum of each day's latest TOIL up to that day, less
the TOIL leave taken up to it (a whole day of TOIL leave takes the contracted
day, a part day its minutes). It may go below 0: TOIL taken in advance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

FORTY_EIGHT_HOURS: Final = 48 * 60
"""The Working Time Regulations' limit on the average week, in minutes."""
CONTRACT_WINDOW_WEEKS: Final = 4
REFERENCE_PERIOD_WEEKS: Final = 17
_ONE_DAY: Final = timedelta(days=1)

ContractedDay = Callable[[date], "int | None"]
"""The contracted minutes of a day; None when the practitioner was not in post."""


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


@dataclass(frozen=True)
class DayRecord:
    """What a day holds as recorded now: entries' minutes by category, overtime, TOIL."""

    day: date
    minutes_by_category: Mapping[str, int] = field(default_factory=dict)
    overtime_minutes: int = 0
    toil_minutes: int = 0


@dataclass(frozen=True)
class LeaveSpan:
    """Leave as recorded and not cancelled."""

    leave_id: str
    kind: str
    first_day: date
    last_day: date
    minutes_per_day: int | None

    def minutes_on(self, day: date, contracted: int | None) -> int:
        """What the leave takes of `day`: the contracted day, or its part of it (0 off it)."""
        if not self.first_day <= day <= self.last_day or not contracted:
            return 0
        return contracted if self.minutes_per_day is None else min(self.minutes_per_day, contracted)


@dataclass(frozen=True)
class WeekFigures:
    """One practitioner's ISO week."""

    week: IsoWeek
    minutes_by_category: dict[str, int]
    worked_minutes: int
    overtime_minutes: int
    leave_minutes: int
    """Leave credited as contracted time (every kind but TOIL)."""
    toil_leave_minutes: int
    """TOIL taken as leave this week."""
    toil_accrued_minutes: int
    """The latest TOIL of each day of the week, summed."""
    contracted_minutes: int
    days_in_post: int

    @property
    def counted_minutes(self) -> int:
        """What the averages count: work, overtime and leave credit."""
        return self.worked_minutes + self.overtime_minutes + self.leave_minutes


def week_figures(
    week: IsoWeek,
    records: Mapping[date, DayRecord],
    leave: Sequence[LeaveSpan],
    contracted_day: ContractedDay,
) -> WeekFigures:
    """The week's figures from its days' records, the leave and the contract."""
    by_category: dict[str, int] = {}
    overtime = toil = leave_credit = toil_leave = contracted_total = in_post = 0
    for day in week.days():
        record = records.get(day)
        if record is not None:
            for category, minutes in record.minutes_by_category.items():
                by_category[category] = by_category.get(category, 0) + minutes
            overtime += record.overtime_minutes
            toil += record.toil_minutes
        contracted = contracted_day(day)
        if contracted is None:
            continue
        in_post += 1
        contracted_total += contracted
        for span in leave:
            taken = span.minutes_on(day, contracted)
            if span.kind == "toil":
                toil_leave += taken
            else:
                leave_credit += taken
    return WeekFigures(
        week=week,
        minutes_by_category=dict(sorted(by_category.items())),
        worked_minutes=sum(by_category.values()),
        overtime_minutes=overtime,
        leave_minutes=leave_credit,
        toil_leave_minutes=toil_leave,
        toil_accrued_minutes=toil,
        contracted_minutes=contracted_total,
        days_in_post=in_post,
    )


@dataclass(frozen=True)
class RollingAverage:
    """The average week over a window of weeks, against the contract and 48 hours."""

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
    def above_contract(self) -> bool:
        return self.weeks_counted > 0 and self.counted_minutes > self.contracted_minutes

    @property
    def above_48_hours(self) -> bool:
        return (
            self.weeks_counted > 0 and self.counted_minutes > FORTY_EIGHT_HOURS * self.weeks_counted
        )

    @property
    def limit_applies(self) -> bool:
        """The 48-hour limit applies: the practitioner is not opted out."""
        return not self.opted_out


def _per_week(minutes: int, weeks: int) -> Decimal | None:
    if weeks == 0:
        return None
    return (Decimal(minutes) / weeks).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def rolling_average(weeks: Sequence[WeekFigures], *, opted_out: bool = False) -> RollingAverage:
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
    """A team's rolling averages pooled: Σ counted / Σ weeks counted, and how many of its
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


def window(last_week: IsoWeek, weeks: int) -> list[IsoWeek]:
    """The `weeks` ISO weeks ending with `last_week`, oldest first."""
    return [last_week.back(n) for n in range(weeks - 1, -1, -1)]


def toil_taken(leave: Sequence[LeaveSpan], contracted_day: ContractedDay, until: date) -> int:
    """Minutes of TOIL taken as leave on days up to and including `until`."""
    taken = 0
    for span in leave:
        if span.kind != "toil":
            continue
        day = span.first_day
        while day <= min(span.last_day, until):
            taken += span.minutes_on(day, contracted_day(day))
            day += _ONE_DAY
    return taken


def opted_out_on(changes: Sequence[tuple[date, bool]], day: date) -> bool:
    """Whether the opt-out applies on `day`: the latest recorded change effective by then.

    `changes` are (effective_from, opted_out) in the order they were recorded.
    """
    applying = [opted_out for effective_from, opted_out in changes if effective_from <= day]
    return applying[-1] if applying else False
