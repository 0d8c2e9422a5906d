"""The outbox relay: publishes a service's recorded events to its Kafka topic.

The event store is the outbox. The relay reads events after the last position
it published, sends them in position order with an idempotent producer
(acks=all), waits for every acknowledgement, and only then records the new
position. Killed at any point, it resends from the last recorded position: every
event is published at least once, in order, and none is skipped. Consumers
deduplicate by event id.

One relay publishes per topic at a time: a PostgreSQL advisory lock, held on a
dedicated session, elects it; a second replica waits.

By default each event goes out as its CloudEvent, built by PostgreSQL. Given an
``encode`` function instead, the relay reads the events with ``store.read_all``
and sends what ``encode`` makes of each (none, one or several key-value
messages): the same position table (one row per topic), lock, acknowledgements
and at-least-once order, for a topic in another shape (the HMPPS domain events).
"""

from __future__ import annotations

import functools
import logging
import threading
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

import psycopg
from kafka import KafkaProducer
from kafka.partitioner.default import DefaultPartitioner, murmur2
from sqlalchemy import Engine

from plimsoll_events.envelope import CONTENT_TYPE, SCHEMA_BASE_URI, TYPE_PREFIX
from plimsoll_events.kafka import KafkaAccess
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


# Each pending event's CloudEvents envelope, built by PostgreSQL on its own core rather
# than in Python: envelope.to_cloudevent's attributes, which tests/stack/test_relay.py
# holds equal.
# Keyed by practitioner (the subject), so a practitioner's events keep their order.
PENDING = """
select position,
       convert_to(coalesce(subject, stream_id), 'UTF8') as key,
       metadata->>'traceparent' as traceparent,
       -- json (text), not jsonb: nothing to index, so no binary round trip. Nulls are
       -- dropped from the attributes only; data is appended as stored, nulls and all.
       convert_to(rtrim(json_strip_nulls(json_build_object(
           'specversion', '1.0',
           'id', event_id,
           'source', %(source)s::text,
           'type', %(type_prefix)s::text || '.' || type || '.v' || version,
           'subject', subject,
           'time', recorded_at,
           'datacontenttype', 'application/json',
           'dataschema', %(schema_base)s::text || type || '/v' || version || '.json',
           'actor', metadata->'actor',
           'correlationid', metadata->'correlation_id',
           'causationid', nullif(metadata->'causation_id', 'null'),
           'traceparent', nullif(metadata->'traceparent', 'null'),
           'tracestate', nullif(metadata->'tracestate', 'null'),
           'plimsollstream', stream_id,
           'plimsollstreamver', stream_version,
           'plimsollposition', position
       ))::text, '}') || ',"data":' || data::text || '}', 'UTF8') as value
from events
where position > %(after)s
order by position
limit %(limit)s
"""
Encoder = Callable[[RecordedEvent], Sequence[tuple[bytes | None, bytes]]]
"""The messages (key, value) a recorded event becomes on a topic; none to skip it."""


class _Batch(NamedTuple):
    """Events read after a position: the last one's position, and their messages."""

    last: int
    events: int
    messages: list[tuple[bytes | None, str | None, bytes]]  # key, traceparent, value


@functools.lru_cache(maxsize=65536)
def _key_hash(key: bytes) -> int:
    return int(murmur2(key)) & 0x7FFFFFFF


class _RememberingPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """Kafka's default key partitioning, with each key's hash remembered: the relay sends
    the same practitioners' keys again and again, and the hash is pure Python."""

    def partition(
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: Any,
        cluster: Any,
    ) -> int:
        if serialized_key is None:
            return int(super().partition(topic, key, None, value, serialized_value, cluster))
        partitions = cluster.partitions_for_topic(topic)
        return _key_hash(serialized_key) % len(partitions)


class OutboxRelay:
    def __init__(
        self,
        store: EventStore,
        engine: Engine,
        *,
        kafka: KafkaAccess,
        topic: str,
        source: str,
        batch_size: int = 2000,
        encode: Encoder | None = None,
        content_type: str = CONTENT_TYPE,
    ) -> None:
        self.store = store
        self.encode = encode
        self._content_type_header = ("content-type", content_type.encode())
        self.engine = engine
        self.topic = topic
        self.source = source
        self.batch_size = batch_size
        self.producer = KafkaProducer(
            **kafka.options(),
            client_id=f"relay-{topic}",
            enable_idempotence=True,
            acks="all",
            partitioner=_RememberingPartitioner(),
            # Each pass ends in flush(), which sends at once: lingering only fills batches.
            linger_ms=100,
            batch_size=1024 * 1024,
        )
        self._lock_connection: psycopg.Connection[Any] | None = None
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"relay-{topic}")
        self._read_ahead: tuple[int, Future[_Batch]] | None = None

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

    def _fetch(self, after: int) -> _Batch:
        if self.encode is not None:
            return self._fetch_encoded(after, self.encode)
        with self.engine.connect() as conn:
            rows = list(
                conn.exec_driver_sql(
                    PENDING,
                    {
                        "source": self.source,
                        "type_prefix": TYPE_PREFIX,
                        "schema_base": SCHEMA_BASE_URI,
                        "after": after,
                        "limit": self.batch_size,
                    },
                ).all()
            )
        messages = [(key, traceparent, value) for _, key, traceparent, value in rows]
        return _Batch(rows[-1][0] if rows else after, len(rows), messages)

    def _fetch_encoded(self, after: int, encode: Encoder) -> _Batch:
        events = self.store.read_all(after, limit=self.batch_size)
        messages = [
            (key, event.metadata.traceparent, value)
            for event in events
            for key, value in encode(event)
        ]
        return _Batch(events[-1].position if events else after, len(events), messages)

    def _pending_after(self, after: int) -> _Batch:
        ahead, self._read_ahead = self._read_ahead, None
        if ahead is not None and ahead[0] == after:
            return ahead[1].result()
        return self._fetch(after)

    def publish_pending(self) -> int:
        """Publish one batch of unpublished events; returns how many events it covered."""
        batch = self._pending_after(self.last_published())
        if not batch.events:
            RELAY_BACKLOG.labels(self.topic).set(0)
            return 0
        last = batch.last
        # PostgreSQL builds the next batch while this one goes to Kafka.
        self._read_ahead = (last, self._reader.submit(self._fetch, last))
        sends = [
            self.producer.send(
                self.topic,
                key=key,
                value=value,
                headers=[self._content_type_header, ("traceparent", traceparent.encode())]
                if traceparent
                else [self._content_type_header],
            )
            for key, traceparent, value in batch.messages
        ]
        self.producer.flush()
        for sent in sends:
            sent.get(timeout=0)  # raises the delivery error, if any, before we move on
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                "update relay_positions set position = %s where topic = %s", (last, self.topic)
            )
        RELAY_PUBLISHED.labels(self.topic).inc(len(batch.messages))
        RELAY_BACKLOG.labels(self.topic).set(self.store.head_position() - last)
        return batch.events

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
        self._reader.shutdown(wait=True, cancel_futures=True)
        self.producer.close()
        if self._lock_connection is not None:
            self._lock_connection.close()
