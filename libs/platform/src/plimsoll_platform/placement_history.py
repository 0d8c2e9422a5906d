"""Where a practitioner is placed, day by day: the pure fold behind `placements`.

A practitioner's history is their registration facts (name, grade, start and
leaving dates) and a run of periods, each from a day until the next one
starts, carrying their team, region, line manager and contracted hours.
`evolve` folds one allocation event into it:

* `practitioner-registered`: one period from their start date.
* `practitioner-transferred`: team, region and line manager from `effective_on`
  for every later day (a later-recorded transfer overrides an earlier-recorded
  one for the days both cover: the latest fact wins).
* `line-manager-changed`: the line manager from the UK day the change was
  recorded (the event carries no date) until they next change team: a transfer
  already recorded for a later day names the new team's manager itself.
* `contracted-hours-changed`: the hours from the UK day it was recorded on.
* `practitioner-left`: their leaving date (their last day in post).

Every step is a function of the history and the event alone, and applying an
event twice gives what applying it once gave, so a replay or a redelivery
lands on the same rows. Periods never start before the start date, and two
neighbouring periods never carry the same placement (they are merged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import (
    ContractedHoursChanged,
    LineManagerChanged,
    PractitionerLeft,
    PractitionerRegistered,
    PractitionerTransferred,
)

from plimsoll_platform.clock import uk_day

PLACEMENT_EVENTS = frozenset(
    model.type
    for model in (
        PractitionerRegistered,
        PractitionerTransferred,
        LineManagerChanged,
        ContractedHoursChanged,
        PractitionerLeft,
    )
)
"""The allocation event types that move a placement; every other type is ignored."""


class UnknownPractitioner(LookupError):
    """A placement event for a practitioner never registered (their registration was lost)."""


@dataclass(frozen=True)
class Placement:
    """A practitioner as placed on a day: who they are, where, under whom, for how long."""

    practitioner_id: str
    name: str
    grade: str
    team_id: str
    region_id: str
    line_manager_id: str | None
    contracted_hours: Decimal
    start_date: date
    leaving_date: date | None
    placed_from: date
    """The first day of this placement (team, region, manager and hours as here)."""
    placed_to: date | None
    """Its last day; None until something is known to change."""

    def in_post(self, day: date) -> bool:
        """Whether they were in post on `day` (started, and not yet past their last day)."""
        return self.start_date <= day and (self.leaving_date is None or day <= self.leaving_date)


@dataclass(frozen=True)
class Period:
    """Part of a practitioner's history, from `valid_from` until the next period starts."""

    valid_from: date
    team_id: str
    region_id: str
    line_manager_id: str | None
    contracted_hours: Decimal


@dataclass(frozen=True)
class PlacementHistory:
    practitioner_id: str
    name: str
    grade: str
    start_date: date
    leaving_date: date | None
    periods: tuple[Period, ...]
    """In order of `valid_from`, the first from `start_date`."""

    def on(self, day: date) -> Placement | None:
        """Their placement on `day`; None if they were not in post that day."""
        if day < self.start_date or (self.leaving_date is not None and day > self.leaving_date):
            return None
        return self._placement(day)

    def current(self, today: date) -> Placement:
        """Their placement today; before they start, their first; after they leave, their last."""
        day = max(today, self.start_date)
        if self.leaving_date is not None and day > self.leaving_date:
            day = max(self.leaving_date, self.start_date)
        return self._placement(day)

    def _placement(self, day: date) -> Placement:
        index = _index_on(self.periods, day)
        period = self.periods[index]
        following = self.periods[index + 1] if index + 1 < len(self.periods) else None
        return Placement(
            practitioner_id=self.practitioner_id,
            name=self.name,
            grade=self.grade,
            team_id=period.team_id,
            region_id=period.region_id,
            line_manager_id=period.line_manager_id,
            contracted_hours=period.contracted_hours,
            start_date=self.start_date,
            leaving_date=self.leaving_date,
            placed_from=period.valid_from,
            placed_to=None if following is None else following.valid_from - timedelta(days=1),
        )


