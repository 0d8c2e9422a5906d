"""The case aggregate: a case's weighting and who carries it.

One stream per case (`case_stream`). A decider: `initial_state` (None: no such
case), `decide(command, state) -> list[EventData]` raising a `Refused` on
refusal, and `evolve(state, event) -> state`. Context a command's sender cannot
know (the scheme in force, the practitioner's facts, the agreed limits, the
region the case is held in) is filled in by the application layer, and a
command without it is refused (`errors.supplied`).

A case is opened weighed by the scheme in force (`case-opened` with its points),
allocated (`case-allocated`), reallocated (`case-reallocated`), re-weighed
when its tier or stage changes or a new scheme version comes
(`case-weighting-changed`), and closed (`case-closed`).

Suspended work. A workload agreement made in supervision (wellbeing's
`work-suspended`, `work-marked-not-to-be-done`) suspends work on a case its
holder carries: `SuspendCaseWork` records `case-weighting-changed` at 0 points,
citing the agreement, unless the case is closed, held by someone else now, or
suspended already (then nothing: a redelivered agreement records nothing
twice). While suspended (`Case.suspended_by`), a change of tier, stage or scheme
keeps the points at 0. `ResumeCaseWork` (wellbeing's `work-resumed`) weighs the
case again under the scheme in force, but only if that same agreement suspended
it. A reallocation ends the suspension: the case moves at its full points
(`case-reallocated` carries them), so the new holder carries it whole.

Allocating and reallocating check, in order: the case exists (else it is
refused as outside the actor's scope: only managers and heads of service
allocate, and they learn nothing of cases beyond their area) and is open;
the reason is one of the HMPPS reasons (`ALLOCATION_REASONS`,
`REALLOCATION_REASONS`; OTHER needs a note); the actor may decide
(`rules.authorise`); the case is not already allocated (allocate) or is
allocated to someone else (reallocate); the practitioner can take work
(`rules.check_available`); and capacity (`rules.override_record`). Above the
override threshold the `allocation-override-recorded` comes in the same
append, after the `case-allocated` or `case-reallocated` it justifies.
"""

from dataclasses import dataclass, replace
from datetime import date
from typing import Final, Literal, TypeGuard

from plimsoll_events import refusals as check
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.allocation import (
    AllocationOverrideRecorded,
    CaseAllocated,
    CaseClosed,
    CaseOpened,
    CaseReallocated,
    CaseWeightingChanged,
    ReallocationReason,
    WeightingCause,
)

from plimsoll_allocation.domain.errors import (
    AlreadyAllocated,
    AlreadyExists,
    CaseIsClosed,
    Conflict,
    InvalidValue,
    NotAllocated,
    NotFound,
    supplied,
)
from plimsoll_allocation.domain.placement import KnownRegion
from plimsoll_allocation.domain.rules import (
    ALLOCATION_REASONS,
    REALLOCATION_REASONS,
    Actor,
    AllocationPolicy,
    DecidingRole,
    PractitionerFacts,
    authorise,
    check_available,
    outside_scope,
    override_record,
)
from plimsoll_allocation.domain.weighting import CaseProfile, Scheme, case_points, supplied_scheme

# Commands.

SuspensionKind = Literal["suspended", "not-to-be-done"]
"""Work suspended until resumed, or agreed not to be done at all."""


@dataclass(frozen=True)
class OpenCase:
    """Open a case in a team, weighed by the scheme in force for its kind."""

    case_id: str
    team_id: str
    profile: CaseProfile
    scheme: Scheme | None = None
    """Filled in by the application layer: the scheme in force that weighs the case type."""
    opened_on: date | None = None
    """The day it opened; the application layer fills in today when it is not given."""


