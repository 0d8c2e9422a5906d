"""The projection runner: Kafka topics in, read models in PostgreSQL out.

For each batch of messages from one partition, in ONE database transaction, the
runner applies the events to the read model, records the highest source
position it applied from each producer on that partition, and records the
partition's next offset. Redelivery therefore changes nothing: an offset
already recorded is skipped on restart (the runner seeks to its own
checkpoint), and an event at or below a recorded position (a relay's resend)
is not applied again. Decoding runs ahead of the database on a writer thread,
so Kafka, Python and PostgreSQL work at the same time.

A message that cannot be read (not a CloudEvent, unknown type, invalid data)
or that the projection fails to apply goes to ``<topic>.dlq`` with the reason
and its original headers; the runner carries on with the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from opentelemetry import trace
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy import Connection, Engine, text

from plimsoll_events.catalogue import CATALOGUE, Catalogue, EventData, dead_letter_topic
from plimsoll_events.envelope import TypedEnvelopes, decode
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.metrics import PROJECTION_EVENTS, PROJECTION_LAG

log = logging.getLogger(__name__)
tracer = trace.get_tracer("plimsoll_events.projection")

MAX_PENDING_WRITES = 2  # batches decoded ahead of the database: enough to overlap, bounded

SCHEMA = """
create table if not exists projection_checkpoints (
    projection  text not null,
    topic       text not null,
    partition   integer not null,
    next_offset bigint not null,
    primary key (projection, topic, partition)
);
create table if not exists projection_positions (
    projection text not null,
    topic      text not null,
    partition  integer not null,
    source     text not null,
    position   bigint not null,
    primary key (projection, topic, partition, source)
);
"""


@dataclass(slots=True)  # not frozen: a frozen dataclass costs microseconds per event
class Delivered:
    """An event as a projection sees it: decoded, upcast to its latest version."""

    event_id: UUID
    type: str
    data: EventData
    subject: str | None
    time: datetime
    source: str
    position: int
    traceparent: str | None
    topic: str
    partition: int
    offset: int


class Projection(Protocol):
    """A read model fed by events. ``apply`` runs inside the runner's transaction."""

    name: str
    topics: Sequence[str]

    def create(self, conn: Connection) -> None: ...

    def drop(self, conn: Connection) -> None: ...

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None: ...


@dataclass(frozen=True)
class _Rejected:
    record: Any
    reason: str


@dataclass(frozen=True)
class _Batch:
    tp: TopicPartition
    records: Sequence[Any]
    readable: list[Delivered]
    rejected: list[_Rejected]


