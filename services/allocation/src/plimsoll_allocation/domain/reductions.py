"""Reductions over time: the part of the practitioner aggregate (`workforce`) that follows
the calendar. `workforce.decide` and `workforce.evolve` hand the reduction
commands and events to the functions here.

A reduction is recorded with a reason, hours or a
percent of contracted hours, and dates; its first and last days are
inclusive. What is recorded depends on the day the command says it is
(`today`; the domain never reads a clock):

* first day still to come: `reduction-scheduled`; it changes nothing yet;
* first day reached (today or earlier) and last day not passed:
  `reduction-started`; its hours come off the available hours at once;
* last day already passed: refused, it would change nothing.

Then `ReconcileReductions(today)` (run by the handler every day, and before
reading capacity on a day it has not run) records what the calendar brought:
`reduction-started` for each scheduled reduction whose first day has come, and
`reduction-ended` (`ended_on` = the day after its last day) for each active
one whose last day has passed; a scheduled one that was both is started then
ended. It is idempotent: run twice on a day, the second run records nothing.
`EndReduction(today)` ends an active reduction early (`ended_on` = today) or
withdraws a scheduled one (`reduction-cancelled`).

Percent reductions are converted to hours when recorded, as WMT does, with
`capacity.reduction_hours_from_percent`; a later change of contracted hours
does not rescale them. With no hours and no percent, the reason's allowance
applies (e.g. 100% for Long Term Sickness Absence), and a reason with no
allowance means all the contracted hours, as WMT's formula says. A reason whose
allowance has a maximum (Trade Union Facility Time, at most 50%) needs hours or
a percent within it. A reason that normally lasts some months (Maternity
Leave, 6) ends after them when no last day is given.
"""

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal

from plimsoll_events import refusals as check
from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import (
    ReductionCancelled,
    ReductionEnded,
    ReductionReason,
    ReductionScheduled,
    ReductionStarted,
)

from plimsoll_allocation.domain.capacity import hours_a_week, reduction_hours_from_percent
from plimsoll_allocation.domain.errors import (
    AlreadyExists,
    Conflict,
    InvalidValue,
    NotFound,
    supplied,
)
from plimsoll_allocation.domain.weighting import Scheme, reduction_reason, supplied_scheme

if TYPE_CHECKING:
    from plimsoll_allocation.domain.workforce import Practitioner

_REASON_LENGTH: Final = 200
_ONE_DAY: Final = timedelta(days=1)


# Commands.


@dataclass(frozen=True)
class StartReduction:
    """Record a reduction: `hours`, or `percent` of contracted hours, or neither (see module).

    `reason` must be one of the scheme's reasons where it lists them (probation)
    and is free text otherwise (Cafcass). `effective_to` is the last day it
    applies (inclusive, not before `effective_from`); None means until ended,
    or the reason's usual months. `reduction_id` is chosen by the caller.
    """

    practitioner_id: str
    reduction_id: str
    reason: str
    effective_from: date
    hours: Decimal | None = None
    percent: Decimal | None = None
    effective_to: date | None = None
    today: date | None = None
    """Filled in by the application layer: today, in the service's calendar."""
    scheme: Scheme | None = None
    """Filled in by the application layer: the scheme in force for the practitioner's grade."""


@dataclass(frozen=True)
class EndReduction:
    """End an active reduction from `today`, or withdraw one that has not started yet."""

    practitioner_id: str
    reduction_id: str
    today: date | None = None
    """Filled in by the application layer: today, in the service's calendar."""


@dataclass(frozen=True)
class ReconcileReductions:
    """Record the reductions that started or ended by `today` (see module)."""

    practitioner_id: str
    today: date


# State.


@dataclass(frozen=True)
class Reduction:
    """A reduction that is scheduled or active; ended and cancelled ones leave the state."""

    reduction_id: str
    reason: str
    hours: Decimal
    percent: Decimal | None
    effective_from: date
    effective_to: date | None
    active: bool

    def starts_by(self, today: date) -> bool:
        """Not active yet, and its first day has come."""
        return not self.active and self.effective_from <= today

    def ended_by(self, today: date) -> bool:
        """Its last day has passed."""
        return self.effective_to is not None and self.effective_to < today

    @property
    def status(self) -> Literal["active", "scheduled"]:
        """Active (its hours come off now), or scheduled (its first day is still to come)."""
        return "active" if self.active else "scheduled"


# Deciding.


def start(command: StartReduction, practitioner: "Practitioner") -> list[EventData]:
    today = supplied(command.today, "today")
    scheme = supplied_scheme(command.scheme)
    check.identifier(command.reduction_id, "reduction_id")
    if command.reduction_id in practitioner.reduction_ids:
        raise AlreadyExists(
            f"reduction {command.reduction_id!r} is already recorded", field="reduction_id"
        )
    check.text(command.reason, "reason", max_length=_REASON_LENGTH)
    if practitioner.grade not in scheme.grades:
        raise InvalidValue(
            f"scheme {scheme.name} does not know grade {practitioner.grade}", field="scheme"
        )
    known = reduction_reason(scheme, command.reason)
    hours, percent = _reduction_size(command, practitioner, known)
    check.day(command.effective_from, "effective_from")
    effective_to = command.effective_to
    if effective_to is not None:
        check.day(effective_to, "effective_to")
    elif known is not None and known.months_to_expiry is not None:
        effective_to = _add_months(command.effective_from, known.months_to_expiry) - _ONE_DAY
        if effective_to > check.LATEST_DAY:
            raise InvalidValue(
                f"{command.reason} lasts {known.months_to_expiry} months, which would end "
                f"after {check.LATEST_DAY}: give an earlier first day or a last day",
                field="effective_from",
            )
    if effective_to is not None and effective_to < command.effective_from:
        raise InvalidValue(
            f"ends ({effective_to}) before it starts ({command.effective_from})",
            field="effective_to",
        )
    if effective_to is not None and effective_to < today:
        raise InvalidValue(
            f"its last day ({effective_to}) has already passed: it would change nothing",
            field="effective_to",
        )
    recorded: type[ReductionScheduled] | type[ReductionStarted] = (
        ReductionScheduled if command.effective_from > today else ReductionStarted
    )
    return [
        recorded(
            practitioner_id=practitioner.practitioner_id,
            reduction_id=command.reduction_id,
            reason=command.reason,
            hours=hours,
            percent=percent,
            effective_from=command.effective_from,
            effective_to=effective_to,
        )
    ]


