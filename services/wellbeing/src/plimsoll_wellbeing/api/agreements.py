"""Workload agreements (the prioritising framework): a practitioner's, and resuming one."""

from datetime import date
from typing import Literal

from fastapi import APIRouter
from plimsoll_events.types.fields import Identifier, Text
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel

from plimsoll_wellbeing.api.deps import (
    HandlersDep,
    PlacementsDep,
    QueriesDep,
    TeamReader,
    TeamStaff,
    TimeDep,
    reach_practitioner,
)
from plimsoll_wellbeing.domain.supervision import ResumeWork

router = APIRouter(tags=["agreements"])

NOT_FOUND = {404: "No such practitioner or agreement"}


class AgreementView(BaseModel):
    """Work on a case suspended or not to be done, agreed in a supervision."""

    practitioner_id: str
    agreement_id: str
    kind: Literal["suspend", "not-to-be-done"]
    case_id: str
    supervision_id: str
    reason: str
    court_or_partner_must_be_told: bool
    agreed_on: date
    until: date | None
    in_force: bool
    resumed_on: date | None = None
    resumed_because: Literal["agreed", "until-passed", "case-left-practitioner"] | None = None
    resumption_reason: str | None = None


class Resumption(StrictBody):
    reason: Text


@router.get(
    "/practitioners/{practitioner_id}/agreements",
    responses=problem_responses(NOT_FOUND),
    summary="A practitioner's workload agreements, oldest first",
)
def list_agreements(
    practitioner_id: Identifier,
    caller: TeamReader,
    placements: PlacementsDep,
    queries: QueriesDep,
) -> list[AgreementView]:
    reach_practitioner(caller, placements, practitioner_id)
    return [AgreementView.model_validate(v) for v in queries.agreements(practitioner_id)]


@router.post(
    "/practitioners/{practitioner_id}/agreements/{agreement_id}/resumption",
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Resume work suspended or not to be done: the case counts in capacity again",
)
def resume(
    practitioner_id: Identifier,
    agreement_id: Identifier,
    body: Resumption,
    caller: TeamStaff,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> AgreementView:
    reach_practitioner(caller, placements, practitioner_id)
    command = ResumeWork(practitioner_id, agreement_id, body.reason, time.today())
    handlers.resume_work(command, metadata, key)
    return agreement_view(queries, practitioner_id, agreement_id)


def agreement_view(queries: QueriesDep, practitioner_id: str, agreement_id: str) -> AgreementView:
    found = [v for v in queries.agreements(practitioner_id) if v["agreement_id"] == agreement_id]
    return AgreementView.model_validate(found[0])
