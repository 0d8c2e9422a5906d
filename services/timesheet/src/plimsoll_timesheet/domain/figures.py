"""A week's figures as the timesheet shows them, exactly, in minutes (pure).

The arithmetic and the rule for the averages are `plimsoll_platform.working_time`'s, which
wellbeing judges by too: ISO weeks, the contracted day, leave as contracted time, the rolling
averages and the TOIL taken as leave. This module adds what only the timesheet records of a
day: its minutes by work category and its TOIL accrued. The read models hand in each day's
record, the leave and `contracted_day` (the contracted minutes of a day from the
practitioner's placement; None on a day they were not in post).

TOIL balance on a day: the sum of each day's latest TOIL up to that day, less the TOIL leave
taken up to it (`working_time.toil_taken`). It may go below 0: TOIL taken in advance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from plimsoll_platform.working_time import ContractedDay, IsoWeek, LeaveSpan, Week, week_of


@dataclass(frozen=True)
class DayRecord:
    """What a day holds as recorded now: entries' minutes by category, overtime, TOIL."""

    day: date
    minutes_by_category: Mapping[str, int] = field(default_factory=dict)
    overtime_minutes: int = 0
    toil_minutes: int = 0

    @property
    def worked_minutes(self) -> int:
        return sum(self.minutes_by_category.values())


@dataclass(frozen=True)
class WeekFigures(Week):
    """One practitioner's ISO week: the week the averages count, by category, with TOIL."""

    minutes_by_category: dict[str, int]
    toil_accrued_minutes: int
    """The latest TOIL of each day of the week, summed."""


def week_figures(
    week: IsoWeek,
    records: Mapping[date, DayRecord],
    leave: Sequence[LeaveSpan],
    contracted_day: ContractedDay,
) -> WeekFigures:
    """The week's figures from its days' records, the leave and the contract."""
    counted = week_of(week, records, leave, contracted_day)
    by_category: dict[str, int] = {}
    toil = 0
    for day in week.days():
        record = records.get(day)
        if record is None:
            continue
        for category, minutes in record.minutes_by_category.items():
            by_category[category] = by_category.get(category, 0) + minutes
        toil += record.toil_minutes
    return WeekFigures(
        week=week,
        worked_minutes=counted.worked_minutes,
        overtime_minutes=counted.overtime_minutes,
        leave_minutes=counted.leave_minutes,
        toil_leave_minutes=counted.toil_leave_minutes,
        contracted_minutes=counted.contracted_minutes,
        days_in_post=counted.days_in_post,
        minutes_by_category=dict(sorted(by_category.items())),
        toil_accrued_minutes=toil,
    )