@dataclass(frozen=True)
class AllocateCase:
    """Give an unallocated case to a practitioner.

    `reason` is an allocation reason (INITIAL_ALLOCATION by default);
    `override_reason` is the written reason needed above the override threshold.
    """

    case_id: str
    practitioner_id: str
    actor: Actor
    reason: str = "INITIAL_ALLOCATION"
    override_reason: str | None = None
    practitioner: PractitionerFacts | None = None
    """Filled in by the application layer: the practitioner today and the points they carry."""
    policy: AllocationPolicy | None = None
    """Filled in by the application layer: the limits agreed for this deployment."""
    case_region: KnownRegion | None = None
    """Filled in by the application layer: the region of the team holding the case."""


@dataclass(frozen=True)
class SuspendCaseWork:
    """Count a case for nothing while a workload agreement suspends work on it (see module).

    `practitioner_id` is who the agreement was made with: the case must still be theirs.
    """

    case_id: str
    agreement_id: str
    practitioner_id: str
    kind: SuspensionKind = "suspended"


@dataclass(frozen=True)
class ResumeCaseWork:
    """Weigh a case again when the agreement that suspended it ends (see module)."""

    case_id: str
    agreement_id: str
    scheme: Scheme | None = None
    """Filled in by the application layer: the scheme in force for the case's type."""


@dataclass(frozen=True)
class ReallocateCase:
    """Move an allocated case to another practitioner, for one of `REALLOCATION_REASONS`.

    `note` says what the reason does not, and is required for OTHER. The
    application layer fills in the context as for `AllocateCase`.
    """

    case_id: str
    practitioner_id: str
    actor: Actor
    reason: str
    note: str | None = None
    override_reason: str | None = None
    practitioner: PractitionerFacts | None = None
    policy: AllocationPolicy | None = None
    case_region: KnownRegion | None = None
    scheme: Scheme | None = None
    """Filled in by the application layer: the scheme in force for the case's type, which
    weighs a suspended case again as it moves."""


@dataclass(frozen=True)
class ChangeTier:
    """Re-tier a probation case (None: untiered); the same tier records nothing."""

    case_id: str
    tier: str | None
    scheme: Scheme | None = None
    """Filled in by the application layer: the scheme in force for the case's type."""


@dataclass(frozen=True)
class ChangeStage:
    """Move a Cafcass case to another stage; the same stage records nothing."""

    case_id: str
    stage: str
    scheme: Scheme | None = None
    """Filled in by the application layer: the scheme in force for the case's type."""


@dataclass(frozen=True)
class ReweighCase:
    """Weigh an open case anew under a new scheme version; records nothing if its points stay.

    Closed cases record nothing either, so a sweep after a scheme change can send
    this to every case.
    """

    case_id: str
    scheme: Scheme


@dataclass(frozen=True)
class CloseCase:
    """Close a case; it leaves whoever carries it."""

    case_id: str
    closed_on: date


CaseCommand = (
    OpenCase
    | AllocateCase
    | ReallocateCase
    | ChangeTier
    | ChangeStage
    | ReweighCase
    | CloseCase
    | SuspendCaseWork
    | ResumeCaseWork
)


# State.


@dataclass(frozen=True)
class Suspension:
    """The workload agreement that suspends work on a case, and whether it is suspended or
    not to be done."""

    agreement_id: str
    kind: SuspensionKind


@dataclass(frozen=True)
class Case:
    """What a case's stream says about it now."""

    case_id: str
    team_id: str
    profile: CaseProfile
    points: int
    scheme_name: str
    scheme_version: int
    opened_on: date
    practitioner_id: str | None = None
    closed_on: date | None = None
    suspended_by: Suspension | None = None
    """The agreement suspending work on it; while set, the case weighs 0 points."""

    @property
    def is_open(self) -> bool:
        """Not closed."""
        return self.closed_on is None

    @property
    def is_allocated(self) -> bool:
        """Open and held by a practitioner."""
        return self.is_open and self.practitioner_id is not None

    @property
    def held_by(self) -> str | None:
        """Who carries it now: None while unallocated, and once closed."""
        return self.practitioner_id if self.is_open else None


CaseState = Case | None
"""None until the case is opened."""

initial_state: CaseState = None


def case_stream(case_id: str) -> str:
    """The stream id of a case: `case-<id>`."""
    return f"case-{case_id}"


