"""Breaches: listed with their age and status (now or as of an instant), read one by one,
acknowledged, resolved by a recorded decision."""

from collections import Counter
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from plimsoll_events.types.fields import Identifier, Instant, Text
from plimsoll_events.types.wellbeing import BreachRule, EscalationLevel, SubjectKind
from plimsoll_platform.access import Caller, Place
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from plimsoll_platform.roles import EVERYWHERE, Role
from pydantic import BaseModel, Field

from plimsoll_wellbeing.api.deps import (
    AS_OF,
    BreachViewer,
    Decider,
    DutyDep,
    HandlersDep,
    PlacementsDep,
    PolicyDep,
    TeamStaff,
    TimeDep,
    place_of,
)
from plimsoll_wellbeing.domain.breach import Acknowledge, ResolveByDecision
from plimsoll_wellbeing.domain.errors import NotFound
from plimsoll_wellbeing.duty_queries import age

router = APIRouter(tags=["breaches"])

NOT_FOUND = {404: "No such breach (or not opened yet at that instant)"}
AsOf = Annotated[Instant | None, Query(description=AS_OF)]


class BreachView(BaseModel):
    """A breach as it stood at `as_of`: what it was judged on and everything since."""

    breach_id: str
    rule: BreachRule
    subject_kind: SubjectKind
    subject_id: str
    practitioner_id: str | None
    team_id: str
    region_id: str
    status: Literal["open", "resolved"]
    opened_at: datetime
    breached_since: datetime
    age_days: float
    """From its opening to `as_of` (or to its resolution)."""
    policy_version: int
    facts: dict[str, Any]
    thresholds: dict[str, Any]
    cause: dict[str, Any]
    judged_at: datetime
    acknowledge_by: date
    escalate_by: date
    acknowledged: dict[str, Any] | None
    level: EscalationLevel | None
    escalations: list[dict[str, Any]]
    rejudgements: list[dict[str, Any]]
    resolution: dict[str, Any] | None
    history: list[dict[str, Any]]


class BreachFigures(BaseModel):
    open: int
    resolved: int
    open_unacknowledged: int
    with_manager: int
    with_head_of_service: int
    open_by_rule: dict[str, int]
    oldest_open_days: float | None


class BreachList(BaseModel):
    as_of: datetime
    figures: BreachFigures
    breaches: list[BreachView] | None
    """Null for ops (the figures only)."""


def _view(breach: dict[str, Any], at: datetime) -> BreachView:
    until = at
    if breach["resolution"] is not None:
        until = min(at, datetime.fromisoformat(breach["resolution"]["at"]))
    return BreachView.model_validate({**breach, **age(breach, until)})


def _check(caller: Caller, breach: dict[str, Any]) -> None:
    place = Place(breach["team_id"], breach["region_id"])
    if breach["subject_kind"] == "practitioner":
        caller.check_practitioner(breach["practitioner_id"], place, field="breach_id")
    else:
        caller.check_record(f"breach {breach['breach_id']}", place, field="breach_id")


def _scope(
    caller: Caller,
    placements: PlacementsDep,
    practitioner_id: str | None,
    team_id: str | None,
    region_id: str | None,
) -> tuple[str, dict[str, Any], bool]:
    """The breaches the caller asks for and may see: (where, values, named)."""
    principal = caller.principal
    if practitioner_id is not None:
        caller.check_practitioner(
            practitioner_id, place_of(placements.of(practitioner_id)), field="practitioner_id"
        )
        return "subject_id = :v", {"v": practitioner_id}, True
    if team_id is not None:
        named = caller.named_figures(Place(team_id, placements.team_region(team_id)))
        return "team_id = :v", {"v": team_id}, named
    if region_id is not None:
        return "region_id = :v", {"v": region_id}, caller.check_region(region_id, field="region_id")
    if principal.has_any(*EVERYWHERE) or (
        Role.OPS in principal.roles and not principal.has_any(Role.MANAGER, Role.HEAD_OF_SERVICE)
    ):
        return "true", {}, principal.has_any(*EVERYWHERE)
    if Role.HEAD_OF_SERVICE in principal.roles and principal.region:
        return "region_id = :v", {"v": principal.region}, True
    if Role.MANAGER in principal.roles and principal.team:
        return "team_id = :v", {"v": principal.team}, True
    if principal.practitioner_id:
        return (
            "subject_id = :v and subject_kind = 'practitioner'",
            {"v": principal.practitioner_id},
            True,
        )
    raise NotFound("name a practitioner_id, team_id or region_id", field="practitioner_id")


