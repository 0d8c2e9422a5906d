"""The practitioner aggregate: grade, contracted hours, reductions, placement and leaving.

One stream per practitioner (`practitioner_stream`). A decider: `initial_state`
(None: nobody registered), `decide(command, state) -> list[EventData]` raising
a `Refused` on refusal, and `evolve(state, event) -> state`.

Context a command needs that its sender cannot know (the scheme in force, today,
the region a team is in) is a field the application layer fills in; `decide`
refuses a command whose context is missing (`errors.supplied`).

Reductions over time. A reduction is recorded with a reason, hours or a
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

Placement over time. A practitioner is registered in a team (of a region)
with a line manager. `TransferPractitioner` moves them to another team from a
day (`effective_on`, on or after their start), with the line manager they will
have there: `practitioner-transferred`, naming the team they leave (the one
they are in the day before). A transfer recorded later wins for every day from
its own: recording one drops those recorded for that day or later. The state
keeps recorded transfers in `transfers` (a fold knows no day); `on(day)` is the
practitioner as placed that day, which is how they are read. A transfer the
same as one recorded records nothing; one to the team they are in already is
refused. `ChangeLineManager` changes the line manager from today
(`line-manager-changed`, which carries no day); it is refused while a transfer
to a later day is pending, so that it always applies to the placement in force
today (give the new team's manager with the transfer instead).

Leaving. `RecordLeaving` may be recorded before the leaving date (notice
given); from then on the practitioner is given no new work (`has_left`) and
every further change is refused (`PractitionerHasLeft`), except that
`ReconcileReductions` quietly records nothing so the daily run never fails.
"""

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Final, Literal

from plimsoll_events import refusals as check
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.allocation import (
    ContractedHoursChanged,
    LineManagerChanged,
    PractitionerLeft,
    PractitionerRegistered,
    PractitionerTransferred,
    ReductionCancelled,
    ReductionEnded,
    ReductionReason,
    ReductionScheduled,
    ReductionStarted,
)

from plimsoll_allocation.domain.capacity import available_points, reduction_hours_from_percent
from plimsoll_allocation.domain.errors import (
    AlreadyExists,
    Conflict,
    InvalidValue,
    NotFound,
    PractitionerHasLeft,
    supplied,
)
from plimsoll_allocation.domain.weighting import (
    Scheme,
    grade_allowance,
    reduction_reason,
    supplied_scheme,
)

MAX_CONTRACTED_HOURS: Final = Decimal("37.5")
"""Contracted hours are from 0 to 37.5 a week (WMT's valid range)."""

_NAME_LENGTH: Final = 200
_REASON_LENGTH: Final = 200
_ONE_DAY: Final = timedelta(days=1)


# Commands.


@dataclass(frozen=True)
class KnownRegion:
    """The region a team is in, as the service knows it from who is placed there.

    `region_id` None: nobody is placed in the team yet, so it may be in any region.
    A team is in one region, which is what a head of service's scope rests on.
    """

    region_id: str | None


@dataclass(frozen=True)
class RegisterPractitioner:
    """Add a practitioner to the workforce, in a team of a region."""

    practitioner_id: str
    name: str
    grade: str
    team_id: str
    region_id: str
    contracted_hours: Decimal
    start_date: date
    line_manager_id: str | None = None
    scheme: Scheme | None = None
    """Filled in by the application layer: the scheme in force whose grade table holds
    `grade` (`weighting.scheme_for_grade`)."""
    team_region: KnownRegion | None = None
    """Filled in by the application layer: the region the team is in already."""


@dataclass(frozen=True)
class ChangeContractedHours:
    """Change a practitioner's contracted hours (0 to 37.5); the same hours record nothing."""

    practitioner_id: str
    contracted_hours: Decimal


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


@dataclass(frozen=True)
class RecordLeaving:
    """Record that a practitioner leaves; `leaving_date` is their last day in post."""

    practitioner_id: str
    leaving_date: date


@dataclass(frozen=True)
class TransferPractitioner:
    """Move a practitioner to another team (and perhaps region) from `effective_on`.

    `line_manager_id` is their line manager in the new team, if known.
    """

    practitioner_id: str
    team_id: str
    region_id: str
    effective_on: date
    line_manager_id: str | None = None
    team_region: KnownRegion | None = None
    """Filled in by the application layer: the region the new team is in already."""


