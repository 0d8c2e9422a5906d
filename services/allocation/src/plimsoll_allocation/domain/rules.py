"""The allocation rules: who may be given a case, by whom, and what going above capacity needs.

Pure: decided only from facts the handler passes in on the command, about the
practitioner who would get the case (`PractitionerFacts`: team, region,
current points, available points, whether they have left or are on a full
reduction), about who decides (`Actor`: id, roles, team, region), and the
agreed limits (`AllocationPolicy`). `caseload.decide` applies them, in order:

1. only a manager or a head of service allocates; a manager only to someone in
   their own team (and, allocating, only a case of their team; reallocating,
   only a case held in their team unless the reason is TRANSFER_IN); a head of
   service likewise within their region: to someone in it, and only a case held
   in one of its teams (when that team's region is known) unless the reason is
   TRANSFER_IN (`authorise`). A refusal names only the actor's own team or
   region, never where the other record is, and a case that does not exist is
   refused as one outside their scope (`outside_scope`): nobody learns what
   exists beyond their area by trying ids;
2. nobody who has left, or whose leaving is recorded, and nobody on a 100%
   reduction (sickness, maternity) is given a case (`check_available`);
3. if the practitioner's capacity after the allocation is above the override
   threshold (default 100%), a written reason is needed and the decision is
   recorded as `allocation-override-recorded`; above the hard ceiling (default
   120%) only a head of service may decide, with a reason (`override_record`).
   Someone with no available points at all (a grade without default hours, 0
   contracted hours) counts as above the ceiling for any case with points,
   though WMT shows their capacity as 0%. "Above" is strict: exactly 100.0%
   needs no reason.

`assess_allocation` is the same judgement without deciding: the impact preview
(capacity now and after) and what the allocation would need.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, get_args

from plimsoll_events.types.allocation import (
    AllocationOverrideRecorded,
    AllocationReason,
    ReallocationReason,
)
from plimsoll_platform.roles import Role

from plimsoll_allocation.domain.capacity import ImpactPreview, Workload, impact_preview
from plimsoll_allocation.domain.errors import (
    HeadOfServiceRequired,
    NotPermitted,
    OutsideScope,
    OverrideReasonRequired,
    PractitionerFullyReduced,
    PractitionerHasLeft,
)
from plimsoll_allocation.domain.weighting import Scheme
from plimsoll_allocation.domain.workforce import Practitioner, available_points_of

ALLOCATION_REASONS: Final[tuple[str, ...]] = get_args(AllocationReason)
"""Reasons for `AllocateCase`: HMPPS's allocation reasons plus LOSS_OF_CONFIDENCE."""

REALLOCATION_REASONS: Final[tuple[str, ...]] = get_args(ReallocationReason)
"""Reasons for `ReallocateCase`: every allocation reason but INITIAL_ALLOCATION."""

DecidingRole = Literal["manager", "head-of-service"]
Exceeded = Literal["override-threshold", "hard-ceiling"]


@dataclass(frozen=True)
class Actor:
    """Who is deciding: their id, their roles (from the token), their team and region."""

    actor_id: str
    roles: frozenset[str]
    team_id: str | None = None
    region_id: str | None = None

    @property
    def deciding_role(self) -> DecidingRole | None:
        """The role they allocate in: head of service over manager; None if neither."""
        if Role.HEAD_OF_SERVICE in self.roles:
            return "head-of-service"
        if Role.MANAGER in self.roles:
            return "manager"
        return None

    @property
    def scope(self) -> str:
        """Where they decide, in their own words: their region, or their team."""
        if self.deciding_role == "head-of-service":
            return f"your region ({self.region_id})" if self.region_id else "your region: none"
        return f"your team ({self.team_id})" if self.team_id else "your team: none"


