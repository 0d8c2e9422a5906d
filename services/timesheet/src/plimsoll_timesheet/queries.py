"""Reads of the timesheet read model, apart from commands: weeks, working-time figures,
TOIL balances and sheets, for a practitioner or a team.

Every read is made on a connection the store-fed read model has first brought up
to date (`StoreFedReadModel.reading`), so it sees every write that returned. The
arithmetic is the domain's (`figures`); the contracted day of each day comes from
the practitioner's placement that day and the working days of England and Wales.

A team is those in post in it on the last day read (the window's last day, or
today while it runs): someone who moved team is counted in their new team.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from functools import cache
from uuid import UUID

from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_platform.clock import Clock, is_working_day
from plimsoll_platform.placement_history import PlacementHistory
from plimsoll_platform.placements import Placements, load_histories
from sqlalchemy import Connection, text

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

    def __init__(self, read_model: StoreFedReadModel, placements: Placements, clock: Clock) -> None:
        self.read_model = read_model
        self.placements = placements
        self.clock = clock

    # --- a practitioner ----------------------------------------------------------------------

    def week(
        self, practitioner_id: str, week: IsoWeek, history: PlacementHistory | None
    ) -> WeekReading:
        with self.read_model.reading() as conn:
            readings, records = self._readings(
                conn, [practitioner_id], [week], {practitioner_id: history}
            )
            entries = conn.execute(
                text(
                    "select entry_id, day, minutes, category, started_at, ended_at, note, "
                    "on_behalf_reason, logged_by, corrected from timesheet_entries "
                    "where practitioner_id = :p and day between :first and :last "
                    "and not withdrawn order by day, position"
                ),
                {"p": practitioner_id, "first": week.first_day, "last": week.last_day},
            ).all()
        leave = records[practitioner_id].leave
        in_week = [
            s for s in leave if s.first_day <= week.last_day and week.first_day <= s.last_day
        ]
        return WeekReading(readings[practitioner_id], [EntryRow(*row) for row in entries], in_week)

    def working_time(
        self, practitioner_id: str, until: IsoWeek, history: PlacementHistory | None
    ) -> Reading:
        """17 weeks ending with `until` (the 4-week window is their last 4)."""
        weeks = window(until, REFERENCE_PERIOD_WEEKS)
        with self.read_model.reading() as conn:
            readings, _ = self._readings(conn, [practitioner_id], weeks, {practitioner_id: history})
        return readings[practitioner_id]

    def sheet(self, practitioner_id: str, first: date, last: date) -> list[SheetRow]:
        """The entries that count from `first` to `last`, as sheet rows, in the order logged."""
        with self.read_model.reading() as conn:
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
        last = min(weeks[-1].last_day, self.clock.today())
        members = self.placements.team_members(team_id, last)
        ids = [m.practitioner_id for m in members]
        with self.read_model.reading() as conn:
            readings, _ = self._readings(conn, ids, weeks, load_histories(conn, ids))
        return [readings[practitioner_id] for practitioner_id in ids]

    # --- the one way figures are read --------------------------------------------------------

    def _readings(
        self,
        conn: Connection,
        practitioner_ids: list[str],
        weeks: Sequence[IsoWeek],
        histories: Mapping[str, PlacementHistory | None],
    ) -> tuple[dict[str, Reading], dict[str, Record]]:
        first, last = weeks[0].first_day, weeks[-1].last_day
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
        return readings, records


_RECORDS = text(
    """
    select
      (select coalesce(json_agg(json_build_array(practitioner_id, day, category, minutes)), '[]')
       from (select practitioner_id, day, category, sum(minutes)::int as minutes
             from timesheet_entries
             where practitioner_id = any(:ids) and day between :first and :last
               and not withdrawn
             group by practitioner_id, day, category) as worked),
      (select coalesce(json_agg(json_build_array(practitioner_id, day, overtime_minutes,
                                                 toil_minutes)), '[]')
       from timesheet_days where practitioner_id = any(:ids) and day <= :last),
      (select coalesce(json_agg(json_build_array(practitioner_id, leave_id, kind, first_day,
                                                 last_day, minutes_per_day)
                                order by first_day), '[]')
       from timesheet_leave where practitioner_id = any(:ids) and not cancelled),
      (select coalesce(json_agg(json_build_array(practitioner_id, effective_from, opted_out)
                                order by position), '[]')
       from timesheet_opt_outs where practitioner_id = any(:ids))
    """
)


def _records(conn: Connection, ids: list[str], first: date, last: date) -> dict[str, Record]:
    """Each practitioner's days from `first` to `last`, leave, TOIL to date and opt-outs,
    in one round trip."""
    worked, days, leave, opt_outs = conn.execute(
        _RECORDS, {"ids": ids, "first": first, "last": last}
    ).one()
    by_category: dict[str, dict[date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for practitioner_id, day, category, minutes in worked:
        by_category[practitioner_id][date.fromisoformat(day)][category] = minutes
    extra: dict[str, dict[date, tuple[int, int]]] = defaultdict(dict)
    toil_to_date: dict[str, int] = defaultdict(int)
    for practitioner_id, day_text, overtime, toil in days:
        toil_to_date[practitioner_id] += toil
        day = date.fromisoformat(day_text)
        if day >= first:
            extra[practitioner_id][day] = (overtime, toil)
    spans: dict[str, list[LeaveSpan]] = defaultdict(list)
    for practitioner_id, leave_id, kind, first_day, last_day, minutes in leave:
        spans[practitioner_id].append(
            LeaveSpan(
                leave_id, kind, date.fromisoformat(first_day), date.fromisoformat(last_day), minutes
            )
        )
    changes: dict[str, list[tuple[date, bool]]] = defaultdict(list)
    for practitioner_id, effective_from, opted_out in opt_outs:
        changes[practitioner_id].append((date.fromisoformat(effective_from), opted_out))
    records = {}
    for practitioner_id in ids:
        categories, extras = by_category[practitioner_id], extra[practitioner_id]
        records[practitioner_id] = Record(
            days={
                day: DayRecord(day, categories.get(day, {}), *extras.get(day, (0, 0)))
                for day in categories.keys() | extras.keys()
            },
            leave=spans[practitioner_id],
            toil_to_date=toil_to_date[practitioner_id],
            opt_outs=changes[practitioner_id],
        )
    return records