@dataclass(frozen=True)
class ChangeLineManager:
    """Change a practitioner's line manager from today (None: nobody); the same records nothing."""

    practitioner_id: str
    line_manager_id: str | None
    today: date | None = None
    """Filled in by the application layer: today, in the service's calendar."""


PractitionerCommand = (
    RegisterPractitioner
    | ChangeContractedHours
    | StartReduction
    | EndReduction
    | ReconcileReductions
    | RecordLeaving
    | TransferPractitioner
    | ChangeLineManager
)


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


@dataclass(frozen=True)
class Transfer:
    """A recorded move: the team, region and line manager from `effective_on` on."""

    team_id: str
    region_id: str
    line_manager_id: str | None
    effective_on: date


@dataclass(frozen=True)
class Practitioner:
    """What the practitioner's stream says about them.

    `team_id`, `region_id` and `line_manager_id` are their placement as
    registered, or as `on(day)` brought the transfers due by that day in;
    `transfers` holds the transfers not brought in, by day. Read them through
    `on(today)`.
    """

    practitioner_id: str
    name: str
    grade: str
    team_id: str
    region_id: str
    contracted_hours: Decimal
    line_manager_id: str | None
    start_date: date
    reductions: tuple[Reduction, ...] = ()
    reduction_ids: frozenset[str] = frozenset()
    leaving_date: date | None = None
    transfers: tuple[Transfer, ...] = ()

    def on(self, day: date) -> "Practitioner":
        """The practitioner as placed on `day`: the last transfer due by then brought in."""
        due = [t for t in self.transfers if t.effective_on <= day]
        if not due:
            return self
        placed = due[-1]
        return replace(
            self,
            team_id=placed.team_id,
            region_id=placed.region_id,
            line_manager_id=placed.line_manager_id,
            transfers=tuple(t for t in self.transfers if t.effective_on > day),
        )

    @property
    def active_reduction_hours(self) -> Decimal:
        """Hours a week taken off by the reductions active now."""
        return sum((r.hours for r in self.reductions if r.active), Decimal(0))

    @property
    def has_left(self) -> bool:
        """True once a leaving is recorded, whether its date has passed or is to come."""
        return self.leaving_date is not None

    @property
    def on_full_reduction(self) -> bool:
        """Active reductions take all their contracted hours (sickness, maternity...)."""
        reduced = self.active_reduction_hours
        return reduced > 0 and self.contracted_hours - reduced <= 0

    def reduction(self, reduction_id: str) -> Reduction | None:
        """The scheduled or active reduction with this id, if any."""
        return next((r for r in self.reductions if r.reduction_id == reduction_id), None)


PractitionerState = Practitioner | None
"""None until the practitioner is registered."""

initial_state: PractitionerState = None


def available_points_of(practitioner: Practitioner, scheme: Scheme) -> int:
    """The practitioner's available points under `scheme`, with the reductions active now."""
    allowance = grade_allowance(scheme, practitioner.grade)
    return available_points(
        nominal_target_points=allowance.nominal_target_points,
        contracted_hours=practitioner.contracted_hours,
        reduction_hours=practitioner.active_reduction_hours,
        default_contracted_hours=allowance.default_contracted_hours,
    )


def practitioner_stream(practitioner_id: str) -> str:
    """The stream id of a practitioner: `practitioner-<id>`."""
    return f"practitioner-{practitioner_id}"


# Deciding.


def decide(command: PractitionerCommand, state: PractitionerState) -> list[EventData]:
    """The events a command records on a practitioner's stream, or a `Refused`."""
    if isinstance(command, RegisterPractitioner):
        return _register(command, state)
    practitioner = _existing(state, command.practitioner_id)
    if isinstance(command, ReconcileReductions):
        return [] if practitioner.has_left else _reconcile(practitioner, command.today)
    if practitioner.has_left:
        raise PractitionerHasLeft(
            f"{practitioner.practitioner_id} left on {practitioner.leaving_date}: "
            "their record no longer changes",
            field="practitioner_id",
        )
    if isinstance(command, ChangeContractedHours):
        return _change_hours(command, practitioner)
    if isinstance(command, StartReduction):
        return _start_reduction(command, practitioner)
    if isinstance(command, EndReduction):
        return _end_reduction(command, practitioner)
    if isinstance(command, TransferPractitioner):
        return _transfer(command, practitioner)
    if isinstance(command, ChangeLineManager):
        return _change_line_manager(command, practitioner)
    return _record_leaving(command, practitioner)


