"""Reads of the timesheet read model, apart from commands: weeks, working-time figures,
TOIL balances and sheets, for a practitioner or a team.

Every read first brings the store-fed read model up to date (`catch_up`), so it
sees every write that returned. The arithmetic is the domain's (`figures`); the
contracted day of each day comes from the practitioner's placement that day and
the working days of England and Wales.

A team is those in post in it on the last day read (the window's last day, or
today while it runs): someone who moved team is counted in their new team.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from functools import cache
from typing import Any
from uuid import UUID

from plimsoll_platform.clock import Clock, is_working_day
from plimsoll_platform.placement_history import PlacementHistory
from plimsoll_platform.placements import Placements, load_histories
from sqlalchemy import Connection, Engine, text

from plimsoll_timesheet.domain import (
    CONTRACT_WINDOW_WEEKS,
    REFERENCE_PERIOD_WEEKS,
    DayRecord,
    IsoWeek,
    LeaveSpan,
    RollingAverage,
    WeekFigures,
    contracted_day_minutes,
    opted_out_on,
    rolling_average,
    toil_taken,
    week_figures,
    window,
)
from plimsoll_timesheet.sheets import SheetRow

CatchUp = Callable[[], object]
"""Brings the store-fed read model up to date with the store."""


@dataclass(frozen=True)
class EntryRow:
    """An entry as it counts now."""

    entry_id: UUID
    day: date
    minutes: int
    category: str
    started_at: time | None
    ended_at: time | None
    note: str | None
    on_behalf_reason: str | None
    logged_by: str
    corrected: bool


@dataclass(frozen=True)
class Record:
    """What the read model holds for one practitioner over a span of days."""

    days: dict[date, DayRecord] = field(default_factory=dict)
    leave: list[LeaveSpan] = field(default_factory=list)
    toil_to_date: int = 0
    """The latest TOIL of every day up to the span's last day, summed."""
    opt_outs: list[tuple[date, bool]] = field(default_factory=list)


@dataclass(frozen=True)
class Reading:
    """A practitioner's figures over the weeks read."""

    practitioner_id: str
    name: str | None
    weeks: list[WeekFigures]
    toil_balance_minutes: int
    opted_out: bool

    def average(self, weeks: int) -> RollingAverage:
        """The rolling average over the last `weeks` of the weeks read."""
        return rolling_average(self.weeks[-weeks:], opted_out=self.opted_out)

    @property
    def four_weeks(self) -> RollingAverage:
        return self.average(CONTRACT_WINDOW_WEEKS)

    @property
    def seventeen_weeks(self) -> RollingAverage:
        return self.average(REFERENCE_PERIOD_WEEKS)


@dataclass(frozen=True)
class WeekReading:
    """One practitioner's week: its figures, entries and leave, and the TOIL balance."""

    reading: Reading
    entries: list[EntryRow]
    leave: list[LeaveSpan]
    """Leave falling (partly) in the week, not cancelled."""

    @property
    def figures(self) -> WeekFigures:
        return self.reading.weeks[-1]


def contract_of(history: PlacementHistory | None) -> Callable[[date], int | None]:
    """The contracted minutes of each day from a placement history (None: not in post)."""

    @cache
    def contracted(day: date) -> int | None:
        placement = None if history is None else history.on(day)
        if placement is None:
            return None
        return contracted_day_minutes(placement.contracted_hours, is_working_day(day))

    return contracted


