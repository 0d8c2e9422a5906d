"""The decisions: a Kafka-fed projection of wellbeing's and allocation's topics that records,
for each event, who is to be told (`notification_intents`), in the runner's transaction.

This is the process manager's first half. The runner writes a batch's intents and its
checkpoint in one transaction, so an event's decision is recorded exactly when the event is
checkpointed: redelivery after a crash finds it checkpointed, or finds nothing recorded. The
second half (`dispatcher`) appends events only for intents committed here, under idempotency
keys derived from the step and the recipient; the two can never disagree.

Also here, because they must be read in the same order as the events they qualify: the union
representatives each practitioner has consented to (`union-consent-given`/`-withdrawn` on the
same topic and key as the breaches and declarations).

An event whose type the rules do not know, or whose title does not render, raises: the runner
sets it aside in `<topic>.dlq` with the reason and carries on. A rebuild replays the events but
never repeats a notification: the intents (keyed by step and addressee) are not dropped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

from plimsoll_events.catalogue import topic_for
from plimsoll_events.projection import SCHEMA as RUNNER_SCHEMA
from plimsoll_events.projection import Delivered
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.types.wellbeing import UnionConsentGiven, UnionConsentWithdrawn
from sqlalchemy import Connection, text

from plimsoll_notifications.domain.decisions import Cause, Facts, Intent, Subscription, decide
from plimsoll_notifications.domain.rules import Rules
from plimsoll_notifications.records import SCHEMA as RECORDS_SCHEMA
from plimsoll_notifications.tables import CONSENTS, DDL_LOCK, SCHEMA, as_columns
from plimsoll_notifications.templates import render_title

INSERT_INTENT: Final = """
insert into notification_intents (dedupe_key, rule, rules_version, step, who, addressee,
    channels, urgent, acknowledge_within_hours, escalate_to, identifiers, title,
    practitioner_id, causes)
select dedupe_key, rule, rules_version, step, who, addressee, string_to_array(channels, ','),
    urgent, acknowledge_within_hours, escalate_to, cast(identifiers as jsonb), title,
    practitioner_id, cast(causes as jsonb)
from unnest(cast(:dedupe_key as text[]), cast(:rule as text[]), cast(:rules_version as int[]),
            cast(:step as text[]), cast(:who as text[]), cast(:addressee as text[]),
            cast(:channels as text[]), cast(:urgent as boolean[]),
            cast(:acknowledge_within_hours as int[]), cast(:escalate_to as text[]),
            cast(:identifiers as text[]), cast(:title as text[]), cast(:practitioner_id as text[]),
            cast(:causes as text[]))
    with ordinality as i(dedupe_key, rule, rules_version, step, who, addressee, channels, urgent,
                         acknowledge_within_hours, escalate_to, identifiers, title,
                         practitioner_id, causes, n)
