"""The duty-of-care facts of a practitioner and of a team, folded from events (pure).

A practitioner's facts come from three producers, each touching parts of its own:

* allocation: where they are placed (the kit's `placement_history`) and their capacity
  (`capacity-changed`);
* timesheet: leave and the 48-hour opt-out (the hours themselves are folded per day by
  `hours_by_day`, from the days a judgement needs);
* wellbeing: supervisions, open declarations, stress risk assessments awaiting review.

No part is touched by two producers, and each producer's events about one practitioner arrive
in order (one key, one partition): so the facts after a set of events do not depend on how
the three topics interleave, and a rebuild, a late event or an as-of replay lands on the same
facts. Every step is a function of the facts and the event alone (its time, never a clock).

Capacity keeps, besides the latest figure, the points of its history that can still answer
"since when has it been above X" for any X (`Low`: a monotonic stack, a handful of points).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import CapacityChanged, TeamCapacityChanged
from plimsoll_events.types.timesheet import (
    HoursCorrected,
    HoursLogged,
    HoursWithdrawn,
    LeaveCancelled,
    LeaveRecorded,
    OvertimeRecorded,
    WorkingTimeOptOutRecorded,
    WorkingTimeOptOutWithdrawn,
)
from plimsoll_events.types.wellbeing import (
    DeclarationAnswered,
    DeclarationClosed,
    DeclarationEscalated,
    StressRiskAssessmentRecorded,
    SupervisionCancelled,
    SupervisionHeld,
    SupervisionScheduled,
    TeamFullDeclared,
    TeamFullLifted,
    WorkloadDeclared,
)
from plimsoll_platform.placement_history import PLACEMENT_EVENTS, Period, PlacementHistory
from plimsoll_platform.placement_history import evolve as evolve_placement
from plimsoll_platform.working_time import LeaveSpan

CAPACITY_CHANGED: Final = CapacityChanged.type
TEAM_CAPACITY_CHANGED: Final = TeamCapacityChanged.type
POLICY_ADOPTED: Final = "policy-adopted"
HOURS_EVENTS: Final = frozenset(
    {HoursLogged.type, HoursCorrected.type, HoursWithdrawn.type, OvertimeRecorded.type}
)
"""Folded per day, from the days a judgement needs (`hours_by_day`)."""
PRACTITIONER_EVENTS: Final = frozenset(
    {
        *PLACEMENT_EVENTS,
        CAPACITY_CHANGED,
        LeaveRecorded.type,
        LeaveCancelled.type,
        WorkingTimeOptOutRecorded.type,
        WorkingTimeOptOutWithdrawn.type,
        SupervisionScheduled.type,
        SupervisionHeld.type,
        SupervisionCancelled.type,
        WorkloadDeclared.type,
        DeclarationAnswered.type,
        DeclarationEscalated.type,
        DeclarationClosed.type,
        StressRiskAssessmentRecorded.type,
    }
)
"""Folded into a practitioner's facts (`evolve`)."""
TEAM_EVENTS: Final = frozenset({TEAM_CAPACITY_CHANGED, TeamFullDeclared.type, TeamFullLifted.type})


# --- capacity ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Low:
    """A point of the capacity history: its percent, when it was published, and when the next
    figure came (None: it is the latest)."""

    percent: Decimal
    at: datetime
    raised_at: datetime | None = None


@dataclass(frozen=True)
class Capacity:
    """The latest capacity figure as allocation published it, and what of its history counts."""

    percent: Decimal
    total_points: int
    available_points: int
    at: datetime
    event_id: str
    cause_type: str | None
    first_at: datetime
    lows: tuple[Low, ...]
    """Oldest first, percents rising: each point newer than any lower point before it."""
    practitioner_count: int | None = None
    """Those in post (a team's figure)."""

    def since(self, percent: Decimal | int, *, reaching: bool = False) -> datetime | None:
        """Since when it has been above `percent` (at or above it, `reaching`) without a break;
        None if it is not now."""
        limit = Decimal(percent)
        if self.percent < limit or (self.percent == limit and not reaching):
            return None
        for low in reversed(self.lows):
            if low.percent < limit or (low.percent == limit and not reaching):
                return low.raised_at
        return self.first_at


