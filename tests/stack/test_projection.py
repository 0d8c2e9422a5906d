"""The projection runner applies each event once, sets poison aside, and rebuilds exactly."""

import json
import uuid

import pytest
from kafka import KafkaProducer
from plimsoll_events.catalogue import dead_letter_topic
from plimsoll_events.envelope import encode, to_cloudevent
from plimsoll_events.projection import ProjectionRunner
from plimsoll_events.relay import OutboxRelay
from prometheus_client import REGISTRY

from .eventing import MinutesByPractitioner, hours_logged, new_topic, read_topic


@pytest.fixture
def topic(stack):
    return new_topic(stack.kafka)


@pytest.fixture
def relay(stack, store, engine, topic):
    relay = OutboxRelay(store, engine, kafka=stack.kafka, topic=topic, source="/plimsoll/timesheet")
    relay.create_schema()
    yield relay
    relay.close()


@pytest.fixture
def producer(stack):
    producer = KafkaProducer(**stack.kafka.options(), acks="all")
    yield producer
    producer.close()


def _runner(stack, engine, projection) -> ProjectionRunner:
    runner = ProjectionRunner(engine, projection, kafka=stack.kafka)
    runner.create_schema()
    return runner


def _publish(relay: OutboxRelay) -> None:
    while relay.publish_pending():
        pass


def _log_hours(store, entries: list[tuple[str, int]]) -> None:
    for practitioner, minutes in entries:
        stream = f"timesheet-{practitioner}"
        version = len(store.read_stream(stream))
        store.append(stream, version, [hours_logged(practitioner, minutes)])


def test_events_are_applied_to_the_read_model(stack, store, engine, topic, relay):
    _log_hours(store, [("P-1", 30), ("P-2", 45), ("P-1", 60)])
    _publish(relay)
    projection = MinutesByPractitioner(topic)
    runner = _runner(stack, engine, projection)
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
    with engine.connect() as conn:
        rows = projection.rows(conn)
    assert [(r[0], r[1], r[2]) for r in rows] == [("P-1", 90, 2), ("P-2", 45, 1)]


def test_same_event_delivered_twice_changes_nothing(stack, store, engine, topic, relay, producer):
    _log_hours(store, [("P-1", 30), ("P-1", 15)])
    _publish(relay)
    # The relay resending after a crash: the same events at new offsets.
    for event in store.read_all(0):
        producer.send(topic, key=b"P-1", value=encode(to_cloudevent(event, "/plimsoll/timesheet")))
    producer.flush()
    projection = MinutesByPractitioner(topic)
    runner = _runner(stack, engine, projection)
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
    with engine.connect() as conn:
        assert [(r[0], r[1], r[2]) for r in projection.rows(conn)] == [("P-1", 45, 2)]


def test_restart_resumes_from_its_own_checkpoint(stack, store, engine, topic, relay):
    projection = MinutesByPractitioner(topic)
    _log_hours(store, [("P-1", 10), ("P-2", 20)])
    _publish(relay)
    first = _runner(stack, engine, projection)
    try:
        first.run_until_caught_up()
    finally:
        first.close()
    _log_hours(store, [("P-3", 30)])
    _publish(relay)
    # Kafka's committed offsets are thrown away: only the database checkpoint remains.
    second = _runner(stack, engine, projection)
    try:
        second.run_until_caught_up()
    finally:
        second.close()
    with engine.connect() as conn:
        assert [(r[0], r[1], r[2]) for r in projection.rows(conn)] == [
            ("P-1", 10, 1),
            ("P-2", 20, 1),
            ("P-3", 30, 1),
        ]


