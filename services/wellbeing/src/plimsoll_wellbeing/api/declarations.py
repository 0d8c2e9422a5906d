"""Unsafe-workload declarations: declared, answered, accepted or escalated, met about, closed."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from plimsoll_events.types.fields import Day, Identifier, Text
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, Field

from plimsoll_wellbeing.api.deps import (
    DeclarationReader,
    HandlersDep,
    MeetingChair,
    PlacementsDep,
    PolicyDep,
    QueriesDep,
    TeamStaff,
    Themself,
    TimeDep,
    declaration_in_reach,
    facts,
    new_id,
    reach_declarations,
    reach_practitioner,
)
from plimsoll_wellbeing.domain.declaration import (
    AcceptAnswer,
    Answer,
    Declare,
    EscalateUnaccepted,
    HoldThreeWayMeeting,
)

router = APIRouter(tags=["declarations"])

NOT_FOUND = {404: "No such practitioner or declaration"}
Texts = Annotated[list[Text], Field(max_length=50)]


class AnswerView(BaseModel):
    answered_by: str
    answered_on: date
    response: Literal["actions-agreed", "disagreed"]
    actions: list[str]
    reasons: str | None


class EscalationView(BaseModel):
    escalated_to: Literal["head-of-service"]
    region_id: str
    three_way_meeting_requested: bool
    because: Literal["deadline-missed", "answer-not-accepted"]
    answer_due_by: date
    escalated_on: date


class MeetingView(BaseModel):
    held_on: date
    head_of_service: str
    outcome: Literal["actions-agreed", "no-change-needed"]
    notes: str
    actions: list[str]


class ClosingView(BaseModel):
    closed_on: date
    closed_by: Literal["practitioner-accepted-answer", "three-way-meeting"]


class DeclarationView(BaseModel):
    """A declaration and everything that has happened to it."""

    practitioner_id: str
    declaration_id: str
    status: Literal["awaiting-answer", "answered", "escalated", "closed"]
    team_id: str
    region_id: str
    line_manager_id: str | None
    what_is_unsafe: str
    case_ids: list[str]
    tasks: list[str]
    details: str | None
    declared_on: date
    answer_due_by: date
    answer_within_working_days: int
    policy_version: int
    answer: AnswerView | None
    escalation: EscalationView | None
    three_way_meeting: MeetingView | None
    closing: ClosingView | None


class Declaring(StrictBody):
    what_is_unsafe: Text
    case_ids: Annotated[list[Identifier], Field(max_length=200)] = Field(default_factory=list)
    tasks: Texts = Field(default_factory=list)
    details: Text | None = None


class ActionsAgreed(StrictBody):
    response: Literal["actions-agreed"]
    actions: Annotated[list[Text], Field(min_length=1, max_length=50)] = Field(
        description="The actions agreed: at least one"
    )
    reasons: None = Field(default=None, description="Reasons are for disagreeing")


class Disagreed(StrictBody):
    response: Literal["disagreed"]
    reasons: Text = Field(description="Why not")
    actions: Annotated[list[Text], Field(max_length=0)] = Field(
        default_factory=list, description="A disagreement agrees no actions"
    )


Answering = Annotated[ActionsAgreed | Disagreed, Field(discriminator="response")]
"""The manager's answer: actions agreed (at least one), or disagreement with reasons."""


class Meeting(StrictBody):
    held_on: Day
    outcome: Literal["actions-agreed", "no-change-needed"]
    notes: Text
    actions: Texts = Field(default_factory=list)


def _view(queries: QueriesDep, declaration_id: str) -> DeclarationView:
    return DeclarationView.model_validate(queries.declaration(declaration_id))