order by n
on conflict (dedupe_key) do nothing
"""
INSERT_DIGEST_ITEM: Final = """
insert into notification_digest_items (dedupe_key, title, identifiers, causes)
values (:dedupe_key, :title, cast(:identifiers as jsonb), cast(:causes as jsonb))
on conflict (dedupe_key) do nothing
"""


def create_tables(conn: Connection) -> None:
    conn.execute(text(DDL_LOCK))
    # The runners' own tables too: two runners starting together race to create them.
    conn.exec_driver_sql(RUNNER_SCHEMA)
    conn.exec_driver_sql(SCHEMA)
    conn.exec_driver_sql(CONSENTS)
    conn.exec_driver_sql(RECORDS_SCHEMA)  # subscriptions, read here too


class DecisionsProjection:
    """Intents from events, by the rules (see the module)."""

    def __init__(
        self,
        rules: Rules,
        records: StoreFedReadModel,
        *,
        topics: Sequence[str] | None = None,
        name: str = "notifications-decisions",
    ) -> None:
        self.rules = rules
        self.records = records
        self.name = name
        self.topics: Sequence[str] = list(
            topics or (topic_for("wellbeing"), topic_for("allocation"))
        )

    def create(self, conn: Connection) -> None:
        create_tables(conn)

    def drop(self, conn: Connection) -> None:
        # Only what replays rebuild: decisions already taken stay, so nobody is told twice.
        conn.execute(text(DDL_LOCK))
        conn.exec_driver_sql("delete from notification_consents")

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        practitioners = sorted({e.data.subject for e in events if e.data.subject is not None})
        consents = _consents(conn, practitioners)
        # The partners' subscriptions as recorded: the service's own read model, caught up
        # first (a partner who subscribed a moment ago is told of what happens next).
        with self.records.reading() as recorded:
            subscriptions = _subscriptions(recorded)
        intents: list[dict[str, Any]] = []
        digest: list[dict[str, Any]] = []
        for event in events:
            data = event.data
            practitioner = data.subject
            if isinstance(data, UnionConsentGiven | UnionConsentWithdrawn):
                _consent(conn, data, consents)
            representatives = consents.get(practitioner, set()) if practitioner else set()
            facts = Facts(representatives=sorted(representatives), subscriptions=subscriptions)
            cause = Cause(
                event_id=str(event.event_id),
                event_type=event.type,
                source=event.source,
                practitioner_id=practitioner,
                data=dict(data),
            )
            titles: dict[Any, str] = {}  # rendered once for all the event's audience
            for intent in decide(self.rules, cause, facts):
                row = _row(intent, cause, titles)
                (digest if intent.addressee.who == "ops" else intents).append(row)
        if intents:
            conn.execute(text(INSERT_INTENT), as_columns(intents))
        if digest:
            conn.execute(
                text(INSERT_DIGEST_ITEM),
                [
                    {k: row[k] for k in ("dedupe_key", "title", "identifiers", "causes")}
                    for row in digest
                ],
            )


def _row(intent: Intent, cause: Cause, titles: dict[Any, str]) -> dict[str, Any]:
    title = (intent.title_template, *intent.identifiers.items())
    if title not in titles:
        titles[title] = render_title(intent.title_template, intent.identifiers)
    return {
        "dedupe_key": intent.dedupe_key,
        "rule": intent.rule,
        "rules_version": intent.rules_version,
        "step": intent.step,
        "who": intent.addressee.who,
        "addressee": intent.addressee.key,
        "channels": list(intent.channels),
        "urgent": intent.urgent,
        "acknowledge_within_hours": intent.acknowledge_within_hours,
        "escalate_to": intent.escalate_to,
        "identifiers": json.dumps(dict(intent.identifiers)),
        "title": titles[title],
        "practitioner_id": cause.practitioner_id,
        "causes": json.dumps(
            [{"event_id": cause.event_id, "event_type": cause.event_type, "source": cause.source}]
        ),
    }


def _consents(conn: Connection, practitioners: Sequence[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {p: set() for p in practitioners}
    if practitioners:
        rows = conn.execute(
            text(
                "select practitioner_id, representative from notification_consents "
                "where practitioner_id = any(:ids)"
            ),
            {"ids": list(practitioners)},
        )
        for practitioner, representative in rows:
            found[practitioner].add(representative)
    return found


def _consent(
    conn: Connection,
    data: UnionConsentGiven | UnionConsentWithdrawn,
    consents: dict[str, set[str]],
) -> None:
    values = {"p": data.practitioner_id, "r": data.representative}
    if isinstance(data, UnionConsentGiven):
        conn.execute(
            text("insert into notification_consents values (:p, :r) on conflict do nothing"),
            values,
        )
        consents.setdefault(data.practitioner_id, set()).add(data.representative)
    else:
        conn.execute(
            text(
                "delete from notification_consents where practitioner_id = :p "
                "and representative = :r"
            ),
            values,
        )
        consents.setdefault(data.practitioner_id, set()).discard(data.representative)


def _subscriptions(conn: Connection) -> list[Subscription]:
    rows = conn.execute(
        text("select subscription_id, event_types from webhook_subscriptions where active")
    )
    return [Subscription(sid, frozenset(types)) for sid, types in rows]