def evolve(
    history: PlacementHistory | None, data: EventData, recorded_at: datetime
) -> PlacementHistory | None:
    """The history after one allocation event (recorded at `recorded_at`); others change nothing.

    Raises `UnknownPractitioner` for a change to someone not registered.
    """
    if isinstance(data, PractitionerRegistered):
        # The first event of the stream; a repeat (a replay) starts from the same facts.
        return PlacementHistory(
            practitioner_id=data.practitioner_id,
            name=data.name,
            grade=data.grade,
            start_date=data.start_date,
            leaving_date=None,
            periods=(
                Period(
                    valid_from=data.start_date,
                    team_id=data.team_id,
                    region_id=data.region_id,
                    line_manager_id=data.line_manager_id,
                    contracted_hours=data.contracted_hours,
                ),
            ),
        )
    if data.type not in PLACEMENT_EVENTS:
        return history
    if history is None:
        practitioner = getattr(data, "practitioner_id", None)
        raise UnknownPractitioner(f"{data.type} for {practitioner}, who was never registered")
    if isinstance(data, PractitionerTransferred):
        periods = _set_from(
            history.periods,
            data.effective_on,
            None,
            team_id=data.team_id,
            region_id=data.region_id,
            line_manager_id=data.line_manager_id,
        )
    elif isinstance(data, LineManagerChanged):
        day = uk_day(recorded_at)
        periods = _set_from(
            history.periods,
            day,
            _next_team_change(history.periods, day),
            line_manager_id=data.line_manager_id,
        )
    elif isinstance(data, ContractedHoursChanged):
        periods = _set_from(
            history.periods, uk_day(recorded_at), None, contracted_hours=data.contracted_hours
        )
    elif isinstance(data, PractitionerLeft):
        return replace(history, leaving_date=data.leaving_date)
    else:  # pragma: no cover - PLACEMENT_EVENTS and the branches above name the same types
        raise AssertionError(data.type)
    return replace(history, periods=periods)


def _index_on(periods: Sequence[Period], day: date) -> int:
    """The period in force on `day` (the first, for a day before it starts)."""
    index = 0
    for i, period in enumerate(periods):
        if period.valid_from <= day:
            index = i
    return index


def _next_team_change(periods: Sequence[Period], day: date) -> date | None:
    """The first day after `day` on which the practitioner is in another team, if known."""
    team = periods[_index_on(periods, day)].team_id
    return next(
        (p.valid_from for p in periods if p.valid_from > day and p.team_id != team),
        None,
    )


def _split(periods: Sequence[Period], day: date) -> list[Period]:
    """The same history, with a period starting on `day` if `day` falls inside one."""
    result = list(periods)
    for i, period in enumerate(periods):
        ends_after = i + 1 == len(periods) or periods[i + 1].valid_from > day
        if period.valid_from < day and ends_after:
            result.insert(i + 1, replace(period, valid_from=day))
            break
    return result


def _set_from(
    periods: Sequence[Period], day: date, until: date | None, **changes: Any
) -> tuple[Period, ...]:
    """`changes` applied to every day from `day` (for periods before it starts, from the start)
    up to the day before `until` (None: for good)."""
    split = _split(periods, day)
    if until is not None:
        split = _split(split, until)
    changed = [
        replace(p, **changes)
        if p.valid_from >= day and (until is None or p.valid_from < until)
        else p
        for p in split
    ]
    return _merged(changed)


def _merged(periods: Sequence[Period]) -> tuple[Period, ...]:
    """Neighbours that place the practitioner alike become one period."""
    merged: list[Period] = []
    for period in periods:
        if merged and replace(merged[-1], valid_from=period.valid_from) == period:
            continue
        merged.append(period)
    return tuple(merged)
