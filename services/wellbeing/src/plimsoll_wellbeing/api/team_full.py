"""A team declared full and lifted (also published for courts and partners as HMPPS domain
events on `plimsoll.wellbeing.hmpps`)."""

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.store import EventStore
from plimsoll_events.types.fields import Identifier, Text
from plimsoll_events.types.wellbeing import TeamFullDeclared, TeamFullLifted
from plimsoll_platform.access import Caller, Place
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata, EventStoreDep
from pydantic import BaseModel, Field

from plimsoll_wellbeing.api.deps import (
    DutyDep,
    FullDeclarer,
    HandlersDep,
    PlacementsDep,
    SignedIn,
    TimeDep,
)
from plimsoll_wellbeing.domain.errors import NotFound
from plimsoll_wellbeing.domain.team_full import DeclareFull, LiftFull, team_full_stream

router = APIRouter(tags=["teams full"])

StoreDep = EventStoreDep
NOT_FOUND = {404: "No such team (nobody placed in it yet)"}


class FullStep(BaseModel):
    type: str
    at: datetime
    by: str
    reason: str
    day: date
    expected_until: date | None = None


class TeamFullView(BaseModel):
    """Whether the team is declared full now, and every declaration and lifting."""

    team_id: str
    region_id: str | None
    full: bool
    declared_on: date | None
    expected_until: date | None
    reason: str | None
    history: list[FullStep]


class DeclaringFull(StrictBody):
    reason: Text = Field(description="Why normal service cannot be given.")
    expected_duration_days: int = Field(
        ge=1, le=366, description="How long it is expected to last, in days (1 to 366)."
    )


class LiftingFull(StrictBody):
    reason: Text = Field(description="Why normal service can be given again.")


def _view(store: EventStore, team_id: str, region_id: str | None) -> TeamFullView:
    history: list[FullStep] = []
    current: dict[str, Any] | None = None
    for recorded in store.read_stream(team_full_stream(team_id)):
        data = CATALOGUE.decode(recorded.type, recorded.version, recorded.data)
        if isinstance(data, TeamFullDeclared):
            current = {
                "declared_on": data.declared_on,
                "expected_until": data.expected_until,
                "reason": data.reason,
            }
            step = FullStep(
                type=data.type,
                at=recorded.recorded_at,
                by=data.declared_by,
                reason=data.reason,
                day=data.declared_on,
                expected_until=data.expected_until,
            )
        else:
            assert isinstance(data, TeamFullLifted)
            current = None
            step = FullStep(
                type=data.type,
                at=recorded.recorded_at,
                by=data.lifted_by,
                reason=data.reason,
                day=data.lifted_on,
            )
        history.append(step)
    return TeamFullView(
        team_id=team_id,
        region_id=region_id,
        full=current is not None,
        declared_on=current and current["declared_on"],
        expected_until=current and current["expected_until"],
        reason=current and current["reason"],
        history=history,
    )


def _place(caller: Caller, placements: PlacementsDep, team_id: str) -> str:
    region = placements.team_region(team_id)
    caller.check_place(Place(team_id, region), field="team_id")
    if region is None:  # an admin, for a team nobody has been placed in
        raise NotFound(
            f"nobody has been placed in {team_id}: its region is not known", field="team_id"
        )
    return region


@router.get(
    "/teams/{team_id}/full",
    response_model=TeamFullView,
    responses=problem_responses(),
    summary="Whether the team is declared full, and its declarations and liftings",
)
def read_team_full(
    team_id: Identifier, caller: SignedIn, placements: PlacementsDep, store: StoreDep
) -> TeamFullView:
    return _view(store, team_id, placements.team_region(team_id))


@router.post(
    "/teams/{team_id}/full",
    status_code=201,
    response_model=TeamFullView,
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Declare the team full (a head of service of its region, or an admin)",
)
def declare_full(
    team_id: Identifier,
    body: DeclaringFull,
    caller: FullDeclarer,
    placements: PlacementsDep,
    handlers: HandlersDep,
    duty: DutyDep,
    store: StoreDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> TeamFullView:
    region = _place(caller, placements, team_id)
    open_breach = next(
        (
            b["breach_id"]
            for b in duty.breaches_where(
                "subject_kind = 'team' and subject_id = :t and rule = 'team-full' "
                "and status = 'open'",
                {"t": team_id},
                None,
            )
        ),
        None,
    )
    command = DeclareFull(
        team_id,
        region,
        caller.actor_id,
        body.reason,
        time.today(),
        body.expected_duration_days,
        open_breach,
    )
    handlers.declare_team_full(command, metadata, key)
    return _view(store, team_id, region)


@router.post(
    "/teams/{team_id}/full/lifting",
    response_model=TeamFullView,
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Lift the team's declaration as full (a head of service of its region, or an admin)",
)
def lift_full(
    team_id: Identifier,
    body: LiftingFull,
    caller: FullDeclarer,
    placements: PlacementsDep,
    handlers: HandlersDep,
    store: StoreDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> TeamFullView:
    region = _place(caller, placements, team_id)
    handlers.lift_team_full(
        LiftFull(team_id, region, caller.actor_id, body.reason, time.today()), metadata, key
    )
    return _view(store, team_id, region)
