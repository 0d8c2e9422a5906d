"""The service's read model of its own events (store-fed: caught up before each read).

* `notification_inbox`: each notification delivered to an inbox, with its acknowledgement
  deadline, and when it was read, acknowledged or escalated;
* `notification_preferences`: each person's latest preferences;
* `webhook_subscriptions`: partners' subscriptions, active or ended.

A rebuild gives the same rows: every value comes from the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from plimsoll_events.readmodel import StoreEvent
from plimsoll_events.types.notifications import (
    NotificationAcknowledged,
    NotificationEscalated,
    NotificationPreferencesSet,
    NotificationRead,
    NotificationSent,
    WebhookSubscribed,
    WebhookUnsubscribed,
)
from sqlalchemy import Connection, text

SCHEMA: Final = """
create table if not exists notification_inbox (
    notification_id  text primary key,
    position         bigint not null,
    recipient        text not null,
    practitioner_id  text,
    title            text not null,
    link             text not null,
    identifiers      jsonb not null,
    step             text not null,
    rule             text not null,
    urgent           boolean not null,
    needs_acknowledgement boolean not null,
    acknowledge_by   timestamptz,
    round            integer not null,
    sent_at          timestamptz not null,
    read_at          timestamptz,
    acknowledged_at  timestamptz,
    escalated_at     timestamptz
);
create index if not exists notification_inbox_recipient
    on notification_inbox (recipient, position);
create index if not exists notification_inbox_overdue
    on notification_inbox (acknowledge_by)
    where needs_acknowledgement and acknowledged_at is null and escalated_at is null;
create table if not exists notification_preferences (
    username          text primary key,
    email             boolean not null,
    quiet_hours_start time,
    quiet_hours_end   time
);
create table if not exists webhook_subscriptions (
    subscription_id text primary key,
    partner         text not null,
    url             text not null,
    event_types     text[] not null,
    subscribed_by   text not null,
    active          boolean not null
);
"""
TYPES: Final = frozenset(
    model.type
    for model in (
        NotificationSent,
        NotificationRead,
        NotificationAcknowledged,
        NotificationEscalated,
        NotificationPreferencesSet,
        WebhookSubscribed,
        WebhookUnsubscribed,
    )
)

_SENT = """
insert into notification_inbox as i (notification_id, position, recipient, practitioner_id,
    title, link, identifiers, step, rule, urgent, needs_acknowledgement, acknowledge_by, round,
    sent_at)
values (:notification_id, :position, :recipient, :practitioner_id, :title, :link,
    cast(:identifiers as jsonb), :step, :rule, :urgent, :needs_acknowledgement, :acknowledge_by,
    :round, :sent_at)
on conflict (notification_id) do update set
    title = excluded.title, round = excluded.round, acknowledge_by = excluded.acknowledge_by,
    sent_at = excluded.sent_at, position = excluded.position
where i.round < excluded.round
"""


class NotificationRecords:
    """The rows of the read model (see the module); `apply` runs in the catch-up."""

    name = "notifications-records"

    def create(self, conn: Connection) -> None:
        conn.exec_driver_sql(SCHEMA)

    def drop(self, conn: Connection) -> None:
        conn.exec_driver_sql(
            "drop table if exists notification_inbox, notification_preferences, "
            "webhook_subscriptions"
        )

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None:
        sent: list[dict[str, object]] = []
        for event in events:
            data = event.data
            if isinstance(data, NotificationSent):
                if data.channel == "inbox":
                    sent.append(_sent_row(event.position, data))
                continue
            if sent:  # keep the batch's order: a read follows its sending
                conn.execute(text(_SENT), sent)
                sent = []
            self._apply_one(conn, data)
        if sent:
            conn.execute(text(_SENT), sent)

    @staticmethod
    def _apply_one(conn: Connection, data: object) -> None:
        if isinstance(data, NotificationRead):
            conn.execute(
                text(
                    "update notification_inbox set read_at = coalesce(read_at, :at) "
                    "where notification_id = :id"
                ),
                {"id": data.notification_id, "at": data.read_at},
            )
        elif isinstance(data, NotificationAcknowledged):
            conn.execute(
                text(
                    "update notification_inbox set acknowledged_at = :at, "
                    "read_at = coalesce(read_at, :at) where notification_id = :id"
                ),
                {"id": data.notification_id, "at": data.acknowledged_at},
            )
        elif isinstance(data, NotificationEscalated):
            conn.execute(
                text(
                    "update notification_inbox set escalated_at = :at where notification_id = :id"
                ),
                {"id": data.notification_id, "at": data.escalated_at},
            )
        elif isinstance(data, NotificationPreferencesSet):
            conn.execute(
                text(
                    "insert into notification_preferences values (:u, :e, :s, :q) "
                    "on conflict (username) do update set email = excluded.email, "
                    "quiet_hours_start = excluded.quiet_hours_start, "
                    "quiet_hours_end = excluded.quiet_hours_end"
                ),
                {
                    "u": data.username,
                    "e": data.email,
                    "s": data.quiet_hours_start,
                    "q": data.quiet_hours_end,
                },
            )
        elif isinstance(data, WebhookSubscribed):
            conn.execute(
                text(
                    "insert into webhook_subscriptions values (:id, :partner, :url, "
                    "cast(:types as text[]), :by, true) on conflict do nothing"
                ),
                {
                    "id": data.subscription_id,
                    "partner": data.partner,
                    "url": data.url,
                    "types": list(data.event_types),
                    "by": data.subscribed_by,
                },
            )
        elif isinstance(data, WebhookUnsubscribed):
            conn.execute(
                text("update webhook_subscriptions set active = false where subscription_id = :id"),
                {"id": data.subscription_id},
            )


def _sent_row(position: int, data: NotificationSent) -> dict[str, object]:
    import json

    return {
        "notification_id": data.notification_id,
        "position": position,
        "recipient": data.recipient,
        "practitioner_id": data.practitioner_id,
        "title": data.title,
        "link": data.link,
        "identifiers": json.dumps(data.identifiers),
        "step": data.step,
        "rule": data.rule,
        "urgent": data.urgent,
        "needs_acknowledgement": data.needs_acknowledgement,
        "acknowledge_by": data.acknowledge_by,
        "round": data.round,
        "sent_at": data.sent_at,
    }