# Deciding.


def decide(command: CaseCommand, state: CaseState) -> list[EventData]:
    """The events a command records on a case's stream, or a `Refused`."""
    if isinstance(command, OpenCase):
        return _open(command, state)
    if state is None and isinstance(command, AllocateCase | ReallocateCase):
        raise outside_scope(command.actor, f"case {command.case_id}", field="case_id")
    case = _existing(state, command.case_id)
    if isinstance(command, ReweighCase):
        return (
            _reweigh(case, command.scheme, case.profile, "scheme-changed") if case.is_open else []
        )
    if isinstance(command, SuspendCaseWork):
        return _suspend(command, case)
    if isinstance(command, ResumeCaseWork):
        return _resume(command, case)
    if not case.is_open:
        raise CaseIsClosed(f"case {case.case_id} closed on {case.closed_on}", field="case_id")
    if isinstance(command, AllocateCase):
        return _allocate(command, case)
    if isinstance(command, ReallocateCase):
        return _reallocate(command, case)
    if isinstance(command, ChangeTier):
        if command.tier == case.profile.tier:
            return []
        profile = replace(case.profile, tier=command.tier)
        scheme = supplied_scheme(command.scheme)
        return _reweigh(case, scheme, profile, "tier-changed", always=True)
    if isinstance(command, ChangeStage):
        if command.stage == case.profile.stage:
            return []
        profile = replace(case.profile, stage=command.stage)
        scheme = supplied_scheme(command.scheme)
        return _reweigh(case, scheme, profile, "stage-changed", always=True)
    return _close(command, case)


def _suspend(command: SuspendCaseWork, case: Case) -> list[EventData]:
    check.identifier(command.agreement_id, "agreement_id")
    if not case.is_open or case.held_by != command.practitioner_id or case.suspended_by:
        return []  # closed, someone else's now, or suspended already (a redelivery, say)
    cause: WeightingCause = (
        "work-suspended" if command.kind == "suspended" else "work-not-to-be-done"
    )
    return [
        _weighed(
            case,
            case.profile,
            case.scheme_name,
            case.scheme_version,
            0,
            cause,
            agreement_id=command.agreement_id,
        )
    ]


def _resume(command: ResumeCaseWork, case: Case) -> list[EventData]:
    suspension = case.suspended_by
    if not case.is_open or suspension is None or suspension.agreement_id != command.agreement_id:
        return []  # not suspended by this agreement (ended by a reallocation, say)
    scheme = supplied_scheme(command.scheme)
    points = case_points(scheme, case.profile)
    return [
        _weighed(
            case,
            case.profile,
            scheme.name,
            scheme.version,
            points,
            "work-resumed",
            agreement_id=command.agreement_id,
        )
    ]


def _existing(state: CaseState, case_id: str) -> Case:
    if state is None:
        raise NotFound(f"no case {case_id!r}", field="case_id")
    return state


def _open(command: OpenCase, state: CaseState) -> list[EventData]:
    if state is not None:
        raise AlreadyExists(f"case {command.case_id} is already open", field="case_id")
    check.identifier(command.case_id, "case_id")
    check.identifier(command.team_id, "team_id")
    scheme = supplied_scheme(command.scheme)
    opened_on = check.day(supplied(command.opened_on, "opened_on"), "opened_on")
    points = case_points(scheme, command.profile)
    profile = command.profile
    return [
        CaseOpened(
            case_id=command.case_id,
            team_id=command.team_id,
            case_type=profile.case_type,
            tier=profile.tier,
            t2a=profile.t2a,
            stage=profile.stage,
            points=points,
            scheme_name=scheme.name,
            scheme_version=scheme.version,
            opened_on=opened_on,
        )
    ]


