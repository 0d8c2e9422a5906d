"""The real broker: idempotent produce, consume, and a consumer group that resumes."""

import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from plimsoll_events.kafka import KafkaAccess


def _new_topic(kafka: KafkaAccess) -> str:
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**kafka.options())
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        admin.close()
    return name


def _consumer(kafka: KafkaAccess, topic: str, group: str, max_records: int) -> KafkaConsumer:
    return KafkaConsumer(
        topic,
        **kafka.options(),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=max_records,
    )


def _poll_values(consumer: KafkaConsumer, want: int) -> list[bytes]:
    values: list[bytes] = []
    for _ in range(60):
        for records in consumer.poll(timeout_ms=500, max_records=want - len(values)).values():
            values.extend(r.value for r in records)
        if len(values) >= want:
            break
    return values


def test_idempotent_producer_delivers_in_order(stack):
    topic = _new_topic(stack.kafka)
    producer = KafkaProducer(**stack.kafka.options(), enable_idempotence=True, acks="all")
    sent = [f"event-{i}".encode() for i in range(10)]
    metadata = [producer.send(topic, key=b"P-0001", value=v).get(timeout=30) for v in sent]
    producer.close()
    assert [m.offset for m in metadata] == list(range(10))

    consumer = _consumer(stack.kafka, topic, f"g-{uuid.uuid4().hex[:6]}", 10)
    try:
        assert _poll_values(consumer, 10) == sent
    finally:
        consumer.close()


def test_consumer_group_resumes_after_commit(stack):
    topic = _new_topic(stack.kafka)
    producer = KafkaProducer(**stack.kafka.options(), acks="all")
    for i in range(10):
        producer.send(topic, value=f"m{i}".encode())
    producer.close()
    group = f"g-{uuid.uuid4().hex[:6]}"

    first = _consumer(stack.kafka, topic, group, 4)
    try:
        assert _poll_values(first, 4) == [b"m0", b"m1", b"m2", b"m3"]
        first.commit()
    finally:
        first.close()

    second = _consumer(stack.kafka, topic, group, 10)
    try:
        assert _poll_values(second, 6) == [f"m{i}".encode() for i in range(4, 10)]
    finally:
        second.close()