@router.get(
    "/breaches",
    response_model=BreachList,
    responses=problem_responses(
        {
            404: "The practitioner named is unknown (to admins and services), or nothing was named "
            "by a caller with no scope of their own"
        }
    ),
    summary="Breaches with their age and status, in the caller's scope by default (a "
    "practitioner's, a team's, a region's); now or as of a past instant",
)
def list_breaches(
    caller: BreachViewer,
    placements: PlacementsDep,
    duty: DutyDep,
    time: TimeDep,
    status: Literal["open", "resolved", "all"] = "open",
    rule: BreachRule | None = None,
    practitioner_id: Identifier | None = None,
    team_id: Identifier | None = None,
    region_id: Identifier | None = None,
    as_of: AsOf = None,
) -> BreachList:
    where, values, named = _scope(caller, placements, practitioner_id, team_id, region_id)
    duty.check_as_of(as_of)
    at = as_of or time.now()
    found = [_view(b, at) for b in duty.breaches_where(where, values, as_of)]
    opened = [b for b in found if b.status == "open"]
    figures = BreachFigures(
        open=len(opened),
        resolved=len(found) - len(opened),
        open_unacknowledged=sum(b.acknowledged is None for b in opened),
        with_manager=sum(b.level == "manager" for b in opened),
        with_head_of_service=sum(b.level == "head-of-service" for b in opened),
        open_by_rule=dict(sorted(Counter(b.rule for b in opened).items())),
        oldest_open_days=max((b.age_days for b in opened), default=None),
    )
    chosen = [b for b in found if status == "all" or b.status == status]
    if rule is not None:
        chosen = [b for b in chosen if b.rule == rule]
    if named:  # the access log: whose breaches this answer shows
        caller.served(*sorted({b.practitioner_id for b in chosen if b.practitioner_id}))
    return BreachList(as_of=at, figures=figures, breaches=chosen if named else None)


@router.get(
    "/breaches/{breach_id}",
    response_model=BreachView,
    responses=problem_responses(NOT_FOUND),
    summary="One breach and its history; now or as of a past instant",
)
def read_breach(
    breach_id: Identifier,
    caller: BreachViewer,
    duty: DutyDep,
    time: TimeDep,
    as_of: AsOf = None,
) -> BreachView:
    duty.check_as_of(as_of)
    breach = _found(caller, duty, breach_id, as_of)
    return _view(breach, as_of or time.now())


def _found(caller: Caller, duty: DutyDep, breach_id: str, as_of: datetime | None) -> dict[str, Any]:
    breach = duty.breach(breach_id, as_of)
    if breach is None:
        caller.check_record(f"breach {breach_id}", None, field="breach_id")
        raise NotFound(f"no breach {breach_id}", field="breach_id")
    _check(caller, breach)
    return breach


class Acknowledging(StrictBody):
    note: Text | None = Field(default=None, description="What you want recorded with it.")


class Resolving(StrictBody):
    reason: Text = Field(description="Why the breach is resolved although its rule may still hold.")


@router.post(
    "/breaches/{breach_id}/acknowledgement",
    response_model=BreachView,
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Acknowledge an open breach: it escalates no further (once; not a resolved one)",
)
def acknowledge(
    breach_id: Identifier,
    body: Acknowledging,
    caller: TeamStaff,
    duty: DutyDep,
    handlers: HandlersDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> BreachView:
    breach = _found(caller, duty, breach_id, None)
    command = Acknowledge(breach_id, caller.actor_id, body.note)
    handlers.acknowledge_breach(breach["stream_id"], command, metadata, key)
    return _view(_found(caller, duty, breach_id, None), time.now())


@router.post(
    "/breaches/{breach_id}/resolution",
    response_model=BreachView,
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Resolve an open breach by a recorded decision, with the reason",
)
def resolve(
    breach_id: Identifier,
    body: Resolving,
    caller: Decider,
    duty: DutyDep,
    handlers: HandlersDep,
    policy: PolicyDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> BreachView:
    breach = _found(caller, duty, breach_id, None)
    now = time.now()
    command = ResolveByDecision(
        breach_id, caller.actor_id, body.reason, now, policy.in_force(now).policy_version
    )
    handlers.resolve_breach(breach["stream_id"], command, metadata, key)
    return _view(_found(caller, duty, breach_id, None), time.now())