def _reduction_size(
    command: StartReduction, practitioner: "Practitioner", reason: ReductionReason | None
) -> tuple[Decimal, Decimal | None]:
    """The hours a reduction takes off, and the percent they came from, if any."""
    contracted = practitioner.contracted_hours
    max_percent = reason.max_percent if reason is not None else None
    if command.hours is not None and command.percent is not None:
        raise InvalidValue("give hours or a percent, not both", field="percent")
    if command.percent is not None:
        percent = check.decimal(
            command.percent, "percent", low=Decimal(0), high=Decimal(100), unit="percent"
        )
        if percent == 0:
            raise InvalidValue("must be more than 0 percent", field="percent")
        if max_percent is not None and percent > max_percent:
            raise InvalidValue(f"{command.reason} allows at most {max_percent}%", field="percent")
        return reduction_hours_from_percent(contracted, percent), percent
    if command.hours is not None:
        hours = hours_a_week(command.hours, "hours")
        if hours == 0:
            raise InvalidValue("must be more than 0 hours", field="hours")
        if hours > contracted:
            raise InvalidValue(f"more than the {contracted} contracted hours", field="hours")
        if max_percent is not None and hours > reduction_hours_from_percent(
            contracted, max_percent
        ):
            raise InvalidValue(
                f"{command.reason} allows at most {max_percent}% of contracted hours",
                field="hours",
            )
        return hours, None
    if reason is not None and reason.allowance_percent is not None:
        percent = reason.allowance_percent
        return reduction_hours_from_percent(contracted, percent), percent
    if max_percent is not None:
        raise InvalidValue(
            f"{command.reason} needs hours or a percent, at most {max_percent}%",
            field="percent",
        )
    return reduction_hours_from_percent(contracted, None), None


def _add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def reconcile(practitioner: "Practitioner", today: date) -> list[EventData]:
    events: list[EventData] = []
    for reduction in practitioner.reductions:
        events.extend(_reconcile_one(practitioner, reduction, today))
    return events


def _reconcile_one(
    practitioner: "Practitioner", reduction: Reduction, today: date
) -> list[EventData]:
    events: list[EventData] = []
    if reduction.starts_by(today):
        events.append(_started(practitioner, reduction))
    elif not reduction.active:
        return events
    if reduction.ended_by(today) and reduction.effective_to is not None:
        events.append(
            ReductionEnded(
                practitioner_id=practitioner.practitioner_id,
                reduction_id=reduction.reduction_id,
                hours=reduction.hours,
                ended_on=reduction.effective_to + _ONE_DAY,
                ended_because="effective-to-passed",
            )
        )
    return events


def _started(practitioner: "Practitioner", reduction: Reduction) -> ReductionStarted:
    return ReductionStarted(
        practitioner_id=practitioner.practitioner_id,
        reduction_id=reduction.reduction_id,
        reason=reduction.reason,
        hours=reduction.hours,
        percent=reduction.percent,
        effective_from=reduction.effective_from,
        effective_to=reduction.effective_to,
    )


def end(command: EndReduction, practitioner: "Practitioner") -> list[EventData]:
    today = supplied(command.today, "today")
    reduction = practitioner.reduction(command.reduction_id)
    if reduction is None:
        if command.reduction_id in practitioner.reduction_ids:
            raise Conflict(
                f"reduction {command.reduction_id!r} has already ended or been cancelled",
                field="reduction_id",
            )
        raise NotFound(f"no reduction {command.reduction_id!r}", field="reduction_id")
    if not reduction.active and reduction.effective_from > today:
        return [
            ReductionCancelled(
                practitioner_id=practitioner.practitioner_id,
                reduction_id=reduction.reduction_id,
            )
        ]
    events = _reconcile_one(practitioner, reduction, today)
    if any(isinstance(event, ReductionEnded) for event in events):
        return events
    return [
        *events,
        ReductionEnded(
            practitioner_id=practitioner.practitioner_id,
            reduction_id=reduction.reduction_id,
            hours=reduction.hours,
            ended_on=today,
            ended_because="ended-early",
        ),
    ]


# Evolving.


def with_reduction(
    practitioner: "Practitioner", event: ReductionScheduled | ReductionStarted
) -> "Practitioner":
    reduction = Reduction(
        reduction_id=event.reduction_id,
        reason=event.reason,
        hours=event.hours,
        percent=event.percent,
        effective_from=event.effective_from,
        effective_to=event.effective_to,
        active=isinstance(event, ReductionStarted),
    )
    if practitioner.reduction(event.reduction_id) is not None:
        # A scheduled reduction that starts keeps its place among the others.
        return replace(
            practitioner,
            reductions=tuple(
                reduction if r.reduction_id == event.reduction_id else r
                for r in practitioner.reductions
            ),
        )
    return replace(
        practitioner,
        reductions=(*practitioner.reductions, reduction),
        reduction_ids=practitioner.reduction_ids | {event.reduction_id},
    )