def _allocate(command: AllocateCase, case: Case) -> list[EventData]:
    if command.reason not in ALLOCATION_REASONS:
        raise InvalidValue(
            f"unknown allocation reason {command.reason!r}; one of {', '.join(ALLOCATION_REASONS)}",
            field="reason",
        )
    override_reason = check.optional_text(command.override_reason, "override_reason")
    target = _target(command)
    role = authorise(
        command.actor,
        target,
        case_id=case.case_id,
        case_team_id=case.team_id,
        case_region_id=supplied(command.case_region, "case_region").region_id,
    )
    if case.practitioner_id is not None:
        raise AlreadyAllocated(
            f"case {case.case_id} is already allocated to {case.practitioner_id}: reallocate it",
            field="case_id",
        )
    check_available(target)
    allocated = CaseAllocated(
        practitioner_id=target.practitioner_id,
        case_id=case.case_id,
        team_id=target.team_id,
        tier=case.profile.tier,
        case_type=case.profile.case_type,
        points=case.points,
        allocated_by=command.actor.actor_id,
        reason=command.reason,
    )
    return _with_override(allocated, "allocate", case, command, role, override_reason)


def _with_override(
    decided: EventData,
    action: Literal["allocate", "reallocate"],
    case: Case,
    command: AllocateCase | ReallocateCase,
    role: DecidingRole,
    override_reason: str | None,
    *,
    case_points: int | None = None,
) -> list[EventData]:
    """The allocation, followed by its override record when it goes above a limit.

    `case_points`: what the case brings to the practitioner (default: its points)."""
    override = override_record(
        action=action,
        case_id=case.case_id,
        case_points=case.points if case_points is None else case_points,
        target=_target(command),
        actor=command.actor,
        role=role,
        reason=override_reason,
        policy=supplied(command.policy, "policy"),
    )
    return [decided] if override is None else [decided, override]


def _target(command: AllocateCase | ReallocateCase) -> PractitionerFacts:
    """The facts of the practitioner the command names, as the application layer found them."""
    target = supplied(command.practitioner, "practitioner")
    if target.practitioner_id != command.practitioner_id:
        raise InvalidValue(
            f"the facts supplied are of {target.practitioner_id}", field="practitioner"
        )
    return target


def _is_reallocation_reason(value: str) -> TypeGuard[ReallocationReason]:
    return value in REALLOCATION_REASONS


def _reallocate(command: ReallocateCase, case: Case) -> list[EventData]:
    reason = command.reason
    if not _is_reallocation_reason(reason):
        raise InvalidValue(
            f"unknown reallocation reason {reason!r}; one of {', '.join(REALLOCATION_REASONS)}",
            field="reason",
        )
    note = check.optional_text(command.note, "note")
    if command.reason == "OTHER" and note is None:
        raise InvalidValue("a reallocation for OTHER needs a note saying why", field="note")
    override_reason = check.optional_text(command.override_reason, "override_reason")
    target = _target(command)
    case_region = supplied(command.case_region, "case_region").region_id
    transfer_in = command.reason == "TRANSFER_IN"
    role = authorise(
        command.actor,
        target,
        case_id=case.case_id,
        case_team_id=None if transfer_in else case.team_id,
        case_region_id=None if transfer_in else case_region,
    )
    if case.practitioner_id is None:
        raise NotAllocated(f"case {case.case_id} is not allocated: allocate it", field="case_id")
    if case.practitioner_id == target.practitioner_id:
        raise Conflict(
            f"{target.practitioner_id} already holds case {case.case_id}", field="practitioner_id"
        )
    check_available(target)
    points = _moving_points(command, case)
    reallocated = CaseReallocated(
        practitioner_id=target.practitioner_id,
        from_practitioner_id=case.practitioner_id,
        case_id=case.case_id,
        team_id=target.team_id,
        from_team_id=case.team_id,
        tier=case.profile.tier,
        case_type=case.profile.case_type,
        points=points,
        reason=reason,
        note=note,
        reallocated_by=command.actor.actor_id,
    )
    return _with_override(
        reallocated, "reallocate", case, command, role, override_reason, case_points=points
    )


