"""What people and partners set: webhook subscriptions, and a person's preferences.

Subscriptions (stream `webhook-subscription-<id>`): a partner subscribes once, with a URL
already checked acceptable and at least one event type the rules tell partners of; ending a
subscription twice, or one never made, is refused.

Preferences (stream `notification-preferences-<username>`): the latest set holds; setting the
same again records nothing; quiet hours are both given or neither, and not the same instant.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import time

from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.refusals import Conflict, InvalidValue, NotFound
from plimsoll_events.types.notifications import (
    NotificationPreferencesSet,
    WebhookSubscribed,
    WebhookUnsubscribed,
)


def subscription_stream(subscription_id: str) -> str:
    return f"webhook-subscription-{subscription_id}"


def preferences_stream(username: str) -> str:
    return f"notification-preferences-{username}"


@dataclass(frozen=True)
class Subscribe:
    subscription_id: str
    partner: str
    url: str
    event_types: tuple[str, ...]
    by: str
    told_to_partners: Collection[str]
    """Event types some rule tells partners of (the rules in force)."""


@dataclass(frozen=True)
class Unsubscribe:
    subscription_id: str
    by: str


@dataclass(frozen=True)
class SubscriptionState:
    subscribed: bool = False
    ended: bool = False


def decide_subscription(
    command: Subscribe | Unsubscribe, state: SubscriptionState
) -> list[EventData]:
    if isinstance(command, Subscribe):
        if state.subscribed:
            raise Conflict(
                f"subscription {command.subscription_id} exists", field="subscription_id"
            )
        unknown = sorted(set(command.event_types) - set(command.told_to_partners))
        if unknown:
            raise InvalidValue(
                f"partners are not told of {', '.join(unknown)} (the rules tell them of "
                f"{', '.join(sorted(command.told_to_partners))})",
                field="event_types",
            )
        return [
            WebhookSubscribed(
                subscription_id=command.subscription_id,
                partner=command.partner,
                url=command.url,
                event_types=list(dict.fromkeys(command.event_types)),
                subscribed_by=command.by,
            )
        ]
    if not state.subscribed:
        raise NotFound(f"no subscription {command.subscription_id}", field="subscription_id")
    if state.ended:
        raise Conflict(f"subscription {command.subscription_id} has ended", field="subscription_id")
    return [
        WebhookUnsubscribed(subscription_id=command.subscription_id, unsubscribed_by=command.by)
    ]


def evolve_subscription(state: SubscriptionState, event: EventData) -> SubscriptionState:
    if isinstance(event, WebhookSubscribed):
        return SubscriptionState(subscribed=True)
    if isinstance(event, WebhookUnsubscribed):
        return SubscriptionState(subscribed=True, ended=True)
    return state


SUBSCRIPTION: Decider[Subscribe | Unsubscribe, SubscriptionState] = Decider(
    SubscriptionState(), decide_subscription, evolve_subscription
)


@dataclass(frozen=True)
class SetPreferences:
    username: str
    email: bool
    quiet_hours_start: time | None
    quiet_hours_end: time | None


def decide_preferences(
    command: SetPreferences, state: NotificationPreferencesSet | None
) -> list[EventData]:
    if (command.quiet_hours_start is None) != (command.quiet_hours_end is None):
        raise InvalidValue("give both ends of the quiet hours, or neither", field="quiet_hours_end")
    if (
        command.quiet_hours_start is not None
        and command.quiet_hours_start == command.quiet_hours_end
    ):
        raise InvalidValue("quiet hours must not start and end together", field="quiet_hours_end")
    event = NotificationPreferencesSet(
        username=command.username,
        email=command.email,
        quiet_hours_start=command.quiet_hours_start,
        quiet_hours_end=command.quiet_hours_end,
    )
    return [] if event == state else [event]


def evolve_preferences(
    state: NotificationPreferencesSet | None, event: EventData
) -> NotificationPreferencesSet | None:
    return event if isinstance(event, NotificationPreferencesSet) else state


PREFERENCES: Decider[SetPreferences, NotificationPreferencesSet | None] = Decider(
    None, decide_preferences, evolve_preferences
)
