"""The projection runner applies each event once, sets poison aside (and only poison),
retries what is transient, and rebuilds exactly, dead letters included."""

import json
import threading
import time
import uuid
from collections.abc import Sequence

import psycopg
import pytest
import sqlalchemy
from kafka import KafkaProducer
from plimsoll_events import projection as projection_module
from plimsoll_events.catalogue import dead_letter_topic
from plimsoll_events.envelope import encode, to_cloudevent
from plimsoll_events.projection import Delivered, ProjectionRunner
from plimsoll_events.relay import OutboxRelay
from prometheus_client import REGISTRY
from sqlalchemy import Connection, text

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


def test_a_partition_stuck_in_the_client_is_freed_by_joining_the_group_again(
    stack, store, engine, topic, relay, monkeypatch
):
    """kafka-python 3.x has left assigned partitions unfetchable after a rebalance: the runner
    sees them behind their end and not moving, and leaves and rejoins its group."""
    monkeypatch.setattr(projection_module, "STUCK_SECONDS", 2.0)
    _log_hours(store, [("P-1", 30), ("P-2", 45)])
    _publish(relay)
    projection = MinutesByPractitioner(topic)
    runner = _runner(stack, engine, projection)
    seek = runner._seek_to_checkpoints
    stuck: list = []

    def seek_and_stick(assigned):  # the first assignment only, as the client's fault did
        seek(assigned)
        if not stuck:
            runner.consumer.pause(*assigned)
            stuck.extend(assigned)

    monkeypatch.setattr(runner, "_seek_to_checkpoints", seek_and_stick)
    rejoins = {"projection": projection.name}
    try:
        runner.run_until_caught_up(timeout_seconds=60)
    finally:
        runner.close()
    assert stuck, "the first assignment was stuck"
    assert REGISTRY.get_sample_value("plimsoll_projection_rejoins_total", rejoins) == 1
    with engine.connect() as conn:
        assert [(r[0], r[1]) for r in projection.rows(conn)] == [("P-1", 30), ("P-2", 45)]


class FailingOnce(MinutesByPractitioner):
    """Minutes by practitioner; the first time it meets P-CRASH its database session is
    terminated under it (a real lost connection); P-POISON is refused every time."""

    def __init__(self, topic: str, how: str = "terminate") -> None:
        super().__init__(topic)
        self.how = how
        self.failures = 0

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        for event in events:
            if event.data.practitioner_id == "P-CRASH" and not self.failures:  # type: ignore[attr-defined]
                self.failures += 1
                if self.how == "terminate":
                    conn.execute(text("select pg_terminate_backend(pg_backend_pid())"))
                raise sqlalchemy.exc.OperationalError(
                    "select 1", {}, psycopg.errors.DeadlockDetected("deadlock detected")
                )
            super().apply(conn, [event])


def _dead_letter_rows(engine, projection) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    'select topic, partition, "offset", reason, published_at is not null '
                    "from projection_dead_letters where projection = :name and current "
                    'order by "offset"'
                ),
                {"name": projection.name},
            )
        ]


@pytest.mark.parametrize("how", ["terminate", "raise"])
def test_a_transient_failure_is_retried_and_never_dead_lettered(stack, store, engine, how):
    """The batch holds a poison event, then one during which the connection is lost (or the
    projection meets a deadlock). The poison alone is dead-lettered, once; the rest applied."""
    topic = new_topic(stack.kafka, partitions=1)
    relay = OutboxRelay(store, engine, kafka=stack.kafka, topic=topic, source="/plimsoll/timesheet")
    relay.create_schema()
    _log_hours(store, [("P-1", 10), ("P-POISON", 5), ("P-CRASH", 20), ("P-2", 30)])
    _publish(relay)
    relay.close()
    projection = FailingOnce(topic, how)
    runner = _runner(stack, engine, projection)
    retried = {"projection": projection.name}
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
    assert projection.failures == 1
    assert REGISTRY.get_sample_value("plimsoll_projection_retries_total", retried) == 1
    with engine.connect() as conn:
        assert [(r[0], r[1]) for r in projection.rows(conn)] == [
            ("P-1", 10),
            ("P-2", 30),
            ("P-CRASH", 20),
        ]
    ((_, _, offset, reason, published),) = _dead_letter_rows(engine, projection)
    assert (offset, published) == (1, True)
    assert reason == "apply failed: ValueError: this practitioner cannot be projected"
    dead = read_topic(stack.kafka, dead_letter_topic(topic), expect=1)
    assert [json.loads(r.value)["subject"] for r in dead] == ["P-POISON"]


def test_rebuild_gives_the_same_dead_letters_and_publishes_none_again(
    stack, store, engine, topic, relay
):
    _log_hours(store, [("P-1", 10), ("P-POISON", 5), ("P-2", 20), ("P-POISON", 6)])
    _publish(relay)
    projection = MinutesByPractitioner(topic)
    runner = _runner(stack, engine, projection)
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
    live = _dead_letter_rows(engine, projection)
    assert len(live) == 2
    with engine.connect() as conn:
        live_rows = projection.rows(conn)

    rebuilder = _runner(stack, engine, projection)
    try:
        rebuilder.rebuild()
        assert _dead_letter_rows(engine, projection) == []  # none current until replayed
        rebuilder.run_until_caught_up()
    finally:
        rebuilder.close()
    assert _dead_letter_rows(engine, projection) == live
    with engine.connect() as conn:
        assert projection.rows(conn) == live_rows
    # Two on the topic: the replay's dead letters were published already.
    assert len(read_topic(stack.kafka, dead_letter_topic(topic), expect=3, timeout_ms=3000)) == 2


