"""The projection runner: Kafka topics in, read models in PostgreSQL out.

For each batch of messages from one partition, in ONE database transaction, the
runner applies the events to the read model, records their ids as processed
and records the partition's next offset. Redelivery therefore changes nothing:
an offset already recorded is skipped on restart (the runner seeks to its own
checkpoint), and an event id already processed (a relay resend) is not applied
again.

A message that cannot be read (not a CloudEvent, unknown type, invalid data)
or that the projection fails to apply goes to ``<topic>.dlq`` with the reason
and its original headers; the runner carries on with the next one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
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
from plimsoll_events.envelope import CloudEvent, decode
from plimsoll_events.metrics import PROJECTION_EVENTS, PROJECTION_LAG

log = logging.getLogger(__name__)
tracer = trace.get_tracer("plimsoll_events.projection")

SCHEMA = """
create table if not exists projection_checkpoints (
    projection  text not null,
    topic       text not null,
    partition   integer not null,
    next_offset bigint not null,
    primary key (projection, topic, partition)
);
create table if not exists projection_processed (
    projection text not null,
    event_id   uuid not null,
    primary key (projection, event_id)
);
"""


@dataclass(frozen=True)
class Delivered:
    """An event as a projection sees it: decoded, upcast to its latest version."""

    event_id: UUID
    type: str
    data: EventData
    subject: str | None
    time: datetime
    envelope: CloudEvent
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
        bootstrap: str,
        catalogue: Catalogue = CATALOGUE,
        max_batch: int = 5000,
    ) -> None:
        self.engine = engine
        self.projection = projection
        self.catalogue = catalogue
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=f"projection-{projection.name}",
            client_id=f"projection-{projection.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            isolation_level="read_committed",
        )
        self.dead_letters = KafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all"
        )
        self._subscribed = False

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
        with self.engine.begin() as conn:
            self.projection.drop(conn)
            for table in ("projection_checkpoints", "projection_processed"):
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
        for tp in assigned:
            if tp in checkpoints:
                self.consumer.seek(tp, checkpoints[tp])
            else:
                self.consumer.seek_to_beginning(tp)

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Handle one poll's worth of messages; returns how many were handled."""
        self._ensure_subscribed()
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        for tp, records in batches.items():
            self._handle(tp, records)
        self._export_lag()
        return sum(len(records) for records in batches.values())

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
            if self.consumer.assignment() and self.lag() == 0:
                return
        raise TimeoutError(
            f"projection {self.projection.name} did not catch up within {timeout_seconds:g}s: "
            f"assigned {sorted(map(tuple, self.consumer.assignment()))}, lag {self.lag()}"
        )

    def lag(self) -> int:
        assignment = self.consumer.assignment()
        ends = self.consumer.end_offsets(list(assignment))
        return sum(max(0, ends[tp] - self.consumer.position(tp)) for tp in assignment)

    def close(self) -> None:
        self.consumer.close()
        self.dead_letters.close()

    # --- one partition's batch ---------------------------------------------------------------

    def _handle(self, tp: TopicPartition, records: Sequence[Any]) -> None:
        readable: list[Delivered] = []
        rejected: list[_Rejected] = []
        for record in records:
            try:
                readable.append(self._decode(record))
            except Exception as exc:  # anything unreadable goes to the dead letters
                rejected.append(_Rejected(record, f"unreadable: {type(exc).__name__}: {exc}"))
        links = [Link(c) for c in (_span_context(d) for d in readable) if c is not None]
        with (
            tracer.start_as_current_span(
                f"process {tp.topic}", kind=trace.SpanKind.CONSUMER, links=links
            ),
            self.engine.begin() as conn,
        ):
            fresh = self._claim(conn, readable)
            failed = self._apply(conn, fresh)
            rejected.extend(_Rejected(_record_of(records, d), reason) for d, reason in failed)
            if failed:
                self._unclaim(conn, [d for d, _ in failed])
            # Dead letters are durable before the checkpoint moves past them.
            self._send_dead_letters(tp.topic, rejected)
            next_offset = records[-1].offset + 1
            conn.execute(
                text(
                    "insert into projection_checkpoints values (:name, :topic, :partition, :next) "
                    "on conflict (projection, topic, partition) "
                    "do update set next_offset = excluded.next_offset"
                ),
                {
                    "name": self.projection.name,
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "next": next_offset,
                },
            )
        # Kafka's committed offset is only a hint for tools; the checkpoint above is the truth.
        self.consumer.commit_async({tp: OffsetAndMetadata(next_offset, "", -1)})
        name = self.projection.name
        PROJECTION_EVENTS.labels(name, "applied").inc(len(fresh) - len(failed))
        PROJECTION_EVENTS.labels(name, "duplicate").inc(len(readable) - len(fresh))
        PROJECTION_EVENTS.labels(name, "dead-lettered").inc(len(rejected))

    def _decode(self, record: Any) -> Delivered:
        envelope = decode(record.value)
        type_, version = envelope.event_type, envelope.event_version
        data = self.catalogue.decode(type_, version, envelope.data)
        return Delivered(
            event_id=envelope.id,
            type=type_,
            data=data,
            subject=envelope.subject,
            time=envelope.time,
            envelope=envelope,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
        )

    def _claim(self, conn: Connection, events: list[Delivered]) -> list[Delivered]:
        """Record the events as processed; returns those not processed before."""
        if not events:
            return []
        claimed = conn.execute(
            text(
                "insert into projection_processed (projection, event_id) "
                "select :name, unnest(cast(string_to_array(:ids, ',') as uuid[])) "
                "on conflict do nothing returning event_id::text"
            ),
            # One string rather than a list of UUIDs: adapting thousands of values is slow.
            {"name": self.projection.name, "ids": ",".join(str(e.event_id) for e in events)},
        )
        new_ids = {UUID(row[0]) for row in claimed}
        fresh, seen = [], set()
        for event in events:
            # The same event twice in one batch: only the first counts.
            if event.event_id in new_ids and event.event_id not in seen:
                fresh.append(event)
                seen.add(event.event_id)
        return fresh

    def _unclaim(self, conn: Connection, events: list[Delivered]) -> None:
        conn.execute(
            text(
                "delete from projection_processed where projection = :name "
                "and event_id = any(cast(:ids as uuid[]))"
            ),
            {"name": self.projection.name, "ids": [e.event_id for e in events]},
        )

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

    def _send_dead_letters(self, topic: str, rejected: list[_Rejected]) -> None:
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
                    dead_letter_topic(topic), key=record.key, value=record.value, headers=headers
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
    traceparent = event.envelope.traceparent
    if not traceparent:
        return None
    context = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    span_context = trace.get_current_span(context).get_span_context()
    return span_context if span_context.is_valid else None
