"""Kafka takes SASL/SCRAM clients only, and each service's principal does only what
deploy/local/kafka-acls.toml allows: nobody can forge another service's events."""

import json
import socket
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaTimeoutError,
    TopicAuthorizationFailedError,
)
from plimsoll_events.catalogue import dead_letter_topic, topic_for
from plimsoll_events.envelope import TYPE_PREFIX
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.topics import ensure_event_topic

from .allocation.api import register_practitioner

pytestmark = pytest.mark.stack

SERVICES = ("allocation", "timesheet", "wellbeing", "notifications", "audit")
ALLOCATION = topic_for("allocation")
HMPPS = f"{ALLOCATION}.hmpps"
REFUSED_WITHIN_MS = 2000

# What the broker's authorizer answers for each principal and topic (Metadata's authorized
# operations); a topic not listed is one the principal may not even see.
OWN = {"WRITE", "CREATE", "DESCRIBE"}
READS = {"READ", "DESCRIBE"}
DEAD_LETTERS = {"WRITE", "DESCRIBE"}  # a consumer dead-letters into the producer's .dlq


def _own(service: str, *, reads_it: bool) -> dict[str, set[str]]:
    topic = topic_for(service)
    return {topic: OWN | READS if reads_it else OWN, dead_letter_topic(topic): OWN}


def _reads(*services: str) -> dict[str, set[str]]:
    return {
        name: rights
        for s in services
        for name, rights in ((topic_for(s), READS), (dead_letter_topic(topic_for(s)), DEAD_LETTERS))
    }


EXPECTED = {
    "allocation": {**_own("allocation", reads_it=True), HMPPS: OWN, **_reads("wellbeing")},
    "timesheet": {**_own("timesheet", reads_it=False), **_reads("allocation")},
    "wellbeing": {**_own("wellbeing", reads_it=True), **_reads("allocation", "timesheet")},
    "notifications": {
        **_own("notifications", reads_it=True),
        **_reads("allocation", "wellbeing"),
    },
    "audit": {**_own("audit", reads_it=True), **_reads(*(s for s in SERVICES if s != "audit"))},
}
EVERY_TOPIC = {name for rights in EXPECTED.values() for name in rights}


@pytest.fixture(scope="module")
def service_topics(stack):
    """Every service's topics, made by the admin where a service has not published yet
    (with the settings the service itself would use)."""
    for service in SERVICES:
        ensure_event_topic(stack.kafka, topic_for(service))
    ensure_event_topic(stack.kafka, HMPPS)
    return EVERY_TOPIC


@pytest.fixture(scope="module")
def published(stack, service_topics, api, tokens) -> str:
    """A practitioner registered through the allocation service, once their event is on its
    topic: something to read on any stack, written by the service as `allocation`."""
    before = _end_offsets(stack.kafka, ALLOCATION)
    practitioner = register_practitioner(api, tokens)
    for _ in range(40):
        if practitioner.encode() in _keys_since(stack.kafka, before):
            return practitioner
    pytest.fail(f"{practitioner}'s registration never reached {ALLOCATION}")


def _end_offsets(kafka: KafkaAccess, topic: str) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return dict(consumer.end_offsets(partitions))
    finally:
        consumer.close()


def _keys_since(kafka: KafkaAccess, offsets: dict[TopicPartition, int]) -> list[bytes]:
    """The keys of every message written after `offsets`, up to the end as it is now."""
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    try:
        consumer.assign(list(offsets))
        ends = consumer.end_offsets(list(offsets))
        for partition, offset in offsets.items():
            consumer.seek(partition, offset)
        keys: list[bytes] = []
        for _ in range(40):
            if all(consumer.position(p) >= ends[p] for p in offsets):
                break
            for records in consumer.poll(timeout_ms=250).values():
                keys.extend(r.key for r in records)
        return keys
    finally:
        consumer.close()


def _read(consumer: KafkaConsumer, partition: TopicPartition) -> None:
    """Find a position in `partition` and fetch from it (kafka-python's poll() only logs a
    refused offset lookup, so the position is asked for first)."""
    consumer.position(partition, timeout_ms=5000)
    for _ in range(20):
        consumer.poll(timeout_ms=250)


def _refused(stack, kafka: KafkaAccess) -> str:
    """Try to reach the broker as `kafka`, which must fail; what the broker logged meanwhile
    (kafka-python sometimes sees only the hang-up, the broker always says why)."""
    log = stack.module.LOGS / "kafka.log"
    start = log.stat().st_size
    with pytest.raises(KafkaTimeoutError):
        KafkaAdminClient(**kafka.options(), bootstrap_timeout_ms=REFUSED_WITHIN_MS)
    with log.open("rb") as file:
        file.seek(start)
        return file.read().decode(errors="replace")