class AppliedOnce:
    """Counts how many times each event is applied (slowly: many writes in flight)."""

    def __init__(self, topic: str) -> None:
        self.name = f"applied-{uuid.uuid4().hex[:8]}"
        self.topics = [topic]
        self.table = self.name.replace("-", "_")

    def create(self, conn: Connection) -> None:
        conn.execute(
            text(f"create table if not exists {self.table} (event_id uuid primary key, n int)")
        )

    def drop(self, conn: Connection) -> None:
        conn.execute(text(f"drop table if exists {self.table}"))

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        conn.execute(text("select pg_sleep(0.3)"))  # a member's writes are still in flight
        conn.execute(
            text(
                f"insert into {self.table} select unnest(cast(:ids as uuid[])), 1 "
                f"on conflict (event_id) do update set n = {self.table}.n + 1"
            ),
            {"ids": [e.event_id for e in events]},
        )

    def counts(self, engine) -> dict:
        with engine.connect() as conn:
            return dict(conn.execute(text(f"select event_id, n from {self.table}")).all())


def test_two_runners_in_one_group_apply_every_event_exactly_once(stack, store, engine):
    """Six partitions; the second member joins, and later leaves, while the first is mid-stream
    with writes in flight: each rebalance moves partitions between them."""
    topic = new_topic(stack.kafka, partitions=6)
    relay = OutboxRelay(store, engine, kafka=stack.kafka, topic=topic, source="/plimsoll/timesheet")
    relay.create_schema()
    total = 1200
    store.import_events(
        (f"timesheet-P-{p}", [hours_logged(f"P-{p}", m + 1) for m in range(total // 60)])
        for p in range(60)
    )
    _publish(relay)
    relay.close()
    projection = AppliedOnce(topic)

    def member(stop: threading.Event) -> threading.Thread:
        runner = ProjectionRunner(engine, projection, kafka=stack.kafka, max_batch=50)
        runner.create_schema()

        def run() -> None:
            try:
                runner.run(stop)
            finally:
                runner.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def applied() -> int:
        return len(projection.counts(engine))

    def wait_until(condition, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)

    stop_first, stop_second = threading.Event(), threading.Event()
    first = member(stop_first)
    wait_until(lambda: applied() >= 200)
    second = member(stop_second)  # joins mid-stream
    wait_until(lambda: applied() >= 700)
    stop_second.set()  # leaves mid-stream: its partitions go back to the first
    second.join(timeout=60)
    wait_until(lambda: applied() == total)
    time.sleep(2)  # let any late duplicate land
    stop_first.set()
    first.join(timeout=60)

    counts = projection.counts(engine)
    assert len(counts) == total
    twice = {event_id: n for event_id, n in counts.items() if n != 1}
    assert twice == {}, f"{len(twice)} events applied more than once"
    with engine.connect() as conn:
        checkpoints = conn.execute(
            text("select sum(next_offset) from projection_checkpoints where projection = :n"),
            {"n": projection.name},
        ).scalar_one()
    assert checkpoints == total  # every partition's checkpoint at its end, none moved back


def test_a_batch_whose_checkpoint_moved_on_is_skipped_and_the_partition_reread(
    stack, store, engine
):
    """Another member commits offsets 0-4 of the partition just after this runner sought to
    its checkpoint: this runner's batch from offset 0 must not be applied, nor its checkpoint
    moved back; it rereads from offset 5."""
    topic = new_topic(stack.kafka, partitions=1)
    relay = OutboxRelay(store, engine, kafka=stack.kafka, topic=topic, source="/plimsoll/timesheet")
    relay.create_schema()
    _log_hours(store, [(f"P-{i}", i + 1) for i in range(10)])
    _publish(relay)
    relay.close()
    projection = MinutesByPractitioner(topic)
    runner = _runner(stack, engine, projection)
    seek = runner._seek_to_checkpoints
    moved = []

    def seek_then_another_member_commits(assigned):
        seek(assigned)
        # A new topic's first assignment may be empty (no metadata yet): wait for the partition.
        if assigned and not moved:
            moved.append(True)
            with engine.begin() as conn:
                conn.execute(
                    text("insert into projection_checkpoints values (:name, :topic, 0, 5)"),
                    {"name": projection.name, "topic": topic},
                )

    runner._seek_to_checkpoints = seek_then_another_member_commits
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()
    with engine.connect() as conn:
        assert [r[0] for r in projection.rows(conn)] == [f"P-{i}" for i in range(5, 10)]
        checkpoint = conn.execute(
            text("select next_offset from projection_checkpoints where projection = :name"),
            {"name": projection.name},
        ).scalar_one()
    assert checkpoint == 10
    skipped = {"projection": projection.name, "outcome": "skipped-stale"}
    assert REGISTRY.get_sample_value("plimsoll_projection_events_total", skipped) == 10
