"""Events of the notifications service: who was told what, how and when, and what they did.

Streams: one per notification (`notification-<id>`), a notification being one recipient told
of one step of something (a breach opened, a declaration escalated), on one or more channels;
one per webhook subscription (`webhook-subscription-<id>`); one per person's preferences
(`notification-preferences-<username>`).

A notification's id is derived from the step and the recipient, so that one recipient is told
of one step once, however often the cause is delivered. Its events carry `practitioner_id`
(the practitioner the cause concerns: the Kafka key) when there is one. They name the cause by
its identifiers and a link into the application, never by its details: what reached a mailbox
or a partner is exactly what these events say reached it.
"""

from datetime import datetime, time
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.types.fields import ActorName, Identifier, Name, Text

Channel = Literal["email", "webhook", "inbox"]
"""How a recipient is told: an e-mail over SMTP, a signed webhook to a partner system, or an
item in their in-app inbox."""

Recipient = Annotated[str, StringConstraints(pattern=r"^[^\s\x00-\x1f\x7f-\x9f]{1,255}$")]
"""Who was told: a username of the realm, `webhook:<subscription id>` for a partner system,
or, when nobody could be found, the relationship that was looked for
(`line-manager-of:P-0001`)."""

Link = Annotated[str, StringConstraints(pattern=r"^https?://[^\s]{1,2000}$")]
"""A link into the application, where the recipient signed in sees the details."""

IdentifierValue = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Cause(_Data):
    """The event a notification tells of."""

    event_id: UUID = Field(description="The cause's event id (its CloudEvents id).")
    event_type: Identifier = Field(description="Its type, e.g. breach-opened.")
    source: Annotated[str, StringConstraints(max_length=200)] = Field(
        description="Its CloudEvents source, e.g. /plimsoll/wellbeing."
    )


_CAUSE: Final[dict[str, Any]] = {
    "event_id": "0195a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "event_type": "breach-opened",
    "source": "/plimsoll/wellbeing",
}
_NOTIFICATION: Final[dict[str, Any]] = {
    "notification_id": "N-3f0a9c1e5b7d4e2f8a6c0b1d",
    "practitioner_id": "P-0001",
    "recipient": "mo.manager",
}


class _Notification(EventData):
    notification_id: Identifier = Field(description="The notification.")
    practitioner_id: Identifier | None = Field(
        description="The practitioner the cause concerns (null for a team's)."
    )
    recipient: Recipient = Field(description="Who is told.")


