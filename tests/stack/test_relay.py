"""The outbox relay publishes every recorded event, in order, survives being killed, never
stops for good on a message Kafka refuses, and never records a position it no longer leads."""

import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections import defaultdict

import pytest
import sqlalchemy
from kafka.admin import KafkaAdminClient, NewTopic
from plimsoll_events.envelope import CONTENT_TYPE, decode, to_cloudevent
from plimsoll_events.records import Metadata, NewEvent
from plimsoll_events.relay import LeadershipLost, OutboxRelay
from plimsoll_events.store import EventStore
from plimsoll_platform import event_sourcing
from prometheus_client import REGISTRY

from .eventing import hours_logged, new_topic, read_topic

SOURCE = "/plimsoll/timesheet"


def _relay(store, engine, stack, topic, batch_size=2000) -> OutboxRelay:
    relay = OutboxRelay(
        store,
        engine,
        kafka=stack.kafka,
        topic=topic,
        source=SOURCE,
        batch_size=batch_size,
    )
    relay.create_schema()
    return relay


def _positions_by_key(records) -> dict[bytes, list[int]]:
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for record in records:
        by_key[record.key].append(decode(record.value).plimsollposition)
    return by_key


def test_relay_publishes_in_position_order_keyed_by_practitioner(stack, store, engine):
    topic = new_topic(stack.kafka)
    for i in range(30):
        practitioner = f"P-{i % 3}"
        store.append(f"timesheet-{practitioner}", i // 3, [hours_logged(practitioner, i + 1)])
    relay = _relay(store, engine, stack, topic, batch_size=7)
    try:
        while relay.publish_pending():
            pass
    finally:
        relay.close()
    assert relay.last_published() == 30

    records = read_topic(stack.kafka, topic, expect=30)
    assert len(records) == 30
    by_key = _positions_by_key(records)
    assert set(by_key) == {b"P-0", b"P-1", b"P-2"}
    for key, positions in by_key.items():
        assert positions == sorted(positions), key
        assert len(positions) == 10
    first = decode(records[0].value)
    assert first.source == SOURCE
    assert first.subject == records[0].key.decode()
    assert dict(records[0].headers)["content-type"] == CONTENT_TYPE.encode()


def test_published_envelope_is_exactly_the_recorded_event(stack, store, engine):
    topic = new_topic(stack.kafka, partitions=1)
    traced = Metadata(
        actor="mo.manager",
        correlation_id=uuid.uuid4(),
        causation_id=uuid.uuid4(),
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate="plimsoll=1",
    )
    odd = NewEvent(
        type="hours-logged",
        version=2,
        data={"practitioner_id": "P-1", "note": 'caf\u00e9 \\ "q"\n', "tier": None},
        subject=None,
        metadata=traced,
    )
    store.append("s", 0, [hours_logged("P-1", 5), odd])
    relay = _relay(store, engine, stack, topic)
    try:
        relay.publish_pending()
    finally:
        relay.close()
    records = read_topic(stack.kafka, topic, expect=2)
    recorded = store.read_all(0)
    assert [decode(r.value) for r in records] == [to_cloudevent(e, SOURCE) for e in recorded]
    assert [r.key for r in records] == [b"P-1", b"s"]
    # The header is the send's own span when a tracer records spans, in the recorded trace.
    header = dict(records[1].headers)["traceparent"].decode()
    assert header.split("-")[1] == traced.traceparent.split("-")[1]
    assert "traceparent" not in dict(records[0].headers)


def test_nothing_new_publishes_nothing(stack, store, engine):
    topic = new_topic(stack.kafka)
    relay = _relay(store, engine, stack, topic)
    try:
        assert relay.publish_pending() == 0
        store.append("s", 0, [hours_logged("P-1", 5)])
        assert relay.publish_pending() == 1
        assert relay.publish_pending() == 0
    finally:
        relay.close()


def test_failure_before_recording_position_resends_and_skips_nothing(stack, store, engine):
    topic = new_topic(stack.kafka, partitions=1)
    for i in range(10):
        store.append("s", i, [hours_logged("P-1", i + 1)])
    relay = _relay(store, engine, stack, topic, batch_size=4)
    original_begin = engine.begin
    calls = {"n": 0}

    def failing_begin():
        calls["n"] += 1
        if calls["n"] == 2:  # the second batch is sent, then the process "dies"
            raise ConnectionError("database went away")
        return original_begin()

    engine.begin = failing_begin
    try:
        relay.publish_pending()
        with pytest.raises(ConnectionError):
            relay.publish_pending()
        engine.begin = original_begin
        while relay.publish_pending():
            pass
    finally:
        engine.begin = original_begin
        relay.close()
    positions = [decode(r.value).plimsollposition for r in read_topic(stack.kafka, topic, 14)]
    # Batch 5..8 went out twice; nothing is missing and each run is in order.
    assert positions == [1, 2, 3, 4, 5, 6, 7, 8, 5, 6, 7, 8, 9, 10]


RELAY_PROCESS = textwrap.dedent(
    """
    import os, sys, threading
    import sqlalchemy
    from plimsoll_events.kafka import KafkaAccess
    from plimsoll_events.relay import OutboxRelay
    from plimsoll_events.store import EventStore
    url, bootstrap, topic = sys.argv[1:4]
    # Credentials come by environment (argv is visible to every local user); empty: no auth.
    kafka = KafkaAccess(bootstrap, os.environ.get("PLIMSOLL_KAFKA_USERNAME") or None,
                        os.environ.get("PLIMSOLL_KAFKA_PASSWORD") or None)
    engine = sqlalchemy.create_engine(url)
    store = EventStore(engine)
    relay = OutboxRelay(store, engine, kafka=kafka, topic=topic,
                        source="/plimsoll/timesheet", batch_size=200)
    relay.create_schema()
    relay.run(threading.Event())
    """
)


def test_relay_killed_mid_run_publishes_everything_in_order_after_restart(
    stack, store, engine, scratch_database
):
    topic = new_topic(stack.kafka)
    store.import_events(
        (f"timesheet-P-{p}", [hours_logged(f"P-{p}", m + 1) for m in range(100)]) for p in range(50)
    )
    total = store.head_position()
    _relay(store, engine, stack, topic).close()  # creates relay_positions
    command = [sys.executable, "-c", RELAY_PROCESS, scratch_database, stack.kafka_bootstrap, topic]
    env = os.environ | {
        "PLIMSOLL_KAFKA_USERNAME": stack.kafka.username or "",
        "PLIMSOLL_KAFKA_PASSWORD": stack.kafka.password or "",
    }

    def published() -> int:
        with engine.connect() as conn:
            row = conn.exec_driver_sql("select position from relay_positions").first()
        return int(row[0]) if row else 0

    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while published() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = published()
    assert 0 < killed_at < total, "the relay should have been killed part-way"

    process = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 120
        while published() < total and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert published() == total

    records = read_topic(stack.kafka, topic, expect=total)
    by_key = _positions_by_key(records)
    assert len(by_key) == 50
    for positions in by_key.values():
        distinct = sorted(set(positions))
        assert len(distinct) == 100
        # In order, except that a resent tail starts again from an earlier position.
        restarts = sum(1 for a, b in itertools.pairwise(positions) if b <= a)
        assert restarts <= 1


def test_second_relay_waits_while_the_first_leads(stack, store, engine):
    topic = new_topic(stack.kafka)
    first = _relay(store, engine, stack, topic)
    second = _relay(store, engine, stack, topic)
    stop = threading.Event()
    try:
        assert first.acquire_leadership(stop)
        waiting = threading.Thread(target=second.acquire_leadership, args=(stop,))
        waiting.start()
        waiting.join(timeout=1.5)
        assert waiting.is_alive(), "the second relay must not lead while the first does"
        first.close()
        waiting.join(timeout=5)
        assert not waiting.is_alive()
    finally:
        stop.set()
        second.close()


def test_an_encoder_decides_each_events_messages_on_its_own_topic(stack, store, engine):
    topic = new_topic(stack.kafka, partitions=1)
    for i in range(10):
        store.append("s", i, [hours_logged(f"P-{i % 2}", i + 1)])

    def encode(event):
        # Odd minutes publish nothing; even ones a plain JSON message keyed by practitioner.
        minutes = event.data["minutes"]
        if minutes % 2:
            return []
        body = f'{{"minutes":{minutes},"position":{event.position}}}'
        return [(event.data["practitioner_id"].encode(), body.encode())]

    relay = OutboxRelay(
        store,
        engine,
        kafka=stack.kafka,
        topic=topic,
        source=SOURCE,
        batch_size=3,
        encode=encode,
        content_type="application/json",
    )
    relay.create_schema()
    try:
        while relay.publish_pending():
            pass
        assert relay.publish_pending() == 0
    finally:
        relay.close()
    # The position covers every event, including those that published nothing.
    assert relay.last_published() == 10
    records = read_topic(stack.kafka, topic, expect=5)
    assert [(r.key, json.loads(r.value)) for r in records] == [
        (b"P-1", {"minutes": m, "position": m}) for m in (2, 4, 6, 8, 10)
    ]
    assert dict(records[0].headers)["content-type"] == b"application/json"


def _big(practitioner: str, size: int) -> NewEvent:
    event = hours_logged(practitioner, 5)
    return NewEvent(event.type, event.version, {**event.data, "note": "x" * size}, practitioner,
                    event.metadata)  # fmt: skip


def _parked_count(topic: str) -> float:
    return REGISTRY.get_sample_value("plimsoll_relay_parked_events_total", {"topic": topic}) or 0


def test_an_event_too_large_for_kafka_is_parked_and_the_relay_carries_on(stack, engine):
    """An event stored before the store had its size limit (here: a store without one)."""
    topic = new_topic(stack.kafka, partitions=1)
    unlimited = EventStore(engine, max_event_bytes=4 * 1024 * 1024)
    unlimited.create_schema()
    try:
        unlimited.append("s", 0, [hours_logged("P-1", 1)])
        unlimited.append("s", 1, [_big("P-1", 1_500_000)])  # above the producer's 1 MiB
        unlimited.append("s", 2, [hours_logged("P-1", 3)])
        relay = _relay(unlimited, engine, stack, topic)
        try:
            while relay.publish_pending():
                pass
            assert relay.last_published() == 3
            ((position, reason),) = relay.parked()
        finally:
            relay.close()
    finally:
        unlimited.close()
    assert position == 2
    assert "too large" in reason
    assert _parked_count(topic) == 1
    records = read_topic(stack.kafka, topic, expect=2)
    assert [decode(r.value).plimsollposition for r in records] == [1, 3]


def test_an_event_the_broker_refuses_as_too_large_is_parked(stack, store, engine):
    """The topic's own limit is lower than the producer's: the broker refuses the message."""
    topic = f"test.small.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**stack.kafka.options())
    try:
        admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "65536"})])
    finally:
        admin.close()
    store.append("s", 0, [hours_logged("P-1", 1), _big("P-1", 100_000), hours_logged("P-1", 3)])
    store.append("s", 3, [hours_logged("P-1", 4)])
    relay = _relay(store, engine, stack, topic)
    try:
        assert relay.publish_pending() == 4
        assert [p for p, _ in relay.parked()] == [2]
        assert relay.last_published() == 4
    finally:
        relay.close()
    assert _parked_count(topic) == 1
    positions = [decode(r.value).plimsollposition for r in read_topic(stack.kafka, topic, 3)]
    # Those not acknowledged when the broker refused the big one go again: at least once.
    assert sorted(set(positions)) == [1, 3, 4]
    assert positions == sorted(positions)


