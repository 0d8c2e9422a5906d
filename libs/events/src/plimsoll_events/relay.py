"""The outbox relay: publishes a service's recorded events to its Kafka topic.

The event store is the outbox. The relay reads events after the last position
it published, sends them in position order with an idempotent producer
(acks=all), waits for every acknowledgement, and only then records the new
position. Killed at any point, it resends from the last recorded position: every
event is published at least once, in order, and none is skipped. Consumers
deduplicate by event id.

One relay publishes per topic at a time: a PostgreSQL advisory lock, held on a
dedicated session, elects it; a second replica waits.
"""

from __future__ import annotations

import logging
import threading
import zlib
from typing import Any

import psycopg
from kafka import KafkaProducer
from sqlalchemy import Engine

from plimsoll_events.envelope import CONTENT_TYPE, encode_recorded
from plimsoll_events.metrics import RELAY_BACKLOG, RELAY_PUBLISHED
from plimsoll_events.records import RecordedEvent
from plimsoll_events.store import EventStore, psycopg_url

log = logging.getLogger(__name__)

SCHEMA = """
create table if not exists relay_positions (
    topic    text primary key,
    position bigint not null
)
"""


def message_key(event: RecordedEvent) -> bytes:
    """Keyed by practitioner, so each practitioner's events stay in order on one partition."""
    return (event.subject or event.stream_id).encode()


def message_headers(event: RecordedEvent) -> list[tuple[str, bytes]]:
    headers = [("content-type", CONTENT_TYPE.encode())]
    if event.metadata.traceparent:
        headers.append(("traceparent", event.metadata.traceparent.encode()))
    return headers


class OutboxRelay:
    def __init__(
        self,
        store: EventStore,
        engine: Engine,
        *,
        bootstrap: str,
        topic: str,
        source: str,
        batch_size: int = 2000,
    ) -> None:
        self.store = store
        self.engine = engine
        self.topic = topic
        self.source = source
        self.batch_size = batch_size
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=f"relay-{topic}",
            enable_idempotence=True,
            acks="all",
            # Each pass ends in flush(), which sends at once: lingering only fills batches.
            linger_ms=100,
            batch_size=1024 * 1024,
        )
        self._lock_connection: psycopg.Connection[Any] | None = None

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(SCHEMA)
            conn.exec_driver_sql(
                "insert into relay_positions values (%s, 0) on conflict do nothing", (self.topic,)
            )

    def last_published(self) -> int:
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql(
                "select position from relay_positions where topic = %s", (self.topic,)
            ).first()
        return int(row[0]) if row else 0

    def publish_pending(self) -> int:
        """Publish one batch of unpublished events; returns how many were published."""
        after = self.last_published()
        events = self.store.read_all(after, self.batch_size)
        if not events:
            RELAY_BACKLOG.labels(self.topic).set(0)
            return 0
        sends = [
            self.producer.send(
                self.topic,
                key=message_key(event),
                value=encode_recorded(event, self.source),
                headers=message_headers(event),
            )
            for event in events
        ]
        self.producer.flush()
        for sent in sends:
            sent.get(timeout=0)  # raises the delivery error, if any, before we move on
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                "update relay_positions set position = %s where topic = %s",
                (events[-1].position, self.topic),
            )
        RELAY_PUBLISHED.labels(self.topic).inc(len(events))
        RELAY_BACKLOG.labels(self.topic).set(self.store.head_position() - events[-1].position)
        return len(events)

    def acquire_leadership(self, stop: threading.Event, poll_seconds: float = 1.0) -> bool:
        """Block until this relay holds the topic's lock, or ``stop`` is set."""
        key = zlib.crc32(f"relay:{self.topic}".encode())
        self._lock_connection = psycopg.connect(psycopg_url(self.engine), autocommit=True)
        while not stop.is_set():
            row = self._lock_connection.execute(
                "select pg_try_advisory_lock(%s)", (key,)
            ).fetchone()
            if row and row[0]:
                return True
            stop.wait(poll_seconds)
        return False

    def run(self, stop: threading.Event, idle_seconds: float = 0.05) -> None:
        """Publish until ``stop`` is set; a failed batch is retried from the last position."""
        if not self.acquire_leadership(stop):
            return
        while not stop.is_set():
            try:
                published = self.publish_pending()
            except Exception:
                log.exception("relay batch failed; retrying from the last published position")
                stop.wait(1.0)
                continue
            if published == 0:
                stop.wait(idle_seconds)

    def close(self) -> None:
        self.producer.close()
        if self._lock_connection is not None:
            self._lock_connection.close()