def next_capacity(
    capacity: Capacity | None,
    data: CapacityChanged | TeamCapacityChanged,
    event_id: UUID,
    at: datetime,
) -> Capacity:
    """The capacity after a figure allocation published (wellbeing never works one out)."""
    percent = Decimal(data.capacity_percent)
    lows = [] if capacity is None else list(capacity.lows)
    if lows and lows[-1].raised_at is None:
        lows[-1] = replace(lows[-1], raised_at=at)
    while lows and lows[-1].percent >= percent:
        lows.pop()
    lows.append(Low(percent, at))
    return Capacity(
        percent=percent,
        total_points=data.total_points,
        available_points=data.available_points,
        at=at,
        event_id=str(event_id),
        cause_type=data.cause_type,
        first_at=at if capacity is None else capacity.first_at,
        lows=tuple(lows),
        practitioner_count=getattr(data, "practitioner_count", None),
    )


# --- a practitioner ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenDeclaration:
    declared_on: date
    answer_due_by: date
    answered: bool
    status: str


@dataclass(frozen=True)
class DutyFacts:
    """What duty of care knows of a practitioner (see the module)."""

    practitioner_id: str
    placement: PlacementHistory | None = None
    capacity: Capacity | None = None
    last_supervision_on: date | None = None
    scheduled: Mapping[str, date] = field(default_factory=dict)
    declarations: Mapping[str, OpenDeclaration] = field(default_factory=dict)
    reviews: Mapping[str, date] = field(default_factory=dict)
    """Assessments not yet reviewed, and the day each review is due."""
    leave: Mapping[str, LeaveSpan] = field(default_factory=dict)
    opt_outs: tuple[tuple[date, bool], ...] = ()

    def team(self) -> tuple[str, str, str | None] | None:
        """(team, region, line manager) of their latest known placement."""
        if self.placement is None:
            return None
        last = self.placement.periods[-1]
        return last.team_id, last.region_id, last.line_manager_id


def evolve(facts: DutyFacts, data: EventData, event_id: UUID, at: datetime) -> DutyFacts:
    """The facts after one event recorded at `at`; types outside `PRACTITIONER_EVENTS` change
    nothing."""
    kind = data.type
    if kind in PLACEMENT_EVENTS:
        return replace(facts, placement=evolve_placement(facts.placement, data, at))
    if isinstance(data, CapacityChanged):
        return replace(facts, capacity=next_capacity(facts.capacity, data, event_id, at))
    if isinstance(data, LeaveRecorded):
        span = LeaveSpan(
            data.leave_id, data.kind, data.first_day, data.last_day, data.minutes_per_day
        )
        return replace(facts, leave={**facts.leave, data.leave_id: span})
    if isinstance(data, LeaveCancelled):
        return replace(facts, leave=_without(facts.leave, data.leave_id))
    if isinstance(data, WorkingTimeOptOutRecorded | WorkingTimeOptOutWithdrawn):
        change = (data.effective_from, isinstance(data, WorkingTimeOptOutRecorded))
        return replace(facts, opt_outs=(*facts.opt_outs, change))
    return _wellbeing(facts, data)


def _wellbeing(facts: DutyFacts, data: EventData) -> DutyFacts:
    if isinstance(data, SupervisionScheduled):
        return replace(
            facts, scheduled={**facts.scheduled, data.supervision_id: data.scheduled_for}
        )
    if isinstance(data, SupervisionHeld):
        last = max(filter(None, (facts.last_supervision_on, data.held_on)))
        scheduled = _without(facts.scheduled, data.supervision_id)
        return replace(facts, last_supervision_on=last, scheduled=scheduled)
    if isinstance(data, SupervisionCancelled):
        return replace(facts, scheduled=_without(facts.scheduled, data.supervision_id))
    if isinstance(data, WorkloadDeclared):
        declared = OpenDeclaration(data.declared_on, data.answer_due_by, False, "awaiting-answer")
        return replace(facts, declarations={**facts.declarations, data.declaration_id: declared})
    if isinstance(data, DeclarationAnswered | DeclarationEscalated):
        known = facts.declarations.get(data.declaration_id)
        if known is None:
            return facts
        if isinstance(data, DeclarationAnswered):
            known = replace(known, answered=True, status="answered")
        else:
            known = replace(known, status="escalated")
        return replace(facts, declarations={**facts.declarations, data.declaration_id: known})
    if isinstance(data, DeclarationClosed):
        return replace(facts, declarations=_without(facts.declarations, data.declaration_id))
    if isinstance(data, StressRiskAssessmentRecorded):
        reviews = {**facts.reviews, data.assessment_id: data.review_on}
        if data.reviews is not None:
            reviews.pop(data.reviews, None)
        return replace(facts, reviews=reviews)
    return facts


