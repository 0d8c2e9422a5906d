"""Kafka topics, created explicitly with their settings (the broker auto-creates nothing)."""

import contextlib
import time

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from plimsoll_events.catalogue import dead_letter_topic
from plimsoll_events.kafka import KafkaAccess

# Events are the record of what happened: they are kept forever.
FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


def ensure_event_topic(
    kafka: KafkaAccess,
    topic: str,
    *,
    partitions: int = 6,
    replication_factor: int = 1,
    bootstrap_timeout_ms: int = 30000,
) -> None:
    """Create ``topic`` and its dead-letter topic if missing, both kept forever.

    ``bootstrap_timeout_ms`` bounds the wait for a first broker (a caller that
    retries in a loop wants to notice a stop request sooner than kafka-python's 30 s).
    """
    with kafka.admin(
        client_id="plimsoll-topics", bootstrap_timeout_ms=bootstrap_timeout_ms
    ) as admin:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(name, partitions, replication_factor, topic_configs=dict(FOREVER))
            for name in (topic, dead_letter_topic(topic))
            if name not in existing
        ]
        # Another process may create it between our look and our request.
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(wanted)
            _await_leaders(admin, [new.name for new in wanted])


def _await_leaders(admin: KafkaAdminClient, topics: list[str], timeout_s: float = 15) -> None:
    """Wait until every partition of a new topic has a leader: a consumer that subscribes
    before then is assigned nothing and waits for its next metadata refresh (minutes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        described = admin.describe_topics(topics)
        if len(described) == len(topics) and all(
            topic["error_code"] == 0
            and topic["partitions"]
            and all(partition["leader_id"] >= 0 for partition in topic["partitions"])
            for topic in described
        ):
            return
        time.sleep(0.1)
