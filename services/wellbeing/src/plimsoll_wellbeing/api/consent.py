"""Union consent: which representatives may read a practitioner's declarations."""

from fastapi import APIRouter
from plimsoll_events.types.fields import ActorName, Identifier
from plimsoll_platform.api import IdempotencyKey, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel

from plimsoll_wellbeing.api.deps import HandlersDep, PlacementsDep, QueriesDep, Themself, place_of
from plimsoll_wellbeing.domain.consent import GiveConsent, WithdrawConsent

router = APIRouter(tags=["union consent"])

PATH = "/practitioners/{practitioner_id}/union-consent"
UNKNOWN = {404: "No such practitioner in placements yet (to admins and services)"}
NOT_FOUND = {404: "No such practitioner, or no consent to that representative to withdraw"}


class Consent(BaseModel):
    practitioner_id: str
    representatives: list[str]
    """Usernames of the union representatives who may read the declarations."""


def _consent(queries: QueriesDep, practitioner_id: str) -> Consent:
    return Consent(
        practitioner_id=practitioner_id, representatives=queries.representatives(practitioner_id)
    )


@router.get(PATH, responses=problem_responses(UNKNOWN), summary="Who may read my declarations")
def read_consent(
    practitioner_id: Identifier, caller: Themself, placements: PlacementsDep, queries: QueriesDep
) -> Consent:
    caller.check_practitioner(practitioner_id, place_of(placements.of(practitioner_id)))
    return _consent(queries, practitioner_id)


@router.put(
    PATH + "/{representative}",
    responses=problem_responses(UNKNOWN, command=True),
    summary="Let a named union representative read my declarations",
)
def give(
    practitioner_id: Identifier,
    representative: ActorName,
    caller: Themself,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> Consent:
    caller.check_practitioner(practitioner_id, place_of(placements.of(practitioner_id)))
    handlers.give_consent(GiveConsent(practitioner_id, representative), metadata, key)
    return _consent(queries, practitioner_id)


@router.delete(
    PATH + "/{representative}",
    responses=problem_responses(NOT_FOUND, command=True),
    summary="Withdraw a union representative's access to my declarations",
)
def withdraw(
    practitioner_id: Identifier,
    representative: ActorName,
    caller: Themself,
    placements: PlacementsDep,
    handlers: HandlersDep,
    queries: QueriesDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> Consent:
    caller.check_practitioner(practitioner_id, place_of(placements.of(practitioner_id)))
    handlers.withdraw_consent(WithdrawConsent(practitioner_id, representative), metadata, key)
    return _consent(queries, practitioner_id)