@CATALOGUE.register
class NotificationSent(_Notification):
    """A notification was delivered on one channel: an SMTP server accepted the e-mail, the
    partner's endpoint answered 2xx to the signed webhook, or the item was put in the inbox.

    `round` 0 is the first telling; 1 and on are reminders, resent because nobody
    acknowledged by `acknowledge_by`. `attempt` counts the tries of this channel in this
    round. `message_id` is the e-mail's Message-ID or the webhook's `webhook-id` (the same on
    every retry, so a receiver drops duplicates by it). Delivery is at least once: a process
    stopped between a delivery and this event delivers again, with the same id.
    """

    type = "notification-sent"
    version = 1
    service = "notifications"
    examples = (
        {
            **_NOTIFICATION,
            "channel": "email",
            "address": "mo.manager@example.org",
            "title": "Breach opened: capacity-red for P-0001",
            "link": "https://plimsoll.example.org/inbox/N-3f0a9c1e5b7d4e2f8a6c0b1d",
            "identifiers": {"breach_id": "BR-5f1c0e2a9b3d-1", "rule": "capacity-red"},
            "causes": [_CAUSE],
            "rule": "breach-opened",
            "rules_version": 1,
            "step": "breach-opened:BR-5f1c0e2a9b3d-1",
            "round": 0,
            "attempt": 1,
            "urgent": True,
            "needs_acknowledgement": True,
            "acknowledge_by": "2025-03-05T10:12:01Z",
            "message_id": "<N-3f0a9c1e5b7d4e2f8a6c0b1d.0@plimsoll.local>",
            "sent_at": "2025-03-04T10:12:03Z",
        },
    )

    channel: Channel = Field(description="How they were told.")
    address: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        description="The e-mail address or webhook URL delivered to (null for the inbox)."
    )
    title: Name = Field(description="What they were told, in one line (identifiers only).")
    link: Link = Field(description="Where, signed in, they see the details.")
    identifiers: dict[Identifier, IdentifierValue] = Field(
        description="The cause's identifiers (breach, declaration, case, team...)."
    )
    causes: list[Cause] = Field(
        min_length=1, description="What it tells of: one event, or the events of a digest."
    )
    rule: Identifier = Field(description="The notification rule that chose this recipient.")
    rules_version: int = Field(ge=1, description="The version of the rules in force.")
    step: Annotated[str, StringConstraints(min_length=1, max_length=300)] = Field(
        description="The step told of (the dedupe key): one notification per recipient each."
    )
    round: int = Field(ge=0, description="0 first; 1 and on, reminders.")
    attempt: int = Field(ge=1, description="The try of this channel in this round.")
    urgent: bool = Field(description="Urgent: sent even in the recipient's quiet hours.")
    needs_acknowledgement: bool = Field(description="Whether the recipient must acknowledge it.")
    acknowledge_by: datetime | None = Field(
        description="When, unacknowledged, it is resent, and after that escalated."
    )
    message_id: Annotated[str, StringConstraints(max_length=300)] | None = Field(
        description="The e-mail's Message-ID or the webhook's webhook-id."
    )
    sent_at: datetime = Field(description="When it was delivered.")


@CATALOGUE.register
class NotificationFailed(_Notification):
    """A try to deliver a notification on one channel failed: the SMTP server or the partner's
    endpoint refused it or did not answer, the webhook URL now resolves to a private address,
    or nobody could be found to tell (`recipient` then names who was looked for).

    `final`: no more tries; the notification is dead-lettered on this channel with `reason`.
    Otherwise it is tried again at `next_attempt_at`.
    """

    type = "notification-failed"
    version = 1
    service = "notifications"
    examples = (
        {
            **_NOTIFICATION,
            "recipient": "webhook:WH-1c2d3e4f5a6b",
            "channel": "webhook",
            "address": "https://partner.example.org/plimsoll",
            "causes": [_CAUSE],
            "step": "breach-opened:BR-5f1c0e2a9b3d-1",
            "round": 0,
            "attempt": 3,
            "reason": "HTTP 503 from https://partner.example.org/plimsoll",
            "final": False,
            "next_attempt_at": "2025-03-04T10:14:31Z",
            "failed_at": "2025-03-04T10:12:31Z",
        },
    )

    channel: Channel = Field(description="The channel that failed.")
    address: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        description="The address tried, if one was known."
    )
    causes: list[Cause] = Field(min_length=1, description="What it tells of.")
    step: Annotated[str, StringConstraints(min_length=1, max_length=300)] = Field(
        description="The step told of."
    )
    round: int = Field(ge=0, description="0 first; 1 and on, reminders.")
    attempt: int = Field(ge=1, description="The try that failed.")
    reason: Text = Field(description="Why it failed.")
    final: bool = Field(description="No more tries: dead-lettered with the reason.")
    next_attempt_at: datetime | None = Field(description="When it is tried again (not final).")
    failed_at: datetime = Field(description="When the try failed.")


@CATALOGUE.register
class NotificationRead(_Notification):
    """The recipient opened the notification in their inbox (recorded the first time only)."""

    type = "notification-read"
    version = 1
    service = "notifications"
    examples = ({**_NOTIFICATION, "read_at": "2025-03-04T11:02:00Z"},)

    read_at: datetime = Field(description="When they opened it.")


