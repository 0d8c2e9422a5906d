"""Events per second published by the outbox relay, from the event store to Kafka.

The store is filled first (COPY import, untimed); then the relay publishes the
whole backlog to a fresh topic and the clock stops when the last batch is
acknowledged by the broker (acks=all, idempotent producer) and its position
recorded.
"""

from __future__ import annotations

import time
import uuid

import sqlalchemy
from plimsoll_events.relay import OutboxRelay
from plimsoll_events.store import EventStore
from plimsoll_events.topics import ensure_event_topic

from bench.harness import (
    Settings,
    durability,
    environment,
    kafka,
    median,
    rounded,
    scratch_database,
)
from bench.import_ import _streams
from bench.results import Result

GOAL_EVENTS_PER_S = 20_000.0


def _publish_all(relay: OutboxRelay, total: int) -> float:
    start = time.perf_counter()
    published = 0
    while published < total:
        sent = relay.publish_pending()
        if sent == 0:
            raise RuntimeError(f"relay stopped after {published} of {total} events")
        published += sent
    return time.perf_counter() - start


def relay_throughput(settings: Settings) -> Result:
    total = 20_000 if settings.quick else 100_000
    access = kafka()
    with scratch_database("relay_throughput") as db:
        before = durability(db.conninfo)
        engine = sqlalchemy.create_engine(db.sqlalchemy_url)
        store = EventStore(engine)
        rates: list[float] = []
        try:
            store.create_schema()
            for run in range(settings.runs):
                store.import_events(_streams(f"run{run}", total, settings.stream_length))
                topic = f"bench.relay.{uuid.uuid4().hex[:8]}"
                ensure_event_topic(access, topic, partitions=6)
                relay = OutboxRelay(
                    store, engine, kafka=access, topic=topic, source="/plimsoll/timesheet"
                )
                try:
                    relay.create_schema()
                    # Only this run's events: start the relay where the previous run's ended.
                    with engine.begin() as conn:
                        conn.exec_driver_sql(
                            "update relay_positions set position = %s where topic = %s",
                            (store.head_position() - total, topic),
                        )
                    rates.append(total / _publish_all(relay, total))
                finally:
                    relay.close()
        finally:
            store.close()
            engine.dispose()
        after = durability(db.conninfo)
    return Result(
        name="relay_throughput",
        value=median(rates),
        unit="events/s",
        baseline="the issue's goal of 20,000 events/s (not a measured system)",
        baseline_value=GOAL_EVENTS_PER_S,
        goal=">= 20,000 events/s (ratio = value / baseline_value; higher is better)",
        goal_ratio=1.0,
        details={
            "mode": settings.mode,
            "events_per_run": total,
            "runs": settings.runs,
            "plimsoll_runs": rounded(rates),
            "statistic": "median of runs",
            "timed": "read from the store, encode as CloudEvents, send, wait for acks=all, "
            "record the position",
            "topic_partitions": 6,
            "durability": before,
            "durability_after": after,
            "environment": environment(),
        },
    )
