"""Helpers for tests of the relay and the projection runner on the real servers."""

import uuid
from collections.abc import Sequence

from kafka import KafkaConsumer, TopicPartition
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.projection import Delivered
from plimsoll_events.records import Metadata, NewEvent
from plimsoll_events.topics import ensure_event_topic
from sqlalchemy import Connection, text

ACTOR = Metadata(actor="pat.practitioner", correlation_id=uuid.uuid4())


def hours_logged(practitioner: str, minutes: int, day: str = "2026-11-30") -> NewEvent:
    return NewEvent(
        type="hours-logged",
        version=2,
        data={
            "practitioner_id": practitioner,
            "day": day,
            "minutes": minutes,
            "category": "casework",
        },
        subject=practitioner,
        metadata=ACTOR,
    )


def new_topic(kafka: KafkaAccess, partitions: int = 3) -> str:
    topic = f"test.{uuid.uuid4().hex[:10]}"
    ensure_event_topic(kafka, topic, partitions=partitions)
    return topic


def read_topic(kafka: KafkaAccess, topic: str, expect: int, timeout_ms: int = 20_000) -> list:
    """Every message on ``topic`` (at least ``expect`` of them), partition by partition."""
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    records = []
    waited = 0
    while len(records) < expect and waited < timeout_ms:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
        waited += 500
    # Drain whatever else is there (duplicates, say).
    for batch in consumer.poll(timeout_ms=1000).values():
        records.extend(batch)
    consumer.close()
    return records


class MinutesByPractitioner:
    """A small read model: minutes logged per practitioner. Refuses practitioner P-POISON."""

    def __init__(self, topic: str) -> None:
        self.name = f"minutes-{uuid.uuid4().hex[:8]}"
        self.topics = [topic]
        self.table = self.name.replace("-", "_")

    def create(self, conn: Connection) -> None:
        conn.execute(
            text(
                f"create table if not exists {self.table} ("
                "practitioner_id text primary key, minutes integer not null, "
                "events integer not null, last_event uuid not null)"
            )
        )

    def drop(self, conn: Connection) -> None:
        conn.execute(text(f"drop table if exists {self.table}"))

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        for event in events:
            practitioner = event.data.practitioner_id  # type: ignore[attr-defined]
            if practitioner == "P-POISON":
                raise ValueError("this practitioner cannot be projected")
            conn.execute(
                text(
                    f"insert into {self.table} values (:p, :m, 1, :e) "
                    "on conflict (practitioner_id) do update set "
                    f"minutes = {self.table}.minutes + excluded.minutes, "
                    f"events = {self.table}.events + 1, last_event = excluded.last_event"
                ),
                {"p": practitioner, "m": event.data.minutes, "e": event.event_id},  # type: ignore[attr-defined]
            )

    def rows(self, conn: Connection) -> list[tuple]:
        return [
            tuple(r)
            for r in conn.execute(text(f"select * from {self.table} order by practitioner_id"))
        ]
