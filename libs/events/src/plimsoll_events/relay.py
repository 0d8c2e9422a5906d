"""The outbox relay: publishes a service's recorded events to its Kafka topic.

The event store is the outbox. The relay reads events after the last position
it published, sends them in position order with an idempotent producer
(acks=all), waits for every acknowledgement, and only then records the new
position. Killed at any point, it resends from the last recorded position: every
event is published at least once, in order, and none is skipped. Consumers
deduplicate by event id.

One relay publishes per topic at a time: a PostgreSQL advisory lock, held on a
dedicated session, elects it; a second replica waits. Leadership is checked,
not assumed: before each batch is sent (the lock session must answer and hold
the lock) and again in the statement that records the position (the position
only moves if the lock is still held by that session and nobody else moved
it). A relay whose lock session died (PostgreSQL restarted, the session was
terminated) therefore never records a position as leader: it raises
`LeadershipLost` and, under `run`, waits to take the lock again on a new
session. Failed reads and writes (a restart) are retried from the last
recorded position.

A message Kafka refuses as too large (an event stored before the store had its
size limit, or a topic with a smaller ``max.message.bytes``) must not stop the
relay for good: it is *parked* (table ``relay_parked``: topic, position, reason,
recorded with the position, counted in ``plimsoll_relay_parked_events_total``,
logged as an error) and the relay carries on with the next events.

Events with a traceparent are sent in a PRODUCER span each, whose context is
the message's ``traceparent`` header (see `plimsoll_events.tracing`).

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
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError, MessageSizeTooLargeError
from kafka.partitioner.default import DefaultPartitioner, murmur2
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy import Engine

from plimsoll_events import tracing
from plimsoll_events.envelope import CONTENT_TYPE, SCHEMA_BASE_URI, TYPE_PREFIX
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.metrics import (
    RELAY_BACKLOG,
    RELAY_LEADERSHIP_LOST,
    RELAY_PARKED,
    RELAY_PUBLISHED,
)
from plimsoll_events.records import RecordedEvent
from plimsoll_events.store import EventStore, psycopg_url

log = logging.getLogger(__name__)
tracer = trace.get_tracer("plimsoll_events.relay")

SCHEMA = """
create table if not exists relay_positions (
    topic    text primary key,
    position bigint not null
);
-- Events Kafka refused as too large: skipped, not lost, and never retried by the relay.
create table if not exists relay_parked (
    topic     text not null,
    position  bigint not null,
    reason    text not null,
    parked_at timestamptz not null default now(),
    primary key (topic, position)
);
"""

# Does this session hold the relay's lock? (A one-bigint advisory lock shows in pg_locks as
# classid = its high 32 bits, objid = its low 32 bits, objsubid = 1.)
HOLDS_LOCK: Final = """
select exists (select from pg_locks
               where locktype = 'advisory' and granted and pid = pg_backend_pid()
                 and classid = 0 and objid = %s::bigint::oid and objsubid = 1)
"""
PARK: Final = """
insert into relay_parked (topic, position, reason)
select %s, p, r from unnest(%s::bigint[], %s::text[]) as u(p, r)
on conflict do nothing
"""
# Moves only from the position this batch started at, and only while the lock session
# (by its backend pid) still holds the lock: a relay that lost either records nothing.
RECORD_POSITION: Final = """
update relay_positions set position = %(last)s
where topic = %(topic)s and position = %(after)s
  and exists (select from pg_locks
              where locktype = 'advisory' and granted and pid = %(pid)s
                and classid = 0 and objid = %(key)s::bigint::oid and objsubid = 1)
"""


ACK_SECONDS: Final = 30.0


class LeadershipLost(RuntimeError):
    """This relay no longer holds its topic's lock: it must not record a position."""