@dataclass(frozen=True)
class PractitionerFacts:
    """What allocation needs to know about the practitioner who would get the case.

    `total_points` is the workload they carry now (without this case), and
    `available_points` their capacity with today's reductions.
    """

    practitioner_id: str
    team_id: str
    region_id: str
    total_points: int
    available_points: int
    has_left: bool = False
    on_full_reduction: bool = False

    @classmethod
    def of(
        cls, practitioner: Practitioner, scheme: Scheme, total_points: int
    ) -> "PractitionerFacts":
        """The facts from a practitioner's state, their scheme, and their workload points."""
        return cls(
            practitioner_id=practitioner.practitioner_id,
            team_id=practitioner.team_id,
            region_id=practitioner.region_id,
            total_points=total_points,
            available_points=available_points_of(practitioner, scheme),
            has_left=practitioner.has_left,
            on_full_reduction=practitioner.on_full_reduction,
        )


@dataclass(frozen=True)
class AllocationPolicy:
    """The agreed limits: above the threshold a reason, above the ceiling a head of service."""

    override_threshold_percent: Decimal = Decimal(100)
    hard_ceiling_percent: Decimal = Decimal(120)

    def __post_init__(self) -> None:
        if not 0 < self.override_threshold_percent <= self.hard_ceiling_percent:
            raise ValueError("the override threshold must be above 0 and at most the ceiling")


DEFAULT_POLICY: Final = AllocationPolicy()
"""100% and 120%."""


@dataclass(frozen=True)
class AllocationAssessment:
    """What an allocation would do to a practitioner, and what it would need."""

    preview: ImpactPreview
    exceeded: Exceeded | None
    policy: AllocationPolicy

    @property
    def needs_reason(self) -> bool:
        """A written reason is needed (above the override threshold)."""
        return self.exceeded is not None

    @property
    def needs_head_of_service(self) -> bool:
        """Only a head of service may decide (above the hard ceiling)."""
        return self.exceeded == "hard-ceiling"


def assess_allocation(
    practitioner: PractitionerFacts, case_points: int, policy: AllocationPolicy = DEFAULT_POLICY
) -> AllocationAssessment:
    """The impact preview of giving a case of `case_points` to `practitioner`, and what it needs.

    For the API's preview as much as for `decide`: capacity now and after, and
    whether it would go above the override threshold or the hard ceiling.
    """
    preview = impact_preview(
        total_points=practitioner.total_points,
        available_points=practitioner.available_points,
        case_points=case_points,
    )
    exceeded: Exceeded | None = None
    if preview.available_points == 0:
        exceeded = "hard-ceiling" if preview.points_after > 0 else None
    elif preview.capacity_after_percent > policy.hard_ceiling_percent:
        exceeded = "hard-ceiling"
    elif preview.capacity_after_percent > policy.override_threshold_percent:
        exceeded = "override-threshold"
    return AllocationAssessment(preview=preview, exceeded=exceeded, policy=policy)


def thresholds_above(workload: Workload, policy: AllocationPolicy) -> tuple[Exceeded, ...]:
    """The agreed limits a workload is above, lowest first, judged as `assess_allocation`
    judges an allocation: strictly above; with no available points, any points at all are
    above both (WMT shows 0% for them, which must not hide the load)."""
    if workload.available_points == 0:
        return ("override-threshold", "hard-ceiling") if workload.total_points > 0 else ()
    percent = workload.capacity_percent
    above: list[Exceeded] = []
    if percent > policy.override_threshold_percent:
        above.append("override-threshold")
    if percent > policy.hard_ceiling_percent:
        above.append("hard-ceiling")
    return tuple(above)


def authorise(
    actor: Actor,
    target: PractitionerFacts,
    *,
    case_id: str,
    case_team_id: str | None,
    case_region_id: str | None = None,
) -> DecidingRole:
    """The role the actor decides in, or `NotPermitted` / `OutsideScope`.

    `case_team_id` and `case_region_id` are where the case is held now (None:
    no constraint, as for a transfer in, or a team whose region is not known).
    """
    role = actor.deciding_role
    if role is None:
        raise _not_an_allocator()
    if role == "manager":
        if actor.team_id is None or target.team_id != actor.team_id:
            raise outside_scope(actor, target.practitioner_id, field="practitioner_id")
        if case_team_id is not None and case_team_id != actor.team_id:
            raise outside_scope(actor, f"case {case_id}", field="case_id")
        return role
    if actor.region_id is None or target.region_id != actor.region_id:
        raise outside_scope(actor, target.practitioner_id, field="practitioner_id")
    if case_region_id is not None and case_region_id != actor.region_id:
        raise outside_scope(actor, f"case {case_id}", field="case_id")
    return role