@CATALOGUE.register
class NotificationAcknowledged(_Notification):
    """The recipient acknowledged the notification: no reminder or escalation follows."""

    type = "notification-acknowledged"
    version = 1
    service = "notifications"
    examples = (
        {
            **_NOTIFICATION,
            "note": "Looking at it with Pat today",
            "acknowledged_at": "2025-03-04T11:03:00Z",
        },
    )

    note: Text | None = Field(description="What they said, if anything.")
    acknowledged_at: datetime = Field(description="When they acknowledged it.")


@CATALOGUE.register
class NotificationEscalated(_Notification):
    """Nobody acknowledged the notification, even after `reminders` reminders: it went to the
    next level (`escalated_to`, e.g. the head of service of the practitioner's region), who
    is told in a notification of their own (actor `system:notification-reminders`)."""

    type = "notification-escalated"
    version = 1
    service = "notifications"
    examples = (
        {
            **_NOTIFICATION,
            "step": "breach-opened:BR-5f1c0e2a9b3d-1",
            "escalated_to": "head-of-service",
            "reminders": 1,
            "acknowledge_by": "2025-03-05T10:12:01Z",
            "escalated_at": "2025-03-05T10:13:00Z",
        },
    )

    step: Annotated[str, StringConstraints(min_length=1, max_length=300)] = Field(
        description="The step told of."
    )
    escalated_to: Identifier = Field(description="The relationship told next (rules' `who`).")
    reminders: int = Field(ge=0, description="Reminders sent before it went up.")
    acknowledge_by: datetime = Field(description="The deadline missed.")
    escalated_at: datetime = Field(description="When it went up.")


@CATALOGUE.register
class WebhookSubscribed(EventData):
    """A partner system subscribed to signed webhooks (Standard Webhooks) at `url` for these
    event types. Its signing secret is given once, to whoever subscribed it, and is not in
    this event."""

    type = "webhook-subscribed"
    version = 1
    service = "notifications"
    examples = (
        {
            "subscription_id": "WH-1c2d3e4f5a6b",
            "partner": "Northern Magistrates' Court listing",
            "url": "https://listing.example.org/hooks/plimsoll",
            "event_types": ["breach-opened", "team-full-declared", "team-full-lifted"],
            "subscribed_by": "ada.admin",
        },
    )

    subscription_id: Identifier = Field(description="The subscription.")
    partner: Name = Field(description="Who the partner is.")
    url: Annotated[str, StringConstraints(max_length=2000)] = Field(
        description="Where webhooks go (https; http to loopback in local mode only)."
    )
    event_types: list[Identifier] = Field(
        min_length=1, max_length=100, description="The cause types it is told of."
    )
    subscribed_by: ActorName = Field(description="Who subscribed it.")


@CATALOGUE.register
class WebhookUnsubscribed(EventData):
    """A partner's subscription ended: nothing more is sent to it."""

    type = "webhook-unsubscribed"
    version = 1
    service = "notifications"
    examples = ({"subscription_id": "WH-1c2d3e4f5a6b", "unsubscribed_by": "ada.admin"},)

    subscription_id: Identifier = Field(description="The subscription.")
    unsubscribed_by: ActorName = Field(description="Who ended it.")


@CATALOGUE.register
class NotificationPreferencesSet(EventData):
    """A person set how they want to be told of what is not urgent: by e-mail or in the inbox
    only, and quiet hours (UK time) in which nothing that is not urgent reaches them. Urgent
    notifications (breaches, escalations) always come, on every channel the rules give."""

    type = "notification-preferences-set"
    version = 1
    service = "notifications"
    examples = (
        {
            "username": "mo.manager",
            "email": True,
            "quiet_hours_start": "19:00:00",
            "quiet_hours_end": "07:30:00",
        },
    )

    username: ActorName = Field(description="Whose preferences.")
    email: bool = Field(description="Whether to be e-mailed what is not urgent.")
    quiet_hours_start: time | None = Field(description="Quiet from (UK wall clock).")
    quiet_hours_end: time | None = Field(description="Quiet until (UK wall clock).")