# Each pending event's CloudEvents envelope, built by PostgreSQL on its own core rather
# than in Python: envelope.to_cloudevent's attributes, which tests/stack/test_relay.py
# holds equal.
# Keyed by practitioner (the subject), so a practitioner's events keep their order.
PENDING = """
select position,
       convert_to(coalesce(subject, stream_id), 'UTF8') as key,
       metadata->>'traceparent' as traceparent,
       -- The message id of a producer span: only traced events have one.
       case when metadata->>'traceparent' is not null then event_id::text end as event_id,
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


# position, key, traceparent, event id (traced events only), value
_Message = tuple[int, bytes | None, str | None, str | None, bytes]


@dataclass
class _Round:
    """What one round of sends came to."""

    refused: dict[int, str] = field(default_factory=dict)  # by the producer: too big to send
    too_large: dict[int, str] = field(default_factory=dict)  # failed as too large by the broker
    failure: Exception | None = None  # the first other failure
    unacked: list[_Message] = field(default_factory=list)  # in the order sent


class _Batch(NamedTuple):
    """Events read after a position: the last one's position, and their messages."""

    last: int
    events: int
    messages: Sequence[_Message]


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
        self.client_id = f"relay-{topic}"
        self._kafka = kafka
        self.producer = self._new_producer()
        self._lock_key = zlib.crc32(f"relay:{topic}".encode())
        self._lock_connection: psycopg.Connection[Any] | None = None
        self.leading = False
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"relay-{topic}")
        self._read_ahead: tuple[int, Future[_Batch]] | None = None

    def _new_producer(self) -> KafkaProducer:
        return KafkaProducer(
            **self._kafka.options(),
            client_id=self.client_id,
            enable_idempotence=True,
            acks="all",
            partitioner=_RememberingPartitioner(),
            # Each pass ends in flush(), which sends at once: lingering only fills batches.
            linger_ms=100,
            batch_size=1024 * 1024,
        )

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

    def parked(self) -> list[tuple[int, str]]:
        """The positions parked on this topic and why, in position order."""
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "select position, reason from relay_parked where topic = %s order by position",
                (self.topic,),
            ).all()
        return [(int(position), str(reason)) for position, reason in rows]

    def _fetch(self, after: int) -> _Batch:
        if self.encode is not None:
            return self._fetch_encoded(after, self.encode)
        with self.engine.connect() as conn:
            rows: Sequence[Any] = conn.exec_driver_sql(
                PENDING,
                {
                    "source": self.source,
                    "type_prefix": TYPE_PREFIX,
                    "schema_base": SCHEMA_BASE_URI,
                    "after": after,
                    "limit": self.batch_size,
                },
            ).all()
        # Each row is a message already: position, key, traceparent, event id, value.
        return _Batch(rows[-1][0] if rows else after, len(rows), rows)

    def _fetch_encoded(self, after: int, encode: Encoder) -> _Batch:
        events = self.store.read_all(after, limit=self.batch_size)
        messages: list[_Message] = []
        for event in events:
            traceparent = event.metadata.traceparent
            traced_id = str(event.event_id) if traceparent else None
            messages.extend(
                (event.position, key, traceparent, traced_id, value) for key, value in encode(event)
            )
        return _Batch(events[-1].position if events else after, len(events), messages)

    def _pending_after(self, after: int) -> _Batch:
        ahead, self._read_ahead = self._read_ahead, None
        if ahead is not None and ahead[0] == after:
            return ahead[1].result()
        return self._fetch(after)

    def publish_pending(self) -> int:
        """Publish one batch of unpublished events; returns how many events it covered.

        Takes the topic's lock first if this relay does not hold it; returns 0,
        publishing nothing, if another relay holds it. Raises `LeadershipLost` if
        the lock was lost while the batch was sent: the position is not recorded,
        so the batch goes out again (at least once) from whoever leads next.
        """
        if not self.leading and not self._try_lock():
            return 0
        after = self.last_published()
        batch = self._pending_after(after)
        if not batch.events:
            RELAY_BACKLOG.labels(self.topic).set(0)
            return 0
        if not self._confirm_leadership():  # its session must still answer, holding the lock
            return 0
        last = batch.last
        # PostgreSQL builds the next batch while this one goes to Kafka.
        self._read_ahead = (last, self._reader.submit(self._fetch, last))
        parked = self._send(batch.messages)
        self._record(after, last, parked)
        RELAY_PUBLISHED.labels(self.topic).inc(len(batch.messages) - len(parked))
        RELAY_BACKLOG.labels(self.topic).set(self.store.head_position() - last)
        return batch.events

    def _send(self, messages: Sequence[_Message]) -> dict[int, str]:
        """Send and wait for every acknowledgement; the positions Kafka refused as too large
        (and why). Any other failure raises: the batch is then sent again."""
        sent = self._send_round(messages)
        refused = dict(sent.refused)
        if not sent.too_large:
            if sent.failure is not None:
                raise sent.failure  # before we move on: the batch is retried from the position
            return refused
        # The broker refused a message as too large. kafka-python's idempotent producer then
        # fails everything in flight with that same error, as fatal: start a new producer and
        # send what was not acknowledged one message at a time, in order, so that the one
        # refused shows itself. Slow, and only ever for the batch holding such a message.
        log.warning("Kafka refused a message to %s as too large; isolating it", self.topic)
        self._renew_producer()
        for message in sent.unacked:
            alone = self._send_round([message])
            refused.update(alone.refused)
            if alone.too_large:
                refused[message[0]] = alone.too_large[message[0]]
                self._renew_producer()
            elif alone.failure is not None:
                raise alone.failure
        return refused

    def _renew_producer(self) -> None:
        self.producer.close(timeout=5)
        self.producer = self._new_producer()

    def _send_round(self, messages: Sequence[_Message]) -> _Round:
        sent = _Round()
        sends: list[tuple[_Message, Any, Span | None]] = []
        plain = [self._content_type_header]
        for message in messages:
            position, key, traceparent, event_id, value = message
            span = None
            headers = plain
            if traceparent:
                span, traceparent = self._producer_span(key, traceparent, event_id)
                headers = [self._content_type_header, ("traceparent", traceparent.encode())]
            try:
                future = self.producer.send(self.topic, key=key, value=value, headers=headers)
            except MessageSizeTooLargeError as exc:  # refused before it left: too big to send
                sent.refused[position] = f"Kafka refused the message as too large: {exc}"
                _end(span, exc)
                continue
            sends.append((message, future, span))
        try:
            self.producer.flush()
        except KafkaError:  # e.g. woken by a batch split and resent: each future says more
            log.debug("flush of %s ended early", self.topic, exc_info=True)
        for message, future, span in sends:
            try:
                # Done after flush, except batches the producer split and sent again.
                metadata = future.get(timeout=ACK_SECONDS)
            except MessageSizeTooLargeError as exc:  # the broker's (the topic's) limit
                sent.too_large[message[0]] = f"Kafka refused the message as too large: {exc}"
                sent.unacked.append(message)
                _end(span, exc)
            except Exception as exc:
                sent.failure = sent.failure or exc
                sent.unacked.append(message)
                _end(span, exc)
            else:
                if span is not None:
                    span.set_attribute(
                        tracing.MESSAGING_DESTINATION_PARTITION_ID, str(metadata.partition)
                    )
                    span.set_attribute(tracing.MESSAGING_KAFKA_OFFSET, int(metadata.offset))
                _end(span, None)
        return sent

    def _producer_span(
        self, key: bytes | None, traceparent: str, event_id: str | None
    ) -> tuple[Span | None, str]:
        """A PRODUCER span, child of the event's recorded span, and its traceparent."""
        parent = tracing.remote_context(traceparent)
        if parent is None:
            return None, traceparent  # malformed: passed on as recorded, never a failure
        attributes: dict[str, str] = {
            tracing.MESSAGING_SYSTEM: tracing.KAFKA,
            tracing.MESSAGING_DESTINATION_NAME: self.topic,
            tracing.MESSAGING_OPERATION_TYPE: "send",
            tracing.MESSAGING_OPERATION_NAME: "send",
            tracing.MESSAGING_CLIENT_ID: self.client_id,
        }
        if event_id is not None:
            attributes[tracing.MESSAGING_MESSAGE_ID] = event_id
        if key is not None:
            attributes[tracing.MESSAGING_KAFKA_MESSAGE_KEY] = key.decode("utf-8", "replace")
        span = tracer.start_span(
            f"send {self.topic}", context=parent, kind=SpanKind.PRODUCER, attributes=attributes
        )
        return span, tracing.traceparent_of(span.get_span_context())

    def _record(self, after: int, last: int, parked: dict[int, str]) -> None:
        """Park what Kafka refused and move the position, in one transaction, if still leader."""
        pid = self._lock_connection.info.backend_pid if self._lock_connection else 0
        with self.engine.begin() as conn:
            if parked:
                conn.exec_driver_sql(PARK, (self.topic, list(parked), list(parked.values())))
            moved = conn.exec_driver_sql(
                RECORD_POSITION,
                {
                    "last": last,
                    "topic": self.topic,
                    "after": after,
                    "pid": pid,
                    "key": self._lock_key,
                },
            ).rowcount
            if moved != 1:
                self._lose_leadership("the lock or the position changed while the batch was sent")
                raise LeadershipLost(
                    f"relay for {self.topic} lost its lock while publishing up to {last}: "
                    "the position is not recorded"
                )
        for position, reason in parked.items():
            RELAY_PARKED.labels(self.topic).inc()
            log.error(
                "relay parked an event Kafka refused; it will not be published",
                extra={"topic": self.topic, "position": position, "reason": reason},
            )

    # --- leadership --------------------------------------------------------------------------

    def acquire_leadership(self, stop: threading.Event, poll_seconds: float = 1.0) -> bool:
        """Block until this relay holds the topic's lock, or ``stop`` is set.

        Survives the database being away: each attempt uses a live session.
        """
        while not stop.is_set():
            if self._try_lock():
                return True
            stop.wait(poll_seconds)
        return False

    def _try_lock(self) -> bool:
        try:
            conn = self._lock_connection
            if conn is None or conn.closed or conn.broken:
                conn = self._lock_connection = psycopg.connect(
                    psycopg_url(self.engine), autocommit=True, connect_timeout=5
                )
            row = conn.execute("select pg_try_advisory_lock(%s)", (self._lock_key,)).fetchone()
        except psycopg.Error:
            log.warning(
                "relay for %s could not reach its lock; retrying", self.topic, exc_info=True
            )
            self._drop_lock_connection()
            return False
        self.leading = bool(row and row[0])
        return self.leading

    def _confirm_leadership(self) -> bool:
        """Whether this relay leads now: its lock session answers and holds the lock (or the
        lock was free and it took it)."""
        if not self.leading:
            return self._try_lock()
        try:
            assert self._lock_connection is not None
            row = self._lock_connection.execute(HOLDS_LOCK, (self._lock_key,)).fetchone()
        except psycopg.Error:
            self._lose_leadership("its lock session is gone")
            return self._try_lock()
        if not (row and row[0]):
            self._lose_leadership("its lock session no longer holds the lock")
            return self._try_lock()
        return True

    def _lose_leadership(self, why: str) -> None:
        if self.leading:
            RELAY_LEADERSHIP_LOST.labels(self.topic).inc()
            log.warning("relay for %s lost its leadership: %s", self.topic, why)
        self.leading = False
        self._drop_lock_connection()

    def _drop_lock_connection(self) -> None:
        conn, self._lock_connection = self._lock_connection, None
        if conn is not None:
            try:
                conn.close()  # releases the lock, if the session still held it
            except Exception:  # gone already
                log.debug("closing the relay's lock session failed", exc_info=True)

    def run(
        self,
        stop: threading.Event,
        idle_seconds: float = 0.05,
        wake: threading.Event | None = None,
    ) -> None:
        """Publish until ``stop`` is set; a failed batch is retried from the last position,
        a lost lock is taken again (waiting while another relay holds it).

        Idle, it looks again every `idle_seconds`, or at once when `wake` is set (by
        the store after an append of this process: see `EventStore.on_append`).
        """
        while not stop.is_set():
            if not self.leading and not self.acquire_leadership(stop):
                return
            try:
                published = self.publish_pending()
            except LeadershipLost:
                continue  # logged; wait for the lock again
            except Exception:
                log.exception("relay batch failed; retrying from the last published position")
                stop.wait(1.0)
                continue
            if published == 0:
                if wake is None:
                    stop.wait(idle_seconds)
                elif wake.wait(idle_seconds):
                    wake.clear()

    def close(self) -> None:
        self._reader.shutdown(wait=True, cancel_futures=True)
        self.producer.close()
        self.leading = False
        self._drop_lock_connection()


def _end(span: Span | None, error: BaseException | None) -> None:
    if span is None:
        return
    if error is not None:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.end()