def _terminate_lock_session(engine, relay: OutboxRelay) -> None:
    """End the relay's lock session from outside, as a restart or an admin would."""
    pid = relay._lock_connection.info.backend_pid
    with engine.begin() as conn:
        # Waits (up to 10 s) until the session is gone, and its lock with it.
        conn.execute(sqlalchemy.text("select pg_terminate_backend(:pid, 10000)"), {"pid": pid})


def test_a_relay_whose_lock_session_died_neither_publishes_nor_records(stack, store, engine):
    topic = new_topic(stack.kafka, partitions=1)
    first = _relay(store, engine, stack, topic)
    second = _relay(store, engine, stack, topic)
    stop = threading.Event()
    try:
        assert first.acquire_leadership(stop)
        _terminate_lock_session(engine, first)
        assert second.acquire_leadership(stop)  # the lock was released with the session
        store.append("s", 0, [hours_logged("P-1", 1), hours_logged("P-1", 2)])

        assert first.publish_pending() == 0  # it checks, finds it does not lead, sends nothing
        assert not first.leading
        assert first.last_published() == 0
        assert second.publish_pending() == 2
    finally:
        stop.set()
        first.close()
        second.close()
    records = read_topic(stack.kafka, topic, expect=2)
    assert [decode(r.value).plimsollposition for r in records] == [1, 2]


