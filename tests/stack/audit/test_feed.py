"""The log's feed from Kafka: the kit's runner with raw leaves, every event once however
Kafka redelivers, in one transaction with the consumer's checkpoint; unloggable messages to
the dead-letter topic, with the reason."""

from __future__ import annotations

import json
import uuid

from kafka import KafkaConsumer, KafkaProducer
from plimsoll_audit.feed import AuditLogProjection, RawEventRunner
from plimsoll_audit.log.leaves import canonical
from plimsoll_events.topics import ensure_event_topic
from sqlalchemy import text

from .conftest import cloudevent


def test_every_event_enters_once_as_received_and_the_unloggable_are_dead_lettered(
    stack, app_engine
):
    topic = f"plimsoll.audittest{uuid.uuid4().hex[:8]}"
    ensure_event_topic(stack.kafka, topic, partitions=3)
    producer = KafkaProducer(**stack.kafka.options(), acks="all")
    events = [cloudevent(i, subject=f"P-{i % 3:04d}") for i in range(50)]
    unknown = cloudevent(50, kind="declaration-made-up")  # a type this catalogue lacks
    for raw in [*events, *events[:10], unknown, b"not json", b'{"specversion":"1.0"}']:
        key = (
            json.loads(raw)["subject"].encode()
            if raw.startswith(b'{"spec') and b"subject" in raw
            else b"k"
        )
        producer.send(topic, key=key, value=raw)
    producer.flush()
    producer.close()

    projection = AuditLogProjection(name=f"audit-test-{uuid.uuid4().hex[:6]}")
    projection.topics = [topic]
    runner = RawEventRunner(app_engine, projection, kafka=stack.kafka)
    runner.create_schema()
    try:
        runner.run_until_caught_up(timeout_seconds=60)
    finally:
        runner.close()

    with app_engine.connect() as conn:
        rows = conn.execute(
            text("select idx, event_id, type, leaf from log_entries order by idx")
        ).all()
        progress = conn.execute(
            text("select sum(next_offset) from projection_checkpoints where projection = :p"),
            {"p": projection.name},
        ).scalar()
    assert [r[0] for r in rows] == list(range(51))
    assert len({r[1] for r in rows}) == 51
    assert "declaration-made-up" in {r[2] for r in rows}
    by_id = {r[1]: bytes(r[3]) for r in rows}
    for raw in events:
        parsed = json.loads(raw)
        assert by_id[parsed["id"]] == canonical(parsed)  # the event as sent, attributes and data
    assert progress == 63  # every message, logged or dead-lettered, checkpointed with the log

    dead = KafkaConsumer(
        f"{topic}.dlq",
        **stack.kafka.options(),
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=5000,
    )
    reasons = [dict(m.headers)["dlq-reason"].decode() for m in dead]
    dead.close()
    assert len(reasons) == 2
    assert any("not UTF-8 JSON" in r for r in reasons)
    assert any("'id' is missing" in r for r in reasons)
