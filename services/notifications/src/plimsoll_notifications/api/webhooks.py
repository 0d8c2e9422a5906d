"""Partners' webhook subscriptions: subscribe (the secret is given once), list, end."""

from datetime import datetime
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter
from plimsoll_events.types.fields import Identifier, Name
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, Field, StringConstraints

from plimsoll_notifications.api.deps import HandlersDep, Partners, QueriesDep, RulesDep
from plimsoll_notifications.domain.settings import Subscribe, Unsubscribe

router = APIRouter(tags=["webhooks"])


class Subscription(StrictBody):
    partner: Name
    url: Annotated[str, StringConstraints(min_length=8, max_length=2000)] = Field(
        description="https, to a host resolving to public addresses only (http to loopback "
        "in local mode only)"
    )
    event_types: list[Identifier] = Field(min_length=1, max_length=100)


class Subscribed(BaseModel):
    subscription_id: str
    partner: str
    url: str
    event_types: list[str]
    secret: str = Field(
        description="The signing secret (`whsec_...`), given only now: verify every webhook "
        "with it (Standard Webhooks)"
    )


class SubscriptionView(BaseModel):
    subscription_id: str
    partner: str
    url: str
    event_types: list[str]
    subscribed_by: str
    active: bool


class Ended(BaseModel):
    subscription_id: str
    ended_at: datetime | None = None


def told_to_partners(rules: RulesDep) -> set[str]:
    return {rule.on for rule in rules.rules.rules for a in rule.audiences if a.who == "partners"}


@router.post(
    "/webhooks",
    status_code=201,
    responses=problem_responses(
        {422: "A value is not valid, or the URL is not acceptable (unsafe-webhook-url)"},
        command=True,
    ),
    summary="Subscribe a partner system to signed webhooks",
)
def subscribe(
    body: Subscription,
    caller: Partners,
    handlers: HandlersDep,
    rules: RulesDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> Subscribed:
    command = Subscribe(
        subscription_id=f"WH-{uuid4().hex[:16]}",
        partner=body.partner,
        url=body.url,
        event_types=tuple(body.event_types),
        by=caller.actor_id,
        told_to_partners=told_to_partners(rules),
    )
    subscription_id, secret = handlers.subscribe(command, metadata, key)
    return Subscribed(
        subscription_id=subscription_id,
        partner=body.partner,
        url=body.url,
        event_types=list(dict.fromkeys(body.event_types)),
        secret=secret,
    )


@router.get("/webhooks", responses=problem_responses(), summary="Partners' subscriptions")
def subscriptions(caller: Partners, queries: QueriesDep) -> list[SubscriptionView]:
    return [SubscriptionView.model_validate(row) for row in queries.subscriptions()]


@router.delete(
    "/webhooks/{subscription_id}",
    responses=problem_responses({404: "No such subscription"}, command=True),
    summary="End a subscription: nothing more is sent to it",
)
def unsubscribe(
    subscription_id: Identifier,
    caller: Partners,
    handlers: HandlersDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> Ended:
    recorded = handlers.unsubscribe(Unsubscribe(subscription_id, caller.actor_id), metadata, key)
    return Ended(subscription_id=subscription_id, ended_at=recorded[0].recorded_at)