def test_a_relay_that_loses_its_lock_while_sending_does_not_record_its_position(
    stack, store, engine
):
    topic = new_topic(stack.kafka, partitions=1)
    relay = _relay(store, engine, stack, topic)
    store.append("s", 0, [hours_logged("P-1", 1), hours_logged("P-1", 2)])
    flush = relay.producer.flush

    def flush_then_lose_the_lock(*args, **kwargs):
        flush(*args, **kwargs)
        _terminate_lock_session(engine, relay)

    try:
        assert relay.acquire_leadership(threading.Event())
        relay.producer.flush = flush_then_lose_the_lock
        with pytest.raises(LeadershipLost):
            relay.publish_pending()
        assert relay.last_published() == 0
        assert not relay.leading
        relay.producer.flush = flush
        # Once it leads again (the lock is free), the batch goes out again: at least once.
        assert relay.publish_pending() == 2
        assert relay.last_published() == 2
    finally:
        relay.producer.flush = flush
        relay.close()
    records = read_topic(stack.kafka, topic, expect=4)
    assert [decode(r.value).plimsollposition for r in records] == [1, 2, 1, 2]


def test_a_service_relay_is_woken_by_another_process_append(
    stack, engine, scratch_database, monkeypatch
):
    """A service's relay publishes its own appends at once, and another process's (a second
    replica's, say) too: the store NOTIFYs every transaction that records events, and the
    service listens. Its own look for new events comes only once a minute here."""
    topic = new_topic(stack.kafka)
    monkeypatch.setattr(event_sourcing, "topic_for", lambda _service: topic)
    monkeypatch.setattr(event_sourcing, "RELAY_IDLE_SECONDS", 60.0)
    sourcing = event_sourcing.EventSourcing(engine, service="timesheet", kafka=stack.kafka)
    other_engine = sqlalchemy.create_engine(scratch_database)  # another pool: another process
    other = EventStore(other_engine)
    asyncio.run(sourcing.start())
    try:
        deadline = time.monotonic() + 30
        # Its first look has been (it found nothing): what follows can come only by a wake.
        while REGISTRY.get_sample_value("plimsoll_relay_backlog_events", {"topic": topic}) is None:
            assert time.monotonic() < deadline, "the relay never looked"
            time.sleep(0.1)
        time.sleep(1.0)
        other.append("timesheet-P-1", 0, [hours_logged("P-1", 30)])
        began = time.monotonic()
        [record] = read_topic(stack.kafka, topic, expect=1, timeout_ms=15_000)
        waited = time.monotonic() - began
    finally:
        asyncio.run(sourcing.stop())
        other.close()
        other_engine.dispose()
    assert decode(record.value).subject == "P-1"
    assert waited < 15, "published on the notification, not the minute's look"
