"""The policy: the version in force at any instant, its history, and how a version is agreed."""

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from plimsoll_events.types.fields import Instant, Text
from plimsoll_events.types.wellbeing import PolicyThresholds, Side
from plimsoll_platform.access import Caller
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, Field

from plimsoll_wellbeing.api.deps import (
    HandlersDep,
    PolicyDep,
    PolicyMaker,
    SignedIn,
    TimeDep,
    sides_of,
)
from plimsoll_wellbeing.domain.errors import InvalidValue
from plimsoll_wellbeing.domain.policy import (
    DEFAULT_POLICY,
    ApprovePolicy,
    ProposePolicy,
    RejectPolicy,
)
from plimsoll_wellbeing.queries import PolicyRecord

router = APIRouter(tags=["policy"])

NOT_FOUND = {404: "No such proposed version"}


class PolicyView(BaseModel):
    """The policy version in force at `as_of`."""

    as_of: datetime
    policy_version: int
    thresholds: PolicyThresholds
    adopted_at: datetime | None
    """When it came into force; null for version 1, the defaults, in force from the start."""
    employer_approved_by: str | None
    union_approved_by: str | None


class Approval(BaseModel):
    side: Side
    approved_by: str
    approved_at: datetime


class Rejection(BaseModel):
    side: Side
    rejected_by: str
    reason: str
    rejected_at: datetime


class PolicyVersionView(BaseModel):
    """One version: what it says, who proposed it, and what became of it."""

    policy_version: int
    status: Literal["pending", "adopted", "rejected", "superseded"]
    thresholds: PolicyThresholds
    proposed_by: str | None
    """Null for version 1: the defaults of the agreements, never proposed in Plimsoll."""
    side: Side | None
    reason: str | None
    proposed_at: datetime | None
    approvals: list[Approval]
    rejection: Rejection | None
    adopted_at: datetime | None


class PolicyHistory(BaseModel):
    in_force: int
    """The version in force now."""
    versions: list[PolicyVersionView]
    """Every version, oldest first, version 1 included."""


class Proposing(StrictBody):
    policy_version: int = Field(description="The next version after the latest proposed.")
    thresholds: PolicyThresholds
    side: Side | None = Field(default=None, description="Default: your side, if you have one.")
    reason: Text


class Approving(StrictBody):
    side: Side | None = Field(default=None, description="Default: your side, if you have one.")


class Rejecting(StrictBody):
    side: Side | None = None
    reason: Text


def _side(caller: Caller, given: Side | None) -> Side:
    if given is not None:
        return given
    sides = sorted(sides_of(caller))
    if len(sides) != 1:
        raise InvalidValue("say which side you act for: employer or union", field="side")
    return sides[0]


def history(record: PolicyRecord) -> list[PolicyVersionView]:
    """Every version from the policy's events, version 1 first."""
    versions: dict[int, dict[str, Any]] = {
        1: {
            "policy_version": 1,
            "status": "adopted",
            "thresholds": DEFAULT_POLICY.thresholds,
            "proposed_by": None,
            "side": None,
            "reason": None,
            "proposed_at": None,
            "approvals": [],
            "rejection": None,
            "adopted_at": None,
        }
    }
    for at, event in record.events:
        version = event["policy_version"]
        if event["type"] == "policy-proposed":
            versions[version] = {
                **{k: event[k] for k in ("policy_version", "thresholds", "proposed_by", "side")},
                "reason": event["reason"],
                "proposed_at": at,
                "approvals": [],
                "rejection": None,
                "adopted_at": None,
            }
        elif event["type"] == "policy-approved":
            versions[version]["approvals"].append(
                {"side": event["side"], "approved_by": event["approved_by"], "approved_at": at}
            )
        elif event["type"] == "policy-rejected":
            versions[version]["rejection"] = {**event, "rejected_at": at}
        elif event["type"] == "policy-adopted":
            versions[version]["adopted_at"] = event["adopted_at"]
    for version, proposal in record.state.proposals.items():
        versions[version]["status"] = proposal.status
    return [PolicyVersionView.model_validate(versions[v]) for v in sorted(versions)]


def _version(policy: PolicyDep, version: int) -> PolicyVersionView:
    return next(v for v in history(policy.record()) if v.policy_version == version)


@router.get("/policy", responses=problem_responses(), summary="The policy version in force")
def read_policy(
    caller: SignedIn,
    policy: PolicyDep,
    time: TimeDep,
    as_of: Annotated[Instant | None, Query(description="Default: now.")] = None,
) -> PolicyView:
    at = as_of or time.now()
    found = policy.in_force(at)
    return PolicyView(
        as_of=at,
        policy_version=found.policy_version,
        thresholds=found.thresholds,
        adopted_at=found.adopted_at,
        employer_approved_by=found.employer_approved_by,
        union_approved_by=found.union_approved_by,
    )


@router.get("/policy/history", responses=problem_responses(), summary="Every version and its fate")
def read_history(caller: SignedIn, policy: PolicyDep, time: TimeDep) -> PolicyHistory:
    return PolicyHistory(
        in_force=policy.in_force(time.now()).policy_version, versions=history(policy.record())
    )


@router.post(
    "/policy/proposals",
    status_code=201,
    responses=problem_responses(command=True),
    summary="Propose a new version, whole; it takes effect once both sides approve it",
)
def propose(
    body: Proposing,
    caller: PolicyMaker,
    policy: PolicyDep,
    handlers: HandlersDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> PolicyVersionView:
    command = ProposePolicy(
        policy_version=body.policy_version,
        thresholds=body.thresholds,
        side=_side(caller, body.side),
        actor_id=caller.actor_id,
        actor_sides=sides_of(caller),
        reason=body.reason,
    )
    [recorded] = handlers.propose_policy(command, metadata, key)
    return _version(policy, recorded.data["policy_version"])


@router.post(
    "/policy/proposals/{policy_version}/approval",
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Approve exactly this version for your side; the second side's approval adopts it",
)
def approve(
    policy_version: int,
    body: Approving,
    caller: PolicyMaker,
    policy: PolicyDep,
    handlers: HandlersDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> PolicyVersionView:
    command = ApprovePolicy(
        policy_version=policy_version,
        side=_side(caller, body.side),
        actor_id=caller.actor_id,
        actor_sides=sides_of(caller),
        at=time.now(),
    )
    handlers.approve_policy(command, metadata, key)
    return _version(policy, policy_version)


@router.post(
    "/policy/proposals/{policy_version}/rejection",
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Reject a proposed version: it can no longer be adopted",
)
def reject(
    policy_version: int,
    body: Rejecting,
    caller: PolicyMaker,
    policy: PolicyDep,
    handlers: HandlersDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> PolicyVersionView:
    command = RejectPolicy(
        policy_version=policy_version,
        side=_side(caller, body.side),
        actor_id=caller.actor_id,
        actor_sides=sides_of(caller),
        reason=body.reason,
    )
    handlers.reject_policy(command, metadata, key)
    return _version(policy, policy_version)
