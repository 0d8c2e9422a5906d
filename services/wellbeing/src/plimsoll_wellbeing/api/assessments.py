"""Stress risk assessments: recorded with the practitioner, reviewed on their review day."""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter
from plimsoll_events.types.fields import Day, Identifier, Text
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, Field

from plimsoll_wellbeing.api.deps import (
    HandlersDep,
    PlacementsDep,
    QueriesDep,
    TeamReader,
    TeamStaff,
    TimeDep,
    facts,
    new_id,
    reach_practitioner,
)
from plimsoll_wellbeing.domain.assessment import RecordAssessment

router = APIRouter(tags=["stress risk assessments"])

NOT_FOUND = {404: "No such practitioner, or no such assessment to review"}
PATH = "/practitioners/{practitioner_id}/stress-risk-assessments"


class AssessmentView(BaseModel):
    practitioner_id: str
    assessment_id: str
    assessed_on: date
    assessed_by: str
    risk_level: Literal["low", "medium", "high"]
    outcome: str
    measures: list[str]
    review_on: date
    reviews: str | None
    reviewed: bool
    """Whether a later assessment reviews this one."""


class Assessing(StrictBody):
    assessed_on: Day
    risk_level: Literal["low", "medium", "high"]
    outcome: Text
    measures: Annotated[list[Text], Field(max_length=50)] = Field(default_factory=list)
    review_on: Day
    reviews: Identifier | None = Field(default=None, description="The assessment reviewed.")


@router.get(PATH, responses=problem_responses(NOT_FOUND), summary="A practitioner's assessments")
def list_assessments(
    practitioner_id: Identifier, caller: TeamReader, placements: PlacementsDep, queries: QueriesDep
) -> list[AssessmentView]:
    reach_practitioner(caller, placements, practitioner_id)
    return [AssessmentView.model_validate(v) for v in queries.assessments(practitioner_id)]


@router.post(
    PATH,
    status_code=201,
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Record a stress risk assessment (or a review of one); a review is due on review_on",
)
def record(
    practitioner_id: Identifier,
    body: Assessing,
    caller: TeamStaff,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> AssessmentView:
    placement = reach_practitioner(caller, placements, practitioner_id)
    command = RecordAssessment(
        practitioner=facts(placement),
        assessment_id=new_id("RA"),
        assessed_on=body.assessed_on,
        assessed_by=caller.actor_id,
        risk_level=body.risk_level,
        outcome=body.outcome,
        review_on=body.review_on,
        today=time.today(),
        measures=tuple(body.measures),
        reviews=body.reviews,
    )
    [recorded] = handlers.record_assessment(command, metadata, key)
    assessment_id = recorded.data["assessment_id"]
    found = [v for v in queries.assessments(practitioner_id) if v["assessment_id"] == assessment_id]
    return AssessmentView.model_validate(found[0])