def _without(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


# --- a team --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FullDeclaration:
    declared_by: str
    reason: str
    declared_on: date
    expected_until: date


@dataclass(frozen=True)
class TeamFacts:
    """What duty of care knows of a team: its capacity as allocation publishes it, and whether
    it is declared full."""

    team_id: str
    region_id: str | None = None
    capacity: Capacity | None = None
    full: FullDeclaration | None = None


def evolve_team(facts: TeamFacts, data: EventData, event_id: UUID, at: datetime) -> TeamFacts:
    region = getattr(data, "region_id", None) or facts.region_id
    if isinstance(data, TeamCapacityChanged):
        capacity = next_capacity(facts.capacity, data, event_id, at)
        return replace(facts, region_id=region, capacity=capacity)
    if isinstance(data, TeamFullDeclared):
        full = FullDeclaration(data.declared_by, data.reason, data.declared_on, data.expected_until)
        return replace(facts, region_id=region, full=full)
    if isinstance(data, TeamFullLifted):
        return replace(facts, region_id=region, full=None)
    return facts


# --- hours, per day ------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayHours:
    """A day's work as the rules need it: entries' and overtime minutes, and the span of the
    entries that say when they were worked (UK wall-clock)."""

    worked_minutes: int = 0
    overtime_minutes: int = 0
    first_start: time | None = None
    last_end: time | None = None


@dataclass(frozen=True, slots=True)
class HoursFact:
    """What a timesheet event says of a day's hours: `kind` is its type, `entry` the entry it
    is about (a `hours-logged` event's id; an overtime's own id)."""

    kind: str
    entry: UUID
    day: date
    minutes: int | None
    started_at: time | None
    ended_at: time | None


def hours_fact(event_id: UUID, data: EventData) -> HoursFact:
    """The hours fact of a timesheet event in `HOURS_EVENTS`."""
    if isinstance(data, HoursLogged | OvertimeRecorded):
        started = data.started_at if isinstance(data, HoursLogged) else None
        ended = data.ended_at if isinstance(data, HoursLogged) else None
        return HoursFact(data.type, event_id, data.day, data.minutes, started, ended)
    if isinstance(data, HoursCorrected):
        return HoursFact(
            data.type, data.entry_id, data.day, data.minutes, data.started_at, data.ended_at
        )
    if isinstance(data, HoursWithdrawn):
        return HoursFact(data.type, data.entry_id, data.day, None, None, None)
    raise TypeError(f"{data.type} says nothing of hours")


@dataclass
class _Entry:
    day: date
    minutes: int
    started_at: time | None
    ended_at: time | None
    withdrawn: bool = False


def hours_by_day(facts: Iterable[HoursFact]) -> dict[date, DayHours]:
    """Each day's hours from its timesheet facts (in recorded order): an entry counts as its
    latest correction says, a withdrawn one not at all, overtime as recorded."""
    entries: dict[UUID, _Entry] = {}
    overtime: dict[date, int] = {}
    for fact in facts:
        if fact.kind in (HoursLogged.type, HoursCorrected.type):
            entries[fact.entry] = _Entry(
                fact.day, fact.minutes or 0, fact.started_at, fact.ended_at
            )
        elif fact.kind == HoursWithdrawn.type:
            if fact.entry in entries:
                entries[fact.entry].withdrawn = True
        elif fact.kind == OvertimeRecorded.type:
            overtime[fact.day] = overtime.get(fact.day, 0) + (fact.minutes or 0)
    days: dict[date, DayHours] = {d: DayHours(overtime_minutes=m) for d, m in overtime.items()}
    for entry in entries.values():
        if entry.withdrawn:
            continue
        day = days.get(entry.day, DayHours())
        timed = entry.started_at is not None and entry.ended_at is not None
        days[entry.day] = replace(
            day,
            worked_minutes=day.worked_minutes + entry.minutes,
            first_start=_earliest(day.first_start, entry.started_at) if timed else day.first_start,
            last_end=_latest(day.last_end, entry.ended_at) if timed else day.last_end,
        )
    return days


def _earliest(known: time | None, new: time | None) -> time | None:
    return new if known is None else known if new is None else min(known, new)


def _latest(known: time | None, new: time | None) -> time | None:
    return new if known is None else known if new is None else max(known, new)


__all__ = [
    "Capacity",
    "DayHours",
    "DutyFacts",
    "FullDeclaration",
    "HoursFact",
    "Low",
    "OpenDeclaration",
    "Period",
    "TeamFacts",
    "evolve",
    "evolve_team",
    "hours_by_day",
    "hours_fact",
]