def test_poison_messages_go_to_the_dead_letter_topic_and_the_runner_carries_on(
    stack, store, engine, topic, relay, producer
):
    _log_hours(store, [("P-1", 30)])
    _publish(relay)
    envelope = json.loads(encode(to_cloudevent(store.read_all(0)[0], "/plimsoll/timesheet")))
    unknown_type = {
        **envelope,
        "id": str(uuid.uuid4()),
        "type": "org.example.plimsoll.unheard-of.v1",
    }
    invalid_data = {
        **envelope,
        "id": str(uuid.uuid4()),
        "data": {**envelope["data"], "minutes": 5000},
    }
    unreadable = [
        b"this is not json",
        json.dumps(unknown_type).encode(),
        json.dumps(invalid_data).encode(),
    ]
    for value in unreadable:
        producer.send(topic, key=b"P-1", value=value, headers=[("origin", b"test")])
    producer.flush()
    # A well-formed event this projection cannot apply, then one it can.
    _log_hours(store, [("P-POISON", 10), ("P-2", 20)])
    _publish(relay)

    projection = MinutesByPractitioner(topic)
    runner = _runner(stack, engine, projection)
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
    with engine.connect() as conn:
        assert [(r[0], r[1]) for r in projection.rows(conn)] == [("P-1", 30), ("P-2", 20)]

    dead = read_topic(stack.kafka, dead_letter_topic(topic), expect=4)
    assert len(dead) == 4
    reasons = {r.value: dict(r.headers)["dlq-reason"].decode() for r in dead}
    assert reasons[unreadable[0]].startswith("unreadable: MalformedEnvelope")
    assert "unheard-of" in reasons[unreadable[1]]
    assert "minutes" in reasons[unreadable[2]]
    (poison,) = [r for r in dead if r.value not in unreadable]
    assert json.loads(poison.value)["subject"] == "P-POISON"
    assert (
        reasons[poison.value] == "apply failed: ValueError: this practitioner cannot be projected"
    )
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq-topic"] == topic.encode()
        assert headers["dlq-projection"] == projection.name.encode()
        assert int(headers["dlq-offset"]) >= 0
    # The original headers travel with the dead letter.
    assert all(dict(r.headers)["origin"] == b"test" for r in dead if r.value in unreadable)
    assert dict(poison.headers)["content-type"] == b"application/cloudevents+json"


def test_rebuild_gives_the_same_read_model_as_live(stack, store, engine, topic, relay):
    projection = MinutesByPractitioner(topic)
    runner = _runner(stack, engine, projection)
    try:
        for round_ in range(3):
            _log_hours(store, [(f"P-{i % 7}", round_ * 10 + i) for i in range(40)])
            _publish(relay)
            runner.run_until_caught_up()
        with engine.connect() as conn:
            live = projection.rows(conn)
    finally:
        runner.close()
    assert len(live) == 7

    rebuilder = _runner(stack, engine, projection)
    try:
        rebuilder.rebuild()
        with engine.connect() as conn:
            assert projection.rows(conn) == []
        rebuilder.run_until_caught_up()
    finally:
        rebuilder.close()
    with engine.connect() as conn:
        assert projection.rows(conn) == live


def test_throughput_and_lag_are_exported_as_metrics(stack, store, engine, topic, relay):
    _log_hours(store, [("P-1", 10), ("P-2", 20), ("P-3", 30)])
    _publish(relay)
    assert REGISTRY.get_sample_value("plimsoll_relay_published_events_total", {"topic": topic}) == 3
    assert REGISTRY.get_sample_value("plimsoll_relay_backlog_events", {"topic": topic}) == 0
    projection = MinutesByPractitioner(topic)
    runner = _runner(stack, engine, projection)
    try:
        runner.run_until_caught_up()
        runner.poll_once(timeout_ms=100)  # exports the lag of the caught-up partitions
    finally:
        runner.close()
    applied = {"projection": projection.name, "outcome": "applied"}
    assert REGISTRY.get_sample_value("plimsoll_projection_events_total", applied) == 3
    lags = [
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "plimsoll_projection_lag_events"
        for sample in metric.samples
        if sample.labels["projection"] == projection.name
    ]
    assert lags
    assert all(lag == 0 for lag in lags)
