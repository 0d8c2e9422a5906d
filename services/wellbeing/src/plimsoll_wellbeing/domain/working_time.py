"""Hours per ISO week and the rolling averages, by the timesheet service's rule, in minutes.

This is the rule `docs/ARCHITECTURE.md` (Timesheet) states and `plimsoll_timesheet.domain.figures`
implements; a service may not import another service, so wellbeing holds this copy of the
arithmetic it judges by, and a unit test holds the two equal on the same records. The arithmetic
belongs in the libs (a pure `plimsoll_platform.working_time` beside `clock`), imported by both.

* A week is an ISO week; a window is the N weeks ending with the chosen one.
* A day counts its entries (as they stand now) and voluntary overtime, plus its leave credit: a
  whole day of leave credits the contracted day, a part day its minutes (at most the contracted
  day); TOIL leave credits nothing. Only working days in post earn credit.
* The contracted day is contracted hours x 60 / 5 on a working day (England and Wales), to the
  nearest minute, halves up; 0 on weekends and bank holidays; None out of post.
* Weeks with no day in post are left out of the divisor. Above means strictly above, on exact
  integer totals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

FORTY_EIGHT_HOURS: Final = 48 * 60
_ONE_DAY: Final = timedelta(days=1)

ContractedDay = Callable[[date], "int | None"]
"""The contracted minutes of a day; None when the practitioner was not in post."""


def contracted_day_minutes(contracted_hours: Decimal, working_day: bool) -> int:
    """Contracted hours x 60 / 5 on a working day, to the nearest minute (halves up); else 0."""
    if not working_day:
        return 0
    return int((contracted_hours * 60 / 5).to_integral_value(rounding=ROUND_HALF_UP))


@dataclass(frozen=True, order=True)
class IsoWeek:
    """An ISO 8601 week, `2025-W10`: Monday to Sunday."""

    year: int
    week: int

    @classmethod
    def of(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @property
    def first_day(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    def days(self) -> Iterator[date]:
        first = self.first_day
        return (first + n * _ONE_DAY for n in range(7))

    def back(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.first_day - timedelta(weeks=weeks))

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.week:02d}"


def window(last_week: IsoWeek, weeks: int) -> list[IsoWeek]:
    """The `weeks` ISO weeks ending with `last_week`, oldest first."""
    return [last_week.back(n) for n in range(weeks - 1, -1, -1)]


@dataclass(frozen=True)
class LeaveSpan:
    """Leave as recorded and not cancelled."""

    kind: str
    first_day: date
    last_day: date
    minutes_per_day: int | None

    def minutes_on(self, day: date, contracted: int | None) -> int:
        if not self.first_day <= day <= self.last_day or not contracted:
            return 0
        return contracted if self.minutes_per_day is None else min(self.minutes_per_day, contracted)


@dataclass(frozen=True)
class Week:
    """One practitioner's ISO week, as the averages count it."""

    week: IsoWeek
    worked_minutes: int
    overtime_minutes: int
    leave_minutes: int
    contracted_minutes: int
    days_in_post: int

    @property
    def counted_minutes(self) -> int:
        return self.worked_minutes + self.overtime_minutes + self.leave_minutes


def week_of(
    week: IsoWeek,
    worked: Mapping[date, tuple[int, int]],
    leave: Sequence[LeaveSpan],
    contracted_day: ContractedDay,
) -> Week:
    """The week from each day's (entries' minutes, overtime minutes), the leave, the contract."""
    worked_total = overtime = credit = contracted_total = in_post = 0
    for day in week.days():
        entries, extra = worked.get(day, (0, 0))
        worked_total += entries
        overtime += extra
        contracted = contracted_day(day)
        if contracted is None:
            continue
        in_post += 1
        contracted_total += contracted
        credit += sum(s.minutes_on(day, contracted) for s in leave if s.kind != "toil")
    return Week(week, worked_total, overtime, credit, contracted_total, in_post)


@dataclass(frozen=True)
class Average:
    """The average week over a window, against the contract and a weekly limit."""

    first_week: IsoWeek
    last_week: IsoWeek
    weeks_counted: int
    counted_minutes: int
    contracted_minutes: int

    @property
    def above_contract(self) -> bool:
        return self.weeks_counted > 0 and self.counted_minutes > self.contracted_minutes

    def above_hours(self, hours: int) -> bool:
        return self.weeks_counted > 0 and self.counted_minutes > hours * 60 * self.weeks_counted

    def facts(self) -> dict[str, object]:
        """The figures as a breach quotes them (hours as exact decimal strings)."""
        return {
            "first_week": str(self.first_week),
            "last_week": str(self.last_week),
            "weeks_counted": self.weeks_counted,
            "counted_minutes": self.counted_minutes,
            "contracted_minutes": self.contracted_minutes,
            "average_hours": _hours(self.counted_minutes, self.weeks_counted),
            "contracted_average_hours": _hours(self.contracted_minutes, self.weeks_counted),
        }


def _hours(minutes: int, weeks: int) -> str | None:
    if weeks == 0:
        return None
    return str((Decimal(minutes) / (weeks * 60)).quantize(Decimal("0.01"), ROUND_HALF_UP))


def average(weeks: Sequence[Week]) -> Average:
    """The average over `weeks` (oldest first), counting only weeks with a day in post."""
    counted = [w for w in weeks if w.days_in_post > 0]
    return Average(
        first_week=weeks[0].week,
        last_week=weeks[-1].week,
        weeks_counted=len(counted),
        counted_minutes=sum(w.counted_minutes for w in counted),
        contracted_minutes=sum(w.contracted_minutes for w in counted),
    )


def opted_out_on(changes: Sequence[tuple[date, bool]], day: date) -> bool:
    """Whether the 48-hour opt-out applies on `day`: the latest recorded change effective by
    then (`changes` in the order recorded)."""
    applying = [opted_out for effective_from, opted_out in changes if effective_from <= day]
    return applying[-1] if applying else False