class Queries:
    """The timesheet's reads (see the module)."""

    def __init__(
        self, engine: Engine, placements: Placements, clock: Clock, catch_up: CatchUp
    ) -> None:
        self.engine = engine
        self.placements = placements
        self.clock = clock
        self.catch_up = catch_up

    # --- a practitioner ----------------------------------------------------------------------

    def week(self, practitioner_id: str, week: IsoWeek) -> WeekReading:
        self.catch_up()
        with self.engine.connect() as conn:
            reading = self._readings(conn, [practitioner_id], [week])[practitioner_id]
            entries = conn.execute(
                text(
                    "select entry_id, day, minutes, category, started_at, ended_at, note, "
                    "on_behalf_reason, logged_by, corrected from timesheet_entries "
                    "where practitioner_id = :p and day between :first and :last "
                    "and not withdrawn order by day, position"
                ),
                {"p": practitioner_id, "first": week.first_day, "last": week.last_day},
            ).all()
            leave = _leave_of(conn, [practitioner_id]).get(practitioner_id, [])
        in_week = [
            s for s in leave if s.first_day <= week.last_day and week.first_day <= s.last_day
        ]
        return WeekReading(reading, [EntryRow(*row) for row in entries], in_week)

    def working_time(self, practitioner_id: str, until: IsoWeek) -> Reading:
        """17 weeks ending with `until` (the 4-week window is their last 4)."""
        self.catch_up()
        with self.engine.connect() as conn:
            weeks = window(until, REFERENCE_PERIOD_WEEKS)
            return self._readings(conn, [practitioner_id], weeks)[practitioner_id]

    def sheet(self, practitioner_id: str, first: date, last: date) -> list[SheetRow]:
        """The entries that count from `first` to `last`, as sheet rows, in the order logged."""
        self.catch_up()
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select day, minutes, category, started_at, ended_at, note "
                    "from timesheet_entries where practitioner_id = :p "
                    "and day between :first and :last and not withdrawn order by day, position"
                ),
                {"p": practitioner_id, "first": first, "last": last},
            ).all()
        return [SheetRow(0, *row) for row in rows]

    # --- a team ------------------------------------------------------------------------------

    def team(self, team_id: str, weeks: Sequence[IsoWeek]) -> list[Reading]:
        """The figures of those in post in the team on the last day read, by practitioner."""
        self.catch_up()
        last = min(weeks[-1].last_day, self.clock.today())
        members = self.placements.team_members(team_id, last)
        with self.engine.connect() as conn:
            readings = self._readings(conn, [m.practitioner_id for m in members], weeks)
        return [readings[m.practitioner_id] for m in members]

    # --- the one way figures are read --------------------------------------------------------

    def _readings(
        self, conn: Connection, practitioner_ids: list[str], weeks: Sequence[IsoWeek]
    ) -> dict[str, Reading]:
        first, last = weeks[0].first_day, weeks[-1].last_day
        histories = load_histories(conn, practitioner_ids)
        records = _records(conn, practitioner_ids, first, last)
        readings = {}
        for practitioner_id in practitioner_ids:
            history = histories.get(practitioner_id)
            record = records[practitioner_id]
            contract = contract_of(history)
            figures = [week_figures(w, record.days, record.leave, contract) for w in weeks]
            readings[practitioner_id] = Reading(
                practitioner_id=practitioner_id,
                name=None if history is None else history.name,
                weeks=figures,
                toil_balance_minutes=record.toil_to_date - toil_taken(record.leave, contract, last),
                opted_out=opted_out_on(record.opt_outs, last),
            )
        return readings


def _records(conn: Connection, ids: list[str], first: date, last: date) -> dict[str, Record]:
    """Each practitioner's days from `first` to `last`, leave, TOIL to date and opt-outs."""
    span = {"ids": ids, "first": first, "last": last}
    by_category: dict[str, dict[date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for practitioner_id, day, category, minutes in conn.execute(
        text(
            "select practitioner_id, day, category, sum(minutes)::int from timesheet_entries "
            "where practitioner_id = any(:ids) and day between :first and :last "
            "and not withdrawn group by practitioner_id, day, category"
        ),
        span,
    ):
        by_category[practitioner_id][day][category] = minutes
    extra: dict[str, dict[date, tuple[int, int]]] = defaultdict(dict)
    toil_to_date: dict[str, int] = defaultdict(int)
    for practitioner_id, day, overtime, toil in conn.execute(
        text(
            "select practitioner_id, day, overtime_minutes, toil_minutes from timesheet_days "
            "where practitioner_id = any(:ids) and day <= :last"
        ),
        span,
    ):
        toil_to_date[practitioner_id] += toil
        if day >= first:
            extra[practitioner_id][day] = (overtime, toil)
    leave = _leave_of(conn, ids)
    opt_outs: dict[str, list[tuple[date, bool]]] = defaultdict(list)
    for practitioner_id, effective_from, opted_out in conn.execute(
        text(
            "select practitioner_id, effective_from, opted_out from timesheet_opt_outs "
            "where practitioner_id = any(:ids) order by position"
        ),
        span,
    ):
        opt_outs[practitioner_id].append((effective_from, opted_out))
    records = {}
    for practitioner_id in ids:
        categories, days = by_category[practitioner_id], extra[practitioner_id]
        records[practitioner_id] = Record(
            days={
                day: DayRecord(day, categories.get(day, {}), *days.get(day, (0, 0)))
                for day in categories.keys() | days.keys()
            },
            leave=leave.get(practitioner_id, []),
            toil_to_date=toil_to_date[practitioner_id],
            opt_outs=opt_outs[practitioner_id],
        )
    return records


def _leave_of(conn: Connection, ids: list[str]) -> dict[str, list[LeaveSpan]]:
    leave: dict[str, list[LeaveSpan]] = defaultdict(list)
    rows: Any = conn.execute(
        text(
            "select practitioner_id, leave_id, kind, first_day, last_day, minutes_per_day "
            "from timesheet_leave where practitioner_id = any(:ids) and not cancelled "
            "order by first_day"
        ),
        {"ids": ids},
    )
    for practitioner_id, *span in rows:
        leave[practitioner_id].append(LeaveSpan(*span))
    return leave