def _moving_points(command: ReallocateCase, case: Case) -> int:
    """What the case weighs as it moves: its points, or, if work on it is suspended (which
    the reallocation ends), its full points under the scheme in force."""
    if case.suspended_by is None:
        return case.points
    return case_points(supplied_scheme(command.scheme), case.profile)


def _reweigh(
    case: Case,
    scheme: Scheme,
    profile: CaseProfile,
    cause: Literal["tier-changed", "stage-changed", "scheme-changed"],
    *,
    always: bool = False,
) -> list[EventData]:
    """The case weighed under `scheme` as `profile` (0 while work on it is suspended); nothing
    when the points stay, unless `always` (the profile changed)."""
    points = case_points(scheme, profile)
    if case.suspended_by is not None:
        points = 0
    if points == case.points and not always:
        return []
    return [_weighed(case, profile, scheme.name, scheme.version, points, cause)]


def _weighed(
    case: Case,
    profile: CaseProfile,
    scheme_name: str,
    scheme_version: int,
    points: int,
    cause: WeightingCause,
    *,
    agreement_id: str | None = None,
) -> CaseWeightingChanged:
    return CaseWeightingChanged(
        case_id=case.case_id,
        practitioner_id=case.held_by,
        case_type=profile.case_type,
        tier=profile.tier,
        t2a=profile.t2a,
        stage=profile.stage,
        points=points,
        previous_points=case.points,
        scheme_name=scheme_name,
        scheme_version=scheme_version,
        cause=cause,
        agreement_id=agreement_id,
    )


def _close(command: CloseCase, case: Case) -> list[EventData]:
    check.day(command.closed_on, "closed_on")
    if command.closed_on < case.opened_on:
        raise InvalidValue(f"before the case opened ({case.opened_on})", field="closed_on")
    return [
        CaseClosed(
            case_id=case.case_id,
            practitioner_id=case.practitioner_id,
            team_id=case.team_id,
            points=case.points,
            closed_on=command.closed_on,
        )
    ]


# Evolving.


def evolve(state: CaseState, event: EventData) -> CaseState:
    """The case after one event of its stream."""
    if isinstance(event, CaseOpened):
        return Case(
            case_id=event.case_id,
            team_id=event.team_id,
            profile=CaseProfile(
                case_type=event.case_type, tier=event.tier, t2a=event.t2a, stage=event.stage
            ),
            points=event.points,
            scheme_name=event.scheme_name,
            scheme_version=event.scheme_version,
            opened_on=event.opened_on,
        )
    case = _existing(state, getattr(event, "case_id", "?"))
    if isinstance(event, CaseAllocated):
        return replace(case, practitioner_id=event.practitioner_id, team_id=event.team_id)
    if isinstance(event, CaseReallocated):
        # It moves at the points it carries, whole: a suspension ends with it.
        return replace(
            case,
            practitioner_id=event.practitioner_id,
            team_id=event.team_id,
            points=event.points,
            suspended_by=None,
        )
    if isinstance(event, CaseWeightingChanged):
        return replace(
            case,
            suspended_by=_suspension_after(case.suspended_by, event),
            profile=CaseProfile(
                case_type=event.case_type, tier=event.tier, t2a=event.t2a, stage=event.stage
            ),
            points=event.points,
            scheme_name=event.scheme_name,
            scheme_version=event.scheme_version,
        )
    if isinstance(event, CaseClosed):
        return replace(case, closed_on=event.closed_on)
    if isinstance(event, AllocationOverrideRecorded):
        return case
    raise TypeError(f"{event.type} is not an event of a case")


def _suspension_after(
    suspension: Suspension | None, event: CaseWeightingChanged
) -> Suspension | None:
    if event.cause == "work-resumed":
        return None
    if event.cause in ("work-suspended", "work-not-to-be-done") and event.agreement_id:
        kind: SuspensionKind = "suspended" if event.cause == "work-suspended" else "not-to-be-done"
        return Suspension(event.agreement_id, kind)
    return suspension  # a tier, stage or scheme change keeps it


CASE: Final = Decider[CaseCommand, CaseState](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""The case aggregate as a `Decider`."""