class _SeekToCheckpoint(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        pass

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self.runner._seek_to_checkpoints(assigned)


class ProjectionRunner:
    def __init__(
        self,
        engine: Engine,
        projection: Projection,
        *,
        kafka: KafkaAccess,
        catalogue: Catalogue = CATALOGUE,
        max_batch: int = 5000,
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.catalogue = catalogue
        self.consumer = KafkaConsumer(
            **kafka.options(),
            group_id=f"projection-{projection.name}",
            client_id=f"projection-{projection.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            max_partition_fetch_bytes=4 * 1024 * 1024,  # fewer, larger fetches
            isolation_level="read_committed",
        )
        self.dead_letters = KafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
        self._subscribed = False
        self._typed = TypedEnvelopes(catalogue)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{projection.name}")
        self._writes: list[Future[dict[TopicPartition, int]]] = []
        # Highest source position applied, per partition and source: the writer's own.
        self._high_water: dict[TopicPartition, dict[str, int]] = {}
        self._failed = False

    # --- schema and rebuild ------------------------------------------------------------------

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(SCHEMA)
            self.projection.create(conn)

    def rebuild(self) -> None:
        """Drop the read model and forget every checkpoint: the next run replays from the start.

        Run it with the runner stopped; the replay gives the same read model as
        the live one, because the same events are applied in the same order.
        """
        self.flush()
        self._high_water.clear()
        with self.engine.begin() as conn:
            self.projection.drop(conn)
            for table in ("projection_checkpoints", "projection_positions"):
                conn.execute(
                    text(f"delete from {table} where projection = :name"),  # noqa: S608
                    {"name": self.projection.name},
                )
            self.projection.create(conn)

    # --- consuming ---------------------------------------------------------------------------

    def _ensure_subscribed(self) -> None:
        if not self._subscribed:
            self.consumer.subscribe(list(self.projection.topics), listener=_SeekToCheckpoint(self))
            self._subscribed = True

    def _seek_to_checkpoints(self, assigned: list[TopicPartition]) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select topic, partition, next_offset from projection_checkpoints "
                    "where projection = :name"
                ),
                {"name": self.projection.name},
            ).all()
        checkpoints = {TopicPartition(t, p): o for t, p, o in rows}
        # Another member may have moved these partitions on: the writer rereads its marks
        # (queued behind the writes already in flight, which it owns).
        self._writer.submit(self._high_water.clear)
        for tp in assigned:
            if tp in checkpoints:
                self.consumer.seek(tp, checkpoints[tp])
            else:
                self.consumer.seek_to_beginning(tp)

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Read one poll's worth of messages and queue their writes; returns how many.

        Decoding happens here while the writer thread commits earlier batches, so
        PostgreSQL's time overlaps Kafka's and Python's. A failed write stops all
        writes after it; the next call rewinds to the checkpoints and raises.
        """
        self._ensure_subscribed()
        self._settle(wait=False)
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if batches:
            decoded = [
                _Batch(tp, records, *self._decode_all(records)) for tp, records in batches.items()
            ]
            self._writes.append(self._writer.submit(self._write, decoded))
        while len(self._writes) > MAX_PENDING_WRITES:
            self._settle(wait=True, keep=MAX_PENDING_WRITES)
        self._export_lag()
        return sum(len(records) for records in batches.values())

    def _settle(self, *, wait: bool, keep: int = 0) -> None:
        """Collect finished writes (all but ``keep`` when waiting); rewind and raise on failure."""
        while self._writes and (self._writes[0].done() or (wait and len(self._writes) > keep)):
            write = self._writes.pop(0)
            try:
                offsets = write.result()
            except Exception:
                for later in self._writes:  # they see the failure and write nothing
                    later.exception()
                self._writes.clear()
                self._failed = False
                self._rewind_to_checkpoints()
                raise
            # Kafka's committed offset is only a hint for tools; the checkpoint is the truth.
            self.consumer.commit_async(
                {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()}
            )

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("projection batch failed; it will be retried from the checkpoint")
                self._rewind_to_checkpoints()
                stop.wait(1.0)

    def run_until_caught_up(self, timeout_seconds: float = 60) -> None:
        """Poll until every assigned partition is read to its end (for tests and rebuilds)."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            self.poll_once(timeout_ms=200)
            self.flush()
            if self.consumer.assignment() and self.lag() == 0:
                return
        raise TimeoutError(
            f"projection {self.projection.name} did not catch up within {timeout_seconds:g}s: "
            f"assigned {sorted(map(tuple, self.consumer.assignment()))}, lag {self.lag()}"
        )

    def flush(self) -> None:
        """Wait until every batch read so far is written (or raise its failure)."""
        self._settle(wait=True)

    def lag(self) -> int:
        assignment = self.consumer.assignment()
        ends = self.consumer.end_offsets(list(assignment))
        return sum(max(0, ends[tp] - self.consumer.position(tp)) for tp in assignment)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._writer.shutdown(wait=True)
            self.consumer.close()
            self.dead_letters.close()

    # --- one partition's batch ---------------------------------------------------------------

    def _decode_all(self, records: Sequence[Any]) -> tuple[list[Delivered], list[_Rejected]]:
        readable: list[Delivered] = []
        rejected: list[_Rejected] = []
        for record in records:
            try:
                readable.append(self._decode(record))
            except Exception as exc:  # anything unreadable goes to the dead letters
                rejected.append(_Rejected(record, f"unreadable: {type(exc).__name__}: {exc}"))
        return readable, rejected

    def _write(self, batches: list[_Batch]) -> dict[TopicPartition, int]:
        """One poll's batches in one transaction; runs on the writer thread, in order."""
        if self._failed:
            raise RuntimeError("an earlier batch failed; this one waits for the rewind")
        try:
            return self._write_batches(batches)
        except Exception:
            self._failed = True
            self._high_water.clear()  # reloaded from the database after the rewind
            raise

    def _write_batches(self, batches: list[_Batch]) -> dict[TopicPartition, int]:
        readable = [event for batch in batches for event in batch.readable]
        links = [Link(c) for c in (_span_context(d) for d in readable) if c is not None]
        with (
            tracer.start_as_current_span(
                "process " + ",".join(sorted({b.tp.topic for b in batches})),
                kind=trace.SpanKind.CONSUMER,
                links=links,
            ),
            self.engine.begin() as conn,
        ):
            fresh = [event for batch in batches for event in self._fresh(conn, batch)]
            failed = self._apply(conn, fresh)
            offsets_of = {(b.tp.topic, b.tp.partition): b.records for b in batches}
            rejected = [item for batch in batches for item in batch.rejected]
            rejected.extend(
                _Rejected(_record_of(offsets_of[(d.topic, d.partition)], d), reason)
                for d, reason in failed
            )
            # Dead letters are durable before the checkpoint moves past them.
            self._send_dead_letters(rejected)
            offsets = {b.tp: b.records[-1].offset + 1 for b in batches}
            self._save_progress(conn, offsets)
        name = self.projection.name
        PROJECTION_EVENTS.labels(name, "applied").inc(len(fresh) - len(failed))
        PROJECTION_EVENTS.labels(name, "duplicate").inc(len(readable) - len(fresh))
        PROJECTION_EVENTS.labels(name, "dead-lettered").inc(len(rejected))
        return offsets

    def _save_progress(self, conn: Connection, offsets: dict[TopicPartition, int]) -> None:
        conn.execute(
            text(
                "insert into projection_checkpoints "
                "select :name, t, p, o from unnest(cast(:topics as text[]), "
                "cast(:partitions as int[]), cast(:offsets as bigint[])) as u(t, p, o) "
                "on conflict (projection, topic, partition) "
                "do update set next_offset = excluded.next_offset"
            ),
            {
                "name": self.projection.name,
                "topics": [tp.topic for tp in offsets],
                "partitions": [tp.partition for tp in offsets],
                "offsets": list(offsets.values()),
            },
        )
        marks = [(tp, s, p) for tp in offsets for s, p in self._high_water.get(tp, {}).items()]
        if marks:
            conn.execute(
                text(
                    "insert into projection_positions "
                    "select :name, t, p, s, pos from unnest(cast(:topics as text[]), "
                    "cast(:partitions as int[]), cast(:sources as text[]), "
                    "cast(:positions as bigint[])) as u(t, p, s, pos) "
                    "on conflict (projection, topic, partition, source) "
                    "do update set position = excluded.position"
                ),
                {
                    "name": self.projection.name,
                    "topics": [tp.topic for tp, _, _ in marks],
                    "partitions": [tp.partition for tp, _, _ in marks],
                    "sources": [s for _, s, _ in marks],
                    "positions": [p for _, _, p in marks],
                },
            )

    def _decode(self, record: Any) -> Delivered:
        envelope = self._typed.decode(record.value)
        if envelope is not None:
            data = envelope.data
        else:  # an older version to upcast, or something wrong to explain
            envelope = decode(record.value)
            data = self.catalogue.decode(envelope.event_type, envelope.event_version, envelope.data)
        return Delivered(
            event_id=envelope.id,
            type=data.type,
            data=data,
            subject=envelope.subject,
            time=envelope.time,
            source=envelope.source,
            position=envelope.plimsollposition,
            traceparent=envelope.traceparent,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )

    def _fresh(self, conn: Connection, batch: _Batch) -> list[Delivered]:
        """The batch's events not applied before; moves the partition's high-water marks.

        A source's relay publishes each key's events in position order, so on one
        partition its positions only rise, except when a resend after a crash
        repeats some: anything at or below the highest position applied from that
        source on that partition has been seen. (Hence: never add partitions to an
        event topic; it would move keys, and their order, between partitions.)
        The marks are kept in memory by the writer thread and saved with the
        checkpoint; they are read from the database once per partition.
        """
        seen = self._high_water.get(batch.tp)
        if seen is None:
            rows = conn.execute(
                text(
                    "select source, position from projection_positions "
                    "where projection = :name and topic = :topic and partition = :partition"
                ),
                {
                    "name": self.projection.name,
                    "topic": batch.tp.topic,
                    "partition": batch.tp.partition,
                },
            )
            seen = self._high_water[batch.tp] = {source: position for source, position in rows}
        fresh = []
        for event in batch.readable:
            if event.position > seen.get(event.source, 0):
                fresh.append(event)
                seen[event.source] = event.position
        return fresh

    def _apply(self, conn: Connection, events: list[Delivered]) -> list[tuple[Delivered, str]]:
        """Apply all at once; if that fails, one by one, to set the poison aside."""
        if not events:
            return []
        try:
            with conn.begin_nested():
                self.projection.apply(conn, events)
            return []
        except Exception:
            log.warning("batch apply failed; applying one event at a time", exc_info=True)
        failed = []
        for event in events:
            try:
                with conn.begin_nested():
                    self.projection.apply(conn, [event])
            except Exception as exc:
                failed.append((event, f"apply failed: {type(exc).__name__}: {exc}"))
        return failed

    def _send_dead_letters(self, rejected: list[_Rejected]) -> None:
        if not rejected:
            return
        sends = []
        for item in rejected:
            record = item.record
            headers = [
                *(record.headers or []),
                ("dlq-reason", item.reason.encode()),
                ("dlq-projection", self.projection.name.encode()),
                ("dlq-topic", record.topic.encode()),
                ("dlq-partition", str(record.partition).encode()),
                ("dlq-offset", str(record.offset).encode()),
            ]
            log.error(
                "dead-lettered a message",
                extra={"topic": record.topic, "offset": record.offset, "reason": item.reason},
            )
            sends.append(
                self.dead_letters.send(
                    dead_letter_topic(record.topic),
                    key=record.key,
                    value=record.value,
                    headers=headers,
                )
            )
        self.dead_letters.flush()
        for sent in sends:
            sent.get(timeout=0)

    def _rewind_to_checkpoints(self) -> None:
        assignment = list(self.consumer.assignment())
        if assignment:
            self._seek_to_checkpoints(assignment)

    def _export_lag(self) -> None:
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                lag = max(0, highwater - self.consumer.position(tp))
                PROJECTION_LAG.labels(self.projection.name, tp.topic, str(tp.partition)).set(lag)


def _record_of(records: Sequence[Any], event: Delivered) -> Any:
    return next(r for r in records if r.offset == event.offset)


def _span_context(event: Delivered) -> trace.SpanContext | None:
    if not event.traceparent:
        return None
    context = TraceContextTextMapPropagator().extract({"traceparent": event.traceparent})
    span_context = trace.get_current_span(context).get_span_context()
    return span_context if span_context.is_valid else None