def _existing(state: PractitionerState, practitioner_id: str) -> Practitioner:
    if state is None:
        raise NotFound(f"no practitioner {practitioner_id!r}", field="practitioner_id")
    return state


def _hours(value: Decimal, field: str) -> Decimal:
    return check.decimal(value, field, low=Decimal(0), high=MAX_CONTRACTED_HOURS, unit="hours")


def _placement(
    practitioner_id: str,
    team_id: str,
    region_id: str,
    line_manager_id: str | None,
    team_region: KnownRegion | None,
) -> None:
    """Check a team, region and line manager to place a practitioner in."""
    check.identifier(team_id, "team_id")
    check.identifier(region_id, "region_id")
    known = supplied(team_region, "team_region").region_id
    if known not in (None, region_id):
        raise Conflict(f"team {team_id} is in region {known}, not {region_id}", field="region_id")
    _line_manager(line_manager_id, practitioner_id)


def _line_manager(line_manager_id: str | None, practitioner_id: str) -> None:
    if line_manager_id is not None:
        check.identifier(line_manager_id, "line_manager_id")
        if line_manager_id == practitioner_id:
            raise InvalidValue("nobody is their own line manager", field="line_manager_id")


def _register(command: RegisterPractitioner, state: PractitionerState) -> list[EventData]:
    if state is not None:
        raise AlreadyExists(
            f"{command.practitioner_id} is already registered", field="practitioner_id"
        )
    check.identifier(command.practitioner_id, "practitioner_id")
    check.text(command.name, "name", max_length=_NAME_LENGTH)
    grade_allowance(supplied_scheme(command.scheme), command.grade)
    _placement(
        command.practitioner_id,
        command.team_id,
        command.region_id,
        command.line_manager_id,
        command.team_region,
    )
    return [
        PractitionerRegistered(
            practitioner_id=command.practitioner_id,
            name=command.name,
            grade=command.grade,
            team_id=command.team_id,
            region_id=command.region_id,
            contracted_hours=_hours(command.contracted_hours, "contracted_hours"),
            line_manager_id=command.line_manager_id,
            start_date=command.start_date,
        )
    ]


def _change_hours(command: ChangeContractedHours, practitioner: Practitioner) -> list[EventData]:
    hours = _hours(command.contracted_hours, "contracted_hours")
    if hours == practitioner.contracted_hours:
        return []
    return [
        ContractedHoursChanged(
            practitioner_id=practitioner.practitioner_id,
            contracted_hours=hours,
            previous_contracted_hours=practitioner.contracted_hours,
        )
    ]


def _start_reduction(command: StartReduction, practitioner: Practitioner) -> list[EventData]:
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
    effective_to = command.effective_to
    if effective_to is None and known is not None and known.months_to_expiry is not None:
        effective_to = _add_months(command.effective_from, known.months_to_expiry) - _ONE_DAY
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
    command: StartReduction, practitioner: Practitioner, reason: ReductionReason | None
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
        hours = _hours(command.hours, "hours")
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


def _reconcile(practitioner: Practitioner, today: date) -> list[EventData]:
    events: list[EventData] = []
    for reduction in practitioner.reductions:
        events.extend(_reconcile_one(practitioner, reduction, today))
    return events