def nobody_to_allocate_to(actor: Actor, practitioner_id: str) -> NotPermitted:
    """The refusal of an allocation to someone never registered: the refusal of an actor
    who does not allocate at all, else the one of a practitioner outside their scope."""
    if actor.deciding_role is None:
        return _not_an_allocator()
    return outside_scope(actor, practitioner_id, field="practitioner_id")


def _not_an_allocator() -> NotPermitted:
    return NotPermitted("only a manager or a head of service allocates cases")


def outside_scope(actor: Actor, what: str, *, field: str) -> OutsideScope:
    """The refusal of `what` (a practitioner, "case X1") beyond where the actor decides.

    It names the actor's own team or region only, and is the same for a record
    that does not exist, so nobody learns what lies beyond their area.
    """
    role = "a head of service" if actor.deciding_role == "head-of-service" else "a manager"
    return OutsideScope(f"{what} is not in {actor.scope}: {role} allocates only there", field=field)


def check_available(target: PractitionerFacts) -> None:
    """Refuse work for someone who has left (or is leaving) or is on a 100% reduction."""
    if target.has_left:
        raise PractitionerHasLeft(
            f"{target.practitioner_id} has left or is leaving: they are given no new work",
            field="practitioner_id",
        )
    if target.on_full_reduction:
        raise PractitionerFullyReduced(
            f"{target.practitioner_id} is on a 100% reduction: they are given no new work",
            field="practitioner_id",
        )


def override_record(
    *,
    action: Literal["allocate", "reallocate"],
    case_id: str,
    case_points: int,
    target: PractitionerFacts,
    actor: Actor,
    role: DecidingRole,
    reason: str | None,
    policy: AllocationPolicy,
) -> AllocationOverrideRecorded | None:
    """The override an allocation needs recorded (None within capacity), or the refusal.

    `HeadOfServiceRequired` above the hard ceiling for anyone else;
    `OverrideReasonRequired` above the threshold without a written reason.
    """
    assessment = assess_allocation(target, case_points, policy)
    if assessment.exceeded is None:
        return None
    preview = assessment.preview
    if preview.available_points == 0:
        situation = f"{target.practitioner_id} has no available points"
    else:
        situation = (
            f"this takes {target.practitioner_id} from {preview.capacity_before_percent}% "
            f"to {preview.capacity_after_percent}%"
        )
    if assessment.needs_head_of_service and role != "head-of-service":
        raise HeadOfServiceRequired(
            f"{situation}, above the hard ceiling of {policy.hard_ceiling_percent}%: "
            "only a head of service may allocate",
            field="practitioner_id",
        )
    if reason is None:
        limit = (
            f"the hard ceiling of {policy.hard_ceiling_percent}%"
            if assessment.needs_head_of_service
            else f"the override threshold of {policy.override_threshold_percent}%"
        )
        raise OverrideReasonRequired(
            f"{situation}, above {limit}: a written reason is needed", field="override_reason"
        )
    return AllocationOverrideRecorded(
        practitioner_id=target.practitioner_id,
        case_id=case_id,
        team_id=target.team_id,
        action=action,
        case_points=case_points,
        points_before=preview.points_before,
        points_after=preview.points_after,
        available_points=preview.available_points,
        capacity_before_percent=preview.capacity_before_percent,
        capacity_after_percent=preview.capacity_after_percent,
        override_threshold_percent=policy.override_threshold_percent,
        hard_ceiling_percent=policy.hard_ceiling_percent,
        exceeded=assessment.exceeded,
        reason=reason,
        decided_by=actor.actor_id,
        decided_by_role=role,
    )
