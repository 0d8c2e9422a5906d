"""Events per second through the projection runner, against a bare kafka-python consumer
reading the same topic.

The topic is filled first by the relay (untimed). The bare consumer only polls
the records; the runner also decodes each CloudEvent, upcasts its data, claims
its id, applies it to a read model and records the checkpoint, one database
transaction per partition batch. Both start a new consumer group at the
beginning of the topic, and both clocks run from subscription to the last record.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Sequence

import sqlalchemy
from kafka import KafkaConsumer
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.projection import Delivered, ProjectionRunner
from plimsoll_events.relay import OutboxRelay
from plimsoll_events.store import EventStore
from plimsoll_events.topics import ensure_event_topic
from sqlalchemy import Connection, text

from bench.harness import (
    Settings,
    cpython_switch_interval,
    durability,
    environment,
    kafka,
    median,
    rounded,
    scratch_database,
)
from bench.import_ import _streams
from bench.results import Result


class MinutesPerPractitioner:
    """The read model under test: minutes logged per practitioner, one upsert per batch."""

    def __init__(self, topic: str) -> None:
        self.name = f"bench-{uuid.uuid4().hex[:8]}"
        self.topics: Sequence[str] = [topic]

    def create(self, conn: Connection) -> None:
        conn.execute(
            text(
                "create table if not exists bench_minutes "
                "(practitioner_id text primary key, minutes bigint not null)"
            )
        )

    def drop(self, conn: Connection) -> None:
        conn.execute(text("drop table if exists bench_minutes"))

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        minutes: Counter[str] = Counter()
        for event in events:
            data = event.data
            minutes[data.practitioner_id] += data.minutes  # type: ignore[attr-defined]
        conn.execute(
            text(
                "insert into bench_minutes "
                "select * from unnest(cast(:ids as text[]), cast(:minutes as bigint[])) "
                "on conflict (practitioner_id) "
                "do update set minutes = bench_minutes.minutes + excluded.minutes"
            ),
            {"ids": list(minutes), "minutes": list(minutes.values())},
        )


def _bare(access: KafkaAccess, topic: str, total: int) -> float:
    with cpython_switch_interval():
        return _bare_run(access, topic, total)


def _bare_run(access: KafkaAccess, topic: str, total: int) -> float:
    start = time.perf_counter()
    consumer = KafkaConsumer(
        topic,
        **access.options(),
        group_id=f"bench-bare-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=1000,
    )
    seen = 0
    try:
        while seen < total:
            seen += sum(len(r) for r in consumer.poll(timeout_ms=500).values())
        return time.perf_counter() - start
    finally:
        consumer.close()


def _runner(engine: sqlalchemy.Engine, access: KafkaAccess, topic: str, total: int) -> float:
    projection = MinutesPerPractitioner(topic)
    runner = ProjectionRunner(engine, projection, kafka=access)
    runner.create_schema()
    try:
        start = time.perf_counter()
        seen = 0
        while seen < total:
            seen += runner.poll_once(timeout_ms=500)
        runner.flush()  # the clock stops when the last batch is committed
        elapsed = time.perf_counter() - start
        runner.rebuild()  # leave an empty read model for the next run
        return elapsed
    finally:
        runner.close()


def projection_throughput(settings: Settings) -> Result:
    total = 20_000 if settings.quick else 100_000
    access = kafka()
    with scratch_database("projection_throughput") as db:
        before = durability(db.conninfo)
        engine = sqlalchemy.create_engine(db.sqlalchemy_url)
        store = EventStore(engine)
        topic = f"bench.projection.{uuid.uuid4().hex[:8]}"
        try:
            store.create_schema()
            store.import_events(_streams("projection", total, settings.stream_length))
            ensure_event_topic(access, topic, partitions=6)
            relay = OutboxRelay(
                store, engine, kafka=access, topic=topic, source="/plimsoll/timesheet"
            )
            try:
                relay.create_schema()
                while relay.publish_pending():
                    pass
            finally:
                relay.close()
            bare: list[float] = []
            ours: list[float] = []
            for _ in range(settings.runs):
                bare.append(total / _bare(access, topic, total))
                ours.append(total / _runner(engine, access, topic, total))
        finally:
            store.close()
            engine.dispose()
        after = durability(db.conninfo)
    return Result(
        name="projection_throughput",
        value=median(ours),
        unit="events/s",
        baseline="a bare kafka-python consumer polling the same topic, same run",
        baseline_value=median(bare),
        goal=">= 0.5x a bare kafka-python consumer (ratio = value / baseline_value)",
        goal_ratio=0.5,
        details={
            "mode": settings.mode,
            "events": total,
            "runs": settings.runs,
            "plimsoll_runs": rounded(ours),
            "bare_consumer_runs": rounded(bare),
            "switch_interval": "the runner with the services' GIL switch interval "
            "(plimsoll_events.gil), the bare consumer with CPython's default",
            "statistic": "median of runs",
            "topic_partitions": 6,
            "read_model": "minutes per practitioner, one batched upsert per partition batch",
            "durability": before,
            "durability_after": after,
            "environment": environment(),
        },
    )