@router.post(
    "/practitioners/{practitioner_id}/declarations",
    status_code=201,
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Declare that my workload is unsafe; an answer is due within the policy's working days",
)
def declare(
    practitioner_id: Identifier,
    body: Declaring,
    caller: Themself,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    policy: PolicyDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> DeclarationView:
    placement = reach_practitioner(caller, placements, practitioner_id)
    in_force = policy.in_force(time.now())
    command = Declare(
        declaration_id=new_id("D"),
        practitioner=facts(placement),
        what_is_unsafe=body.what_is_unsafe,
        today=time.today(),
        answer_within_working_days=in_force.thresholds.declaration_answer.working_days,
        policy_version=in_force.policy_version,
        case_ids=tuple(body.case_ids),
        tasks=tuple(body.tasks),
        details=body.details,
    )
    [recorded] = handlers.declare(command, metadata, key)
    return _view(queries, recorded.data["declaration_id"])


@router.get(
    "/practitioners/{practitioner_id}/declarations",
    responses=problem_responses(NOT_FOUND),
    summary="A practitioner's declarations, oldest first (a union representative: with the "
    "member's consent)",
)
def list_declarations(
    practitioner_id: Identifier,
    caller: DeclarationReader,
    placements: PlacementsDep,
    queries: QueriesDep,
) -> list[DeclarationView]:
    reach_declarations(caller, placements, queries, practitioner_id)
    return [DeclarationView.model_validate(v) for v in queries.declarations(practitioner_id)]


@router.get(
    "/declarations/{declaration_id}",
    responses=problem_responses(NOT_FOUND),
    summary="One declaration",
)
def read_declaration(
    declaration_id: Identifier,
    caller: DeclarationReader,
    placements: PlacementsDep,
    queries: QueriesDep,
) -> DeclarationView:
    view = declaration_in_reach(caller, placements, queries, declaration_id, union=True)
    return DeclarationView.model_validate(view)


@router.post(
    "/declarations/{declaration_id}/answer",
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Answer a declaration: actions agreed, or disagreement with reasons",
)
def answer(
    declaration_id: Identifier,
    body: Answering,
    caller: TeamStaff,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> DeclarationView:
    declaration_in_reach(caller, placements, queries, declaration_id)
    command = Answer(
        declaration_id=declaration_id,
        answered_by=caller.actor_id,
        answered_by_practitioner_id=caller.principal.practitioner_id,
        response=body.response,
        today=time.today(),
        actions=tuple(body.actions),
        reasons=body.reasons,
    )
    handlers.answer(command, metadata, key)
    return _view(queries, declaration_id)


@router.post(
    "/declarations/{declaration_id}/acceptance",
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Accept the answer: the declaration closes",
)
def accept(
    declaration_id: Identifier,
    caller: Themself,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> DeclarationView:
    declaration_in_reach(caller, placements, queries, declaration_id)
    handlers.accept_answer(AcceptAnswer(declaration_id, time.today()), metadata, key)
    return _view(queries, declaration_id)


@router.post(
    "/declarations/{declaration_id}/escalation",
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Do not accept the answer: escalate to the head of service for a three-way meeting",
)
def escalate(
    declaration_id: Identifier,
    caller: Themself,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> DeclarationView:
    view: dict[str, Any] = declaration_in_reach(caller, placements, queries, declaration_id)
    placement = placements.of(str(view["practitioner_id"]))
    region = placement.region_id if placement else None
    handlers.escalate_unaccepted(
        EscalateUnaccepted(declaration_id, time.today(), region), metadata, key
    )
    return _view(queries, declaration_id)


@router.post(
    "/declarations/{declaration_id}/three-way-meeting",
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Record the three-way meeting about an escalated declaration; its outcome closes it",
)
def three_way_meeting(
    declaration_id: Identifier,
    body: Meeting,
    caller: MeetingChair,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> DeclarationView:
    declaration_in_reach(caller, placements, queries, declaration_id)
    command = HoldThreeWayMeeting(
        declaration_id=declaration_id,
        head_of_service=caller.actor_id,
        held_on=body.held_on,
        outcome=body.outcome,
        notes=body.notes,
        today=time.today(),
        actions=tuple(body.actions),
    )
    handlers.hold_three_way_meeting(command, metadata, key)
    return _view(queries, declaration_id)
