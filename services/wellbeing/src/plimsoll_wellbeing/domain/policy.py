"""The wellbeing policy: the thresholds duty of care is judged by, agreed by both sides.

One stream (`POLICY_STREAM`). A decider: `initial_state`, `decide`, `evolve`; and
`PolicyBook.in_force(at)`, the version in force at an instant.

Rules:

* Version 1 is `DEFAULT_THRESHOLDS`, the defaults of the agreements as written, each with
  its source. It is in force from the beginning until another version is adopted. It is
  never proposed nor approved in Plimsoll: recording approvals nobody gave would be false,
  so it is implicit (and the first proposal is version 2).
* A proposal is a whole new version, numbered one after the latest proposed; a newer
  proposal supersedes one not yet adopted (its approvals never carry over). Every window is
  at least 1 (pydantic refuses a zero); red is not below amber, nor the first-year
  supervision interval above the usual one (each refused naming the threshold).
* A version takes effect only once one employer representative and one union
  representative have each approved exactly that version, each with their own account:
  the second approval and `policy-adopted` are recorded in one append, and the adoption
  instant is the approval's. The same account approving twice (for either side) is refused
  naming `policy_version`; a second account of a side that has approved, naming `side`.
* A representative acts only for their own side (`actor_sides`, from their roles; naming
  `side`). Rejecting a pending version is recorded and ends it.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, Literal

from plimsoll_events import refusals
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.wellbeing import (
    PolicyAdopted,
    PolicyApproved,
    PolicyProposed,
    PolicyRejected,
    PolicyThresholds,
    Side,
)

from plimsoll_wellbeing.domain.errors import (
    AlreadyApproved,
    InvalidValue,
    NotFound,
    NotPermitted,
    PolicyNotPending,
    SideAlreadyApproved,
    StalePolicyVersion,
)

POLICY_STREAM: Final = "wellbeing-policy"

DEFAULT_THRESHOLDS: Final = PolicyThresholds.model_validate(
    {
        "capacity_amber": {
            "percent": 100,
            "source": "HMPPS Workload Measurement Tool (WMT): capacity above 100% of "
            "available points",
        },
        "capacity_red": {
            "percent": 110,
            "source": "HMPPS Workload Measurement Tool (WMT): capacity above 110% of "
            "available points",
        },
        "excessive_workload": {
            "percent": 110,
            "weeks": 4,
            "source": "HMPPS: excessive workload is capacity above 110% for 4 consecutive weeks",
        },
        "average_hours": {
            "weeks": 4,
            "source": "Cafcass joint statement on workloads (2009): hours worked, averaged over "
            "4 weeks, not above contracted hours",
        },
        "working_time": {
            "hours": 48,
            "weeks": 17,
            "source": "Working Time Regulations 1998, regulation 4: 48 hours a week averaged "
            "over 17 weeks, unless the worker has opted out",
        },
        "daily_rest": {
            "hours": 11,
            "source": "Working Time Regulations 1998, regulation 10: 11 consecutive hours' rest "
            "between working days",
        },
        "supervision_interval": {
            "days": 28,
            "first_year_days": 14,
            "first_year_grades": ["NQO", "PQiP"],
            "source": "Joint workload agreement: supervision at least every 28 days; every 14 "
            "days for newly qualified officers and PQiPs in their first year",
        },
        "declaration_answer": {
            "working_days": 5,
            "source": "Joint workload agreement: an unsafe-workload declaration is answered "
            "within 5 working days (England and Wales bank holidays excluded)",
        },
        "supervisor_ratio": {
            "staff": 8,
            "source": "Joint workload agreement: one supervisor to at most 8 staff",
        },
        "team_full": {
            "percent": 100,
            "source": "Joint workload agreement: a team at 100% of its capacity is full "
            "(the probation equivalent of Operation Safeguard)",
        },
    }
)
"""Policy version 1: the defaults, in force until another version is adopted."""

# Commands.


@dataclass(frozen=True)
class ProposePolicy:
    """Propose `thresholds`, whole, as `policy_version` (the next after the latest proposed)."""

    policy_version: int
    thresholds: PolicyThresholds
    side: Side
    actor_id: str
    actor_sides: frozenset[Side]
    reason: str


@dataclass(frozen=True)
class ApprovePolicy:
    """Approve exactly `policy_version` for `side`; `at` is the instant it would take effect."""

    policy_version: int
    side: Side
    actor_id: str
    actor_sides: frozenset[Side]
    at: datetime


@dataclass(frozen=True)
class RejectPolicy:
    policy_version: int
    side: Side
    actor_id: str
    actor_sides: frozenset[Side]
    reason: str


PolicyCommand = ProposePolicy | ApprovePolicy | RejectPolicy

# State.


@dataclass(frozen=True)
class Proposal:
    policy_version: int
    thresholds: PolicyThresholds
    status: Literal["pending", "adopted", "rejected", "superseded"] = "pending"
    approvals: dict[Side, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyState:
    proposals: dict[int, Proposal] = field(default_factory=dict)

    @property
    def latest_version(self) -> int:
        return max(self.proposals, default=1)


initial_state: Final = PolicyState()

# Deciding.


def decide(command: PolicyCommand, state: PolicyState) -> list[EventData]:
    """The events a command records on the policy stream, or a refusal."""
    if command.side not in command.actor_sides:
        raise NotPermitted(
            f"{command.actor_id} does not represent the {command.side} side", field="side"
        )
    if isinstance(command, ProposePolicy):
        return _propose(command, state)
    proposal = state.proposals.get(command.policy_version)
    if proposal is None:
        raise NotFound(f"no proposed version {command.policy_version}", field="policy_version")
    if proposal.status != "pending":
        raise PolicyNotPending(
            f"version {command.policy_version} was {proposal.status}", field="policy_version"
        )
    if isinstance(command, RejectPolicy):
        return [
            PolicyRejected(
                policy_version=command.policy_version,
                rejected_by=command.actor_id,
                side=command.side,
                reason=refusals.text(command.reason, "reason"),
            )
        ]
    return _approve(command, proposal)


def _propose(command: ProposePolicy, state: PolicyState) -> list[EventData]:
    expected = state.latest_version + 1
    if command.policy_version != expected:
        raise StalePolicyVersion(
            f"the next version is {expected} (the latest proposed is {state.latest_version})",
            field="policy_version",
        )
    check_thresholds(command.thresholds)
    return [
        PolicyProposed(
            policy_version=command.policy_version,
            thresholds=command.thresholds,
            proposed_by=command.actor_id,
            side=command.side,
            reason=refusals.text(command.reason, "reason"),
        )
    ]


def check_thresholds(thresholds: PolicyThresholds) -> PolicyThresholds:
    """What single-field ranges cannot say: red not below amber, first year not laxer."""
    if thresholds.capacity_red.percent < thresholds.capacity_amber.percent:
        raise InvalidValue(
            f"must not be below capacity_amber ({thresholds.capacity_amber.percent}%)",
            field="thresholds.capacity_red.percent",
        )
    interval = thresholds.supervision_interval
    if interval.first_year_days > interval.days:
        raise InvalidValue(
            f"must not be above the usual interval ({interval.days} days)",
            field="thresholds.supervision_interval.first_year_days",
        )
    return thresholds


def _approve(command: ApprovePolicy, proposal: Proposal) -> list[EventData]:
    if command.actor_id in proposal.approvals.values():
        raise AlreadyApproved(
            f"{command.actor_id} approved version {command.policy_version} already: the other "
            "side's approval must come from another account",
            field="policy_version",
        )
    earlier = proposal.approvals.get(command.side)
    if earlier is not None:
        raise SideAlreadyApproved(
            f"the {command.side} side approved version {command.policy_version} already "
            f"({earlier}); the other side's approval is needed",
            field="side",
        )
    approved = PolicyApproved(
        policy_version=command.policy_version, approved_by=command.actor_id, side=command.side
    )
    approvals = {**proposal.approvals, command.side: command.actor_id}
    if set(approvals) != {"employer", "union"}:
        return [approved]
    adopted = PolicyAdopted(
        policy_version=command.policy_version,
        thresholds=proposal.thresholds,
        adopted_at=command.at,
        employer_approved_by=approvals["employer"],
        union_approved_by=approvals["union"],
    )
    return [approved, adopted]


# Evolving.


def evolve(state: PolicyState, event: EventData) -> PolicyState:
    """The policy's state after one event of its stream."""
    proposals = dict(state.proposals)
    if isinstance(event, PolicyProposed):
        for version, earlier in proposals.items():
            if earlier.status == "pending":
                proposals[version] = replace(earlier, status="superseded")
        proposals[event.policy_version] = Proposal(event.policy_version, event.thresholds)
    elif isinstance(event, PolicyApproved):
        proposal = proposals[event.policy_version]
        approvals = {**proposal.approvals, event.side: event.approved_by}
        proposals[event.policy_version] = replace(proposal, approvals=approvals)
    elif isinstance(event, PolicyRejected):
        proposals[event.policy_version] = replace(
            proposals[event.policy_version], status="rejected"
        )
    elif isinstance(event, PolicyAdopted):
        proposals[event.policy_version] = replace(proposals[event.policy_version], status="adopted")
    else:
        raise TypeError(f"{event.type} is not an event of the policy")
    return PolicyState(proposals)


POLICY: Final = Decider[PolicyCommand, PolicyState](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""The policy as a `Decider`."""


# The version in force.


@dataclass(frozen=True)
class PolicyInForce:
    """A policy version as it applies: its thresholds, and since when (None: version 1)."""

    policy_version: int
    thresholds: PolicyThresholds
    adopted_at: datetime | None
    employer_approved_by: str | None = None
    union_approved_by: str | None = None


DEFAULT_POLICY: Final = PolicyInForce(1, DEFAULT_THRESHOLDS, None)


def in_force(adoptions: list[PolicyAdopted], at: datetime) -> PolicyInForce:
    """The version in force at `at`: the latest adopted at or before it, else version 1."""
    current = DEFAULT_POLICY
    for adopted in sorted(adoptions, key=lambda a: a.adopted_at):
        if adopted.adopted_at > at:
            break
        current = PolicyInForce(
            adopted.policy_version,
            adopted.thresholds,
            adopted.adopted_at,
            adopted.employer_approved_by,
            adopted.union_approved_by,
        )
    return current
