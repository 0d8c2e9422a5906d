"""The practitioner aggregate: grade, contracted hours, reductions, placement and leaving.

One stream per practitioner (`practitioner_stream`). A decider: `initial_state`
(None: nobody registered), `decide(command, state) -> list[EventData]` raising
a `Refused` on refusal, and `evolve(state, event) -> state`.

Context a command needs that its sender cannot know (the scheme in force, today,
the region a team is in) is a field the application layer fills in; `decide`
refuses a command whose context is missing (`errors.supplied`).

Reductions over time (`StartReduction`, `EndReduction`, `ReconcileReductions`)
follow the calendar, and transfers and line managers (`TransferPractitioner`,
`ChangeLineManager`) place the practitioner from a day: their rules are
`reductions`' and `placement`'s.

Leaving. `RecordLeaving` may be recorded before the leaving date (notice
given); from then on the practitioner is given no new work (`has_left`) and
every further change is refused (`PractitionerHasLeft`), except that
`ReconcileReductions` quietly records nothing so the daily run never fails.
"""

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Final

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
    ReductionScheduled,
    ReductionStarted,
)

from plimsoll_allocation.domain import placement, reductions
from plimsoll_allocation.domain.capacity import available_points, hours_a_week
from plimsoll_allocation.domain.errors import (
    AlreadyExists,
    InvalidValue,
    NotFound,
    PractitionerHasLeft,
)
from plimsoll_allocation.domain.placement import (
    ChangeLineManager,
    KnownRegion,
    Transfer,
    TransferPractitioner,
)
from plimsoll_allocation.domain.reductions import (
    EndReduction,
    ReconcileReductions,
    Reduction,
    StartReduction,
)
from plimsoll_allocation.domain.weighting import (
    Scheme,
    grade_allowance,
    supplied_scheme,
)

_NAME_LENGTH: Final = 200


# Commands.


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
class RecordLeaving:
    """Record that a practitioner leaves; `leaving_date` is their last day in post."""

    practitioner_id: str
    leaving_date: date


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
        return [] if practitioner.has_left else reductions.reconcile(practitioner, command.today)
    if practitioner.has_left:
        raise PractitionerHasLeft(
            f"{practitioner.practitioner_id} left on {practitioner.leaving_date}: "
            "their record no longer changes",
            field="practitioner_id",
        )
    if isinstance(command, ChangeContractedHours):
        return _change_hours(command, practitioner)
    if isinstance(command, StartReduction):
        return reductions.start(command, practitioner)
    if isinstance(command, EndReduction):
        return reductions.end(command, practitioner)
    if isinstance(command, TransferPractitioner):
        return placement.transfer(command, practitioner)
    if isinstance(command, ChangeLineManager):
        return placement.change_line_manager(command, practitioner)
    return _record_leaving(command, practitioner)


def _existing(state: PractitionerState, practitioner_id: str) -> Practitioner:
    if state is None:
        raise NotFound(f"no practitioner {practitioner_id!r}", field="practitioner_id")
    return state


def _register(command: RegisterPractitioner, state: PractitionerState) -> list[EventData]:
    if state is not None:
        raise AlreadyExists(
            f"{command.practitioner_id} is already registered", field="practitioner_id"
        )
    check.identifier(command.practitioner_id, "practitioner_id")
    check.text(command.name, "name", max_length=_NAME_LENGTH)
    check.day(command.start_date, "start_date")
    grade_allowance(supplied_scheme(command.scheme), command.grade)
    placement.check_placement(
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
            contracted_hours=hours_a_week(command.contracted_hours, "contracted_hours"),
            line_manager_id=command.line_manager_id,
            start_date=command.start_date,
        )
    ]


def _change_hours(command: ChangeContractedHours, practitioner: Practitioner) -> list[EventData]:
    hours = hours_a_week(command.contracted_hours, "contracted_hours")
    if hours == practitioner.contracted_hours:
        return []
    return [
        ContractedHoursChanged(
            practitioner_id=practitioner.practitioner_id,
            contracted_hours=hours,
            previous_contracted_hours=practitioner.contracted_hours,
        )
    ]


def _record_leaving(command: RecordLeaving, practitioner: Practitioner) -> list[EventData]:
    check.day(command.leaving_date, "leaving_date")
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
        return reductions.with_reduction(practitioner, event)
    if isinstance(event, ReductionEnded | ReductionCancelled):
        return replace(
            practitioner,
            reductions=tuple(
                r for r in practitioner.reductions if r.reduction_id != event.reduction_id
            ),
        )
    if isinstance(event, PractitionerLeft):
        return replace(practitioner, leaving_date=event.leaving_date)
    if isinstance(event, PractitionerTransferred | LineManagerChanged):
        return placement.evolve(practitioner, event)
    raise TypeError(f"{event.type} is not an event of a practitioner")


PRACTITIONER: Final = Decider[PractitionerCommand, PractitionerState](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""The practitioner aggregate as a `Decider`."""