def _reconcile_one(
    practitioner: Practitioner, reduction: Reduction, today: date
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


def _started(practitioner: Practitioner, reduction: Reduction) -> ReductionStarted:
    return ReductionStarted(
        practitioner_id=practitioner.practitioner_id,
        reduction_id=reduction.reduction_id,
        reason=reduction.reason,
        hours=reduction.hours,
        percent=reduction.percent,
        effective_from=reduction.effective_from,
        effective_to=reduction.effective_to,
    )


def _end_reduction(command: EndReduction, practitioner: Practitioner) -> list[EventData]:
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


def _transfer(command: TransferPractitioner, practitioner: Practitioner) -> list[EventData]:
    _placement(
        practitioner.practitioner_id,
        command.team_id,
        command.region_id,
        command.line_manager_id,
        command.team_region,
    )
    check.day(command.effective_on, "effective_on")
    if command.effective_on < practitioner.start_date:
        raise InvalidValue(f"before they started ({practitioner.start_date})", field="effective_on")
    move = Transfer(
        command.team_id, command.region_id, command.line_manager_id, command.effective_on
    )
    if move in practitioner.transfers:
        return []  # recorded already: a retry
    before = practitioner.on(command.effective_on - _ONE_DAY)
    if (before.team_id, before.region_id) == (command.team_id, command.region_id):
        raise Conflict(
            f"{practitioner.practitioner_id} is in team {command.team_id} already: "
            "change their line manager instead",
            field="team_id",
        )
    return [
        PractitionerTransferred(
            practitioner_id=practitioner.practitioner_id,
            team_id=command.team_id,
            region_id=command.region_id,
            previous_team_id=before.team_id,
            previous_region_id=before.region_id,
            line_manager_id=command.line_manager_id,
            effective_on=command.effective_on,
        )
    ]


def _change_line_manager(command: ChangeLineManager, practitioner: Practitioner) -> list[EventData]:
    today = supplied(command.today, "today")
    _line_manager(command.line_manager_id, practitioner.practitioner_id)
    pending = [t for t in practitioner.transfers if t.effective_on > today]
    if pending:
        raise Conflict(
            f"{practitioner.practitioner_id} moves to team {pending[0].team_id} on "
            f"{pending[0].effective_on}: give their line manager there with the transfer",
            field="line_manager_id",
        )
    now = practitioner.on(today)
    if command.line_manager_id == now.line_manager_id:
        return []
    return [
        LineManagerChanged(
            practitioner_id=practitioner.practitioner_id,
            line_manager_id=command.line_manager_id,
            previous_line_manager_id=now.line_manager_id,
        )
    ]


def _record_leaving(command: RecordLeaving, practitioner: Practitioner) -> list[EventData]:
    if command.leaving_date < practitioner.start_date:
        raise InvalidValue(f"before they started ({practitioner.start_date})", field="leaving_date")
    return [
        PractitionerLeft(
            practitioner_id=practitioner.practitioner_id, leaving_date=command.leaving_date
        )
    ]


# Evolving.


def evolve(state: PractitionerState, event: EventData) -> PractitionerState:
    """The practitioner after one event of their stream."""
    if isinstance(event, PractitionerRegistered):
        return Practitioner(
            practitioner_id=event.practitioner_id,
            name=event.name,
            grade=event.grade,
            team_id=event.team_id,
            region_id=event.region_id,
            contracted_hours=event.contracted_hours,
            line_manager_id=event.line_manager_id,
            start_date=event.start_date,
        )
    practitioner = _existing(state, getattr(event, "practitioner_id", "?"))
    if isinstance(event, ContractedHoursChanged):
        return replace(practitioner, contracted_hours=event.contracted_hours)
    if isinstance(event, ReductionScheduled | ReductionStarted):
        return _with_reduction(practitioner, event)
    if isinstance(event, ReductionEnded | ReductionCancelled):
        return replace(
            practitioner,
            reductions=tuple(
                r for r in practitioner.reductions if r.reduction_id != event.reduction_id
            ),
        )
    if isinstance(event, PractitionerLeft):
        return replace(practitioner, leaving_date=event.leaving_date)
    if isinstance(event, PractitionerTransferred):
        # The later record wins from its day on: transfers for that day or later go.
        kept = tuple(t for t in practitioner.transfers if t.effective_on < event.effective_on)
        move = Transfer(event.team_id, event.region_id, event.line_manager_id, event.effective_on)
        return replace(practitioner, transfers=(*kept, move))
    if isinstance(event, LineManagerChanged):
        # Decided with no transfer pending after today: the last placement recorded is
        # the one in force.
        if practitioner.transfers:
            *earlier, last = practitioner.transfers
            moved = replace(last, line_manager_id=event.line_manager_id)
            return replace(practitioner, transfers=(*earlier, moved))
        return replace(practitioner, line_manager_id=event.line_manager_id)
    raise TypeError(f"{event.type} is not an event of a practitioner")


def _with_reduction(
    practitioner: Practitioner, event: ReductionScheduled | ReductionStarted
) -> Practitioner:
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


PRACTITIONER: Final = Decider[PractitionerCommand, PractitionerState](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""The practitioner aggregate as a `Decider`."""