def test_a_client_without_credentials_is_refused(stack, service_topics):
    host, port = stack.kafka_bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2):
        pass  # the broker listens: what follows is a refusal, not an absence
    logged = _refused(stack, KafkaAccess(stack.kafka_bootstrap))
    assert "Unexpected Kafka request of type METADATA during SASL handshake" in logged
    with pytest.raises(KafkaTimeoutError):
        KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, bootstrap_timeout_ms=1000)
    admin = KafkaAdminClient(**stack.kafka.options())  # the same broker, with credentials
    try:
        assert ALLOCATION in admin.list_topics()
    finally:
        admin.close()


def test_a_wrong_password_is_refused(stack):
    logged = _refused(stack, KafkaAccess(stack.kafka_bootstrap, "admin", "not-the-password"))
    assert "Failed authentication with /127.0.0.1" in logged
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in logged


def test_timesheet_cannot_forge_an_allocation_event(stack, service_topics):
    before = _end_offsets(stack.kafka, ALLOCATION)
    practitioner = f"P-FORGED-{uuid.uuid4().hex[:8]}"
    forged = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/plimsoll/allocation",
        "type": f"{TYPE_PREFIX}.case-allocated.v1",
        "subject": practitioner,
        "data": {"case_id": "X-FORGED", "practitioner_id": practitioner},
    }
    producer = KafkaProducer(**stack.kafka_as("timesheet").options(), acks="all")
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(
                ALLOCATION, key=practitioner.encode(), value=json.dumps(forged).encode()
            ).get(timeout=10)
    finally:
        producer.close(timeout=5)
    assert practitioner.encode() not in _keys_since(stack.kafka, before)


def test_allocation_publishes_its_own_topics(stack, published):
    # The allocation service's relay connects as `allocation`: only it and the admin may write
    # its topic, so its events arriving there (the `published` fixture) is that principal
    # writing. Under its own prefix it creates topics and writes with an idempotent producer
    # (Kafka 3+: WRITE on a topic is enough, no IDEMPOTENT_WRITE on the cluster).
    own = f"{ALLOCATION}.test-{uuid.uuid4().hex[:8]}"
    allocation = stack.kafka_as("allocation")
    ensure_event_topic(allocation, own, partitions=1)
    producer = KafkaProducer(**allocation.options(), enable_idempotence=True, acks="all")
    try:
        assert producer.send(own, b"ours").get(timeout=10).offset == 0
    finally:
        producer.close(timeout=5)
        admin = KafkaAdminClient(**stack.kafka.options())
        admin.delete_topics([own, dead_letter_topic(own)])
        admin.close()


def test_wellbeing_reads_allocation_in_a_group_but_cannot_write_it(stack, published):
    wellbeing = stack.kafka_as("wellbeing")
    group = f"projection-wellbeing-test-{uuid.uuid4().hex[:8]}"
    consumer = KafkaConsumer(
        ALLOCATION,
        **wellbeing.options(),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        records = []
        for _ in range(40):
            records += [r for batch in consumer.poll(timeout_ms=250).values() for r in batch]
            if records:
                break
        assert records, f"wellbeing read nothing from {ALLOCATION}"
        consumer.commit()  # offsets kept for its group
    finally:
        consumer.close()

    producer = KafkaProducer(**wellbeing.options(), acks="all")
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            producer.send(ALLOCATION, b"not wellbeing's to write").get(timeout=10)
    finally:
        producer.close(timeout=5)

    # Not another service's group: it could take that service's partitions or move its offsets.
    outsider = KafkaConsumer(
        ALLOCATION, **wellbeing.options(), group_id=f"projection-timesheet-{uuid.uuid4().hex[:8]}"
    )
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            outsider.poll(timeout_ms=5000)
    finally:
        outsider.close()


def test_audit_reads_every_service_topic(stack, service_topics, published):
    consumer = KafkaConsumer(**stack.kafka_as("audit").options(), enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic_for(s), p)
            for s in SERVICES
            for p in consumer.partitions_for_topic(topic_for(s)) or ()
        ]
        assert {p.topic for p in partitions} == {topic_for(s) for s in SERVICES}
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        read: set[str] = set()
        for _ in range(40):
            read |= {tp.topic for tp in consumer.poll(timeout_ms=250)}
            if ALLOCATION in read:
                break
        assert ALLOCATION in read  # and the broker grants READ on the others (below)
        # Not the HMPPS copies (it may not even see them: finding a position is refused), nor
        # the dead letters it may only write (the fetch is refused).
        for refused in (HMPPS, dead_letter_topic(ALLOCATION)):
            partition = TopicPartition(refused, 0)
            consumer.assign([partition])
            with pytest.raises(TopicAuthorizationFailedError):
                _read(consumer, partition)
    finally:
        consumer.close()


@pytest.mark.parametrize("principal", SERVICES)
def test_the_broker_grants_each_service_what_the_table_says(stack, service_topics, principal):
    admin = KafkaAdminClient(**stack.kafka_as(principal).options())
    try:
        visible = {
            t["name"]: set(t["authorized_operations"])
            for t in admin.describe_topics()
            if t["name"] in service_topics
        }
    finally:
        admin.close()
    assert visible == EXPECTED[principal]
