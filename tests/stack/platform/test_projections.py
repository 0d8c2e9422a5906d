"""KafkaProjections: read models fed for the app's lifetime, whatever Kafka is doing."""

import time
import uuid
from collections.abc import Callable

import pytest
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.relay import OutboxRelay
from plimsoll_events.topics import ensure_event_topic
from plimsoll_platform.clock import SystemClock
from plimsoll_platform.placements import Placements, PlacementsProjection
from plimsoll_platform.projections import KafkaProjections

from ..eventing import new_topic
from .placing import SOURCE, publish, register

pytestmark = pytest.mark.stack

NOBODY_LISTENING = KafkaAccess("127.0.0.1:1")


def eventually(check: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the deadline"
        time.sleep(0.2)


def timed(action: Callable[[], None]) -> float:
    started = time.monotonic()
    action()
    return time.monotonic() - started


def test_a_started_projection_follows_the_topic_until_stopped(stack, store, engine):
    topic = new_topic(stack.kafka)
    relay = OutboxRelay(store, engine, kafka=stack.kafka, topic=topic, source=SOURCE)
    relay.create_schema()
    projection = PlacementsProjection(f"test-{uuid.uuid4().hex[:8]}", topic=topic)
    projections = KafkaProjections(engine, stack.kafka, [projection])
    placements = Placements(engine)
    today = SystemClock().today()
    try:
        projections.start()
        register(store, "P-PAT", team="T-NORTH-1", region="R-NORTH", manager="P-MO")
        publish(relay)
        eventually(lambda: placements.of("P-PAT") is not None)
        assert projections.running() == {projection.name: True}
        # Still following: a later event arrives too.
        register(store, "P-BO", team="T-NORTH-1", region="R-NORTH", manager="P-MO")
        publish(relay)
        eventually(lambda: len(placements.team_members("T-NORTH-1", today)) == 2)
    finally:
        relay.close()
        stopped_in = timed(projections.stop)
    assert stopped_in < 5
    assert projections.running() == {projection.name: False}


def test_kafka_down_blocks_neither_start_nor_stop_and_queries_answer(stack, engine):
    projection = PlacementsProjection(f"test-{uuid.uuid4().hex[:8]}")
    projections = KafkaProjections(engine, NOBODY_LISTENING, [projection], retry_seconds=0.2)
    assert timed(projections.start) < 2
    try:
        time.sleep(3)  # several failed attempts
        # The read model's tables exist from the start: queries answer, as for anyone unknown.
        assert Placements(engine).of("P-PAT") is None
        assert projections.running() == {projection.name: False}
    finally:
        stopped_in = timed(projections.stop)
    assert stopped_in < 5  # one probe's timeout at most


def test_a_topic_created_after_the_start_is_picked_up(stack, store, engine):
    topic = f"test.{uuid.uuid4().hex[:10]}"
    projection = PlacementsProjection(f"test-{uuid.uuid4().hex[:8]}", topic=topic)
    projections = KafkaProjections(engine, stack.kafka, [projection], retry_seconds=0.5)
    try:
        projections.start()
        time.sleep(1.5)
        assert projections.running() == {projection.name: False}  # waiting for its topic
        ensure_event_topic(stack.kafka, topic)
        relay = OutboxRelay(store, engine, kafka=stack.kafka, topic=topic, source=SOURCE)
        try:
            relay.create_schema()
            register(store, "P-PAT", team="T-NORTH-1", region="R-NORTH", manager="P-MO")
            publish(relay)
        finally:
            relay.close()
        eventually(lambda: Placements(engine).of("P-PAT") is not None)
    finally:
        projections.stop()


def test_projection_names_must_differ(engine):
    same = PlacementsProjection("timesheet")
    with pytest.raises(ValueError, match="unique"):
        KafkaProjections(engine, NOBODY_LISTENING, [same, PlacementsProjection("timesheet")])
