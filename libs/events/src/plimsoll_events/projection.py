"""The projection runner: Kafka topics in, read models in PostgreSQL out.

For each poll's batches of messages, in ONE database transaction, the runner
applies the events to the read model, records the highest source position it
applied from each producer on each partition, and records each partition's
next offset. Redelivery therefore changes nothing: an offset already recorded
is skipped on restart (the runner seeks to its own checkpoint), and an event at
or below a recorded position (a relay's resend) is not applied again. Decoding
runs ahead of the database on a writer thread, so Kafka, Python and PostgreSQL
work at the same time.

Guarantees:

* **Transient failures are retried, never dead-lettered.** A failure that says
  nothing about the events (the connection lost, a serialization failure or
  deadlock: `plimsoll_events.faults.is_transient`) rolls the transaction back;
  the runner rewinds to its checkpoints and tries again, with backoff.
* **Only an event's own fault dead-letters it.** A message that cannot be read
  (not a CloudEvent, unknown type, invalid data) or that the projection fails
  to apply deterministically (after the batch is retried event by event) goes
  to ``<topic>.dlq`` with the reason in a ``dlq-reason`` header beside its
  original headers. Dead letters are recorded in ``projection_dead_letters`` in
  the same transaction as the read model and published after it commits (and
  marked so; anything left unpublished by a crash is published on the next
  write), so a failed transaction leaves none, and a rebuild gives the same
  read model and the same set of dead letters as live, publishing none twice.
* **Each event applied once across a consumer group.** Partitions being revoked
  are drained first (their pending writes committed), and a batch is written
  only if its partition's stored checkpoint, read under a row lock, is still
  the offset the batch started from; otherwise the batch is skipped and the
  partition re-read from the stored checkpoint. No event is applied twice and
  no checkpoint moves back, even if two members briefly hold one partition.
* **Traces.** A batch is applied in one CONSUMER span (``process <topic>``)
  linked to each message's creation context (see `plimsoll_events.tracing`).
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
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind
from sqlalchemy import Connection, Engine, text

from plimsoll_events import tracing
from plimsoll_events.catalogue import CATALOGUE, Catalogue, EventData, dead_letter_topic
from plimsoll_events.envelope import TypedEnvelopes, decode
from plimsoll_events.faults import is_transient
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.metrics import (
    PROJECTION_EVENTS,
    PROJECTION_LAG,
    PROJECTION_REJOINS,
    PROJECTION_RETRIES,
)

log = logging.getLogger(__name__)
tracer = trace.get_tracer("plimsoll_events.projection")

MAX_PENDING_WRITES = 2  # batches decoded ahead of the database: enough to overlap, bounded
FIRST_RETRY_SECONDS = 0.2
# kafka-python refreshes a consumer's metadata every 5 minutes by default; a group leader that
# assigned from stale metadata (a topic it did not know yet) rebalances only after a refresh.
METADATA_MAX_AGE_MS = 10_000
# How long a new runner waits for its consumer's metadata to know every topic before joining.
KNOWN_TOPICS_SECONDS = 30.0
LAST_RETRY_SECONDS = 10.0  # backoff ceiling: well inside Kafka's max poll interval
# A partition behind its end whose position has not moved for this long is stuck in the
# client: the runner leaves the group and joins again (see `_rejoin_if_stuck`).
STUCK_SECONDS = 60.0
DEAD_LETTERS_PER_PUBLISH = 1000
FROM_THE_BEGINNING = -1  # a checkpoint row of a partition nothing was applied from yet

SCHEMA = """
-- next_offset -1: from the beginning of the partition.
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
-- Written with the read model; published to <topic>.dlq after it commits. A rebuild marks
-- them not current; the replay marks again those it dead-letters again.
create table if not exists projection_dead_letters (
    projection    text not null,
    topic         text not null,
    partition     integer not null,
    "offset"      bigint not null,
    key           bytea,
    value         bytea,
    header_names  text[] not null,
    header_values bytea[] not null,
    reason        text not null,
    recorded_at   timestamptz not null default now(),
    published_at  timestamptz,
    current       boolean not null default true,
    primary key (projection, topic, partition, "offset")
);
"""
# Checkpoint rows exist before they are locked: two members' first batches of one partition
# then serialise on the row instead of both inserting it.
ENSURE_CHECKPOINTS = """
insert into projection_checkpoints
select :name, t, p, -1 from unnest(cast(:topics as text[]), cast(:partitions as int[])) as u(t, p)
on conflict do nothing
"""
LOCK_CHECKPOINTS = """
select c.topic, c.partition, c.next_offset
from projection_checkpoints c
join unnest(cast(:topics as text[]), cast(:partitions as int[])) as u(t, p)
  on c.topic = u.t and c.partition = u.p
where c.projection = :name
order by c.topic, c.partition
for update of c
"""
RECORD_DEAD_LETTER = """
insert into projection_dead_letters
    (projection, topic, partition, "offset", key, value, header_names, header_values, reason)
values (:name, :topic, :partition, :offset, :key, :value, cast(:header_names as text[]),
        cast(:header_values as bytea[]), :reason)
on conflict (projection, topic, partition, "offset") do update set
    current = true,
    reason = excluded.reason,
    -- The same dead letter again (a replay) is not published again; another reason is.
    published_at = case when projection_dead_letters.reason = excluded.reason
                        then projection_dead_letters.published_at end
"""
UNPUBLISHED_DEAD_LETTERS = """
select topic, partition, "offset", key, value, header_names, header_values, reason
from projection_dead_letters
where projection = :name and current and published_at is null
order by topic, partition, "offset"
limit :limit
"""
MARK_PUBLISHED = """
update projection_dead_letters d set published_at = now()
from unnest(cast(:topics as text[]), cast(:partitions as int[]), cast(:offsets as bigint[]))
     as u(t, p, o)
where d.projection = :name and d.topic = u.t and d.partition = u.p and d."offset" = u.o
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
    # The message's creation context (the relay's send span), when it has one.
    message_traceparent: str | None = None
    # Who caused it and which piece of work it belongs to (the CloudEvent's `actor` and
    # `correlationid`), so that what a consumer records in turn joins the same correlation.
    correlation_id: UUID | None = None
    actor: str | None = None


class Projection(Protocol):
    """A read model fed by events. ``apply`` runs inside the runner's transaction."""

    @property
    def name(self) -> str:
        """The read model's name: its consumer group, its checkpoints' key."""
        ...

    @property
    def topics(self) -> Sequence[str]: ...

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
    start: int  # the partition's checkpoint this batch continues from (-1: the beginning)


@dataclass(frozen=True)
class _Written:
    offsets: dict[TopicPartition, int]  # the next offset of each partition written
    stale: set[TopicPartition]  # partitions whose checkpoint had moved on: skipped


class _SeekToCheckpoint(ConsumerRebalanceListener):  # type: ignore[misc]
    """Drain before partitions go, seek to the checkpoints when they come. Never raises:
    kafka-python would fail the poll; anything missed here the checkpoint check catches."""

    def __init__(self, runner: ProjectionRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        self.runner._drain(revoked)

    def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        try:
            self.runner._seek_to_checkpoints(assigned)
        except Exception:
            log.warning("could not seek to the checkpoints; the writes will", exc_info=True)


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
            group_id=f"projection-{projection.name}",  # = self.group
            client_id=f"projection-{projection.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=max_batch,
            max_partition_fetch_bytes=4 * 1024 * 1024,  # fewer, larger fetches
            isolation_level="read_committed",
            metadata_max_age_ms=METADATA_MAX_AGE_MS,
        )
        self.group = f"projection-{projection.name}"
        self.dead_letters = KafkaProducer(**kafka.options(), enable_idempotence=True, acks="all")
        self._subscribed = False
        self._typed = TypedEnvelopes(catalogue)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{projection.name}")
        self._writes: list[Future[_Written]] = []
        # Highest source position applied, per partition and source: the writer's own.
        self._high_water: dict[TopicPartition, dict[str, int]] = {}
        # Where each partition's next batch starts: its checkpoint, as this runner last saw it.
        self._fetch_from: dict[TopicPartition, int] = {}
        self._failed = False
        self._retry_seconds = FIRST_RETRY_SECONDS
        self._dead_letters_pending = True  # anything a crash left unpublished goes first
        # Per partition: the position last seen and since when it has been behind without moving.
        self._stuck: dict[TopicPartition, tuple[int, float]] = {}
        self._next_stuck_check = 0.0
        self._last_poll = 0.0

    # --- schema and rebuild ------------------------------------------------------------------

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(SCHEMA)
            self.projection.create(conn)

    def rebuild(self) -> None:
        """Drop the read model and forget every checkpoint: the next run replays from the start.

        Run it with the runner stopped; the replay gives the same read model as
        the live one, because the same events are applied in the same order, and
        the same dead letters (kept, marked not current until dead-lettered again,
        and not published twice).
        """
        self.flush()
        self._writer.submit(self._high_water.clear).result()
        name = {"name": self.projection.name}
        with self.engine.begin() as conn:
            self.projection.drop(conn)
            for table in ("projection_checkpoints", "projection_positions"):
                conn.execute(
                    text(f"delete from {table} where projection = :name"),  # noqa: S608
                    name,
                )
            conn.execute(
                text("update projection_dead_letters set current = false where projection = :name"),
                name,
            )
            self.projection.create(conn)
        self._rewind_to_checkpoints()

    # --- consuming ---------------------------------------------------------------------------

    def _ensure_subscribed(self) -> None:
        if not self._subscribed:
            self.consumer.subscribe(list(self.projection.topics), listener=_SeekToCheckpoint(self))
            self._await_known_topics()
            self._subscribed = True

    def _await_known_topics(self) -> None:
        """Wait (bounded) until the consumer's metadata lists every subscribed topic, before
        the first poll joins the group.

        kafka-python (3.0.12) judges "the topics' partitions changed" by a snapshot taken from
        metadata updates after `subscribe`. A leader that joins before such an update assigns
        from an empty snapshot and rejoins as soon as the update lands; if a poll's timeout
        runs out while that second join is in flight, the library never applies its result
        and every partition stays unfetchable (revocation pending) until the next rebalance:
        the runner stops with lag. `topics()` fetches the metadata synchronously (after any
        request in flight), which brings the snapshot up to date before the join.
        """
        deadline = time.monotonic() + KNOWN_TOPICS_SECONDS
        while True:
            known = self.consumer.topics()
            unknown = sorted(t for t in self.projection.topics if t not in known)
            if not unknown:
                return
            if time.monotonic() >= deadline:
                log.warning(
                    "projection %s subscribes before Kafka lists %s",
                    self.projection.name,
                    unknown,
                )
                return
            time.sleep(0.2)

    def _seek_to_checkpoints(self, assigned: Sequence[TopicPartition]) -> None:
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
            offset = checkpoints.get(tp, FROM_THE_BEGINNING)
            if offset >= 0:
                self.consumer.seek(tp, offset)
            else:
                self.consumer.seek_to_beginning(tp)
            self._fetch_from[tp] = offset

    def poll_once(self, timeout_ms: int = 500) -> int:
        """Read one poll's worth of messages and queue their writes; returns how many.

        Decoding happens here while the writer thread commits earlier batches, so
        PostgreSQL's time overlaps Kafka's and Python's. A failed write stops all
        writes after it; the next call rewinds to the checkpoints and, if the
        failure was transient, waits (with backoff) and carries on; else raises.
        """
        self._ensure_subscribed()
        self._settle(wait=False)
        batches = self.consumer.poll(timeout_ms=timeout_ms)
        if batches:
            decoded = []
            for tp, records in batches.items():
                start = self._fetch_from.get(tp, records[0].offset)
                self._fetch_from[tp] = records[-1].offset + 1
                decoded.append(_Batch(tp, records, *self._decode_all(records), start))
            self._writes.append(self._writer.submit(self._write, decoded))
        while len(self._writes) > MAX_PENDING_WRITES:
            self._settle(wait=True, keep=MAX_PENDING_WRITES)
        self._export_lag()
        self._rejoin_if_stuck()
        return sum(len(records) for records in batches.values())

    def _settle(self, *, wait: bool, keep: int = 0, draining: bool = False) -> None:
        """Collect finished writes (all but ``keep`` when waiting); on failure rewind, then
        retry later (transient) or raise. ``draining``: in a rebalance, neither wait nor
        seek (the partitions are going; the next owner starts from the checkpoint)."""
        while self._writes and (self._writes[0].done() or (wait and len(self._writes) > keep)):
            write = self._writes.pop(0)
            try:
                written = write.result()
            except Exception as exc:
                for later in self._writes:  # they see the failure and write nothing
                    later.exception()
                self._writes.clear()
                self._failed = False
                if draining:
                    raise
                if not is_transient(exc):
                    self._rewind_to_checkpoints()
                    raise
                PROJECTION_RETRIES.labels(self.projection.name).inc()
                log.warning(
                    "projection %s: transient failure, retrying from the checkpoint in %.1fs",
                    self.projection.name,
                    self._retry_seconds,
                    exc_info=True,
                )
                time.sleep(self._retry_seconds)
                self._retry_seconds = min(self._retry_seconds * 2, LAST_RETRY_SECONDS)
                self._rewind_to_checkpoints()
                return
            self._retry_seconds = FIRST_RETRY_SECONDS
            if written.stale and not draining:
                log.info(
                    "projection %s: %s moved on elsewhere; reading from the checkpoint",
                    self.projection.name,
                    sorted(map(tuple, written.stale)),
                )
                self._seek_to_checkpoints([tp for tp in written.stale if tp in self._assigned()])
            # Kafka's committed offset is only a hint for tools; the checkpoint is the truth.
            if written.offsets and not draining:
                self.consumer.commit_async(
                    {
                        tp: OffsetAndMetadata(offset, "", -1)
                        for tp, offset in written.offsets.items()
                    }
                )

    def _drain(self, revoked: Sequence[TopicPartition]) -> None:
        """Commit every pending write before partitions are revoked, so that their next owner
        starts from checkpoints that include everything this runner read."""
        try:
            self._settle(wait=True, draining=True)
        except Exception:
            log.warning(
                "projection %s: a pending write failed while partitions were revoked; "
                "their next owner starts from the checkpoint",
                self.projection.name,
                exc_info=True,
            )
        for tp in revoked:
            self._fetch_from.pop(tp, None)

    def _assigned(self) -> set[TopicPartition]:
        return set(self.consumer.assignment())

    def run(self, stop: threading.Event) -> None:
        """Poll and write until ``stop`` is set; failures are retried from the checkpoints."""
        while not stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("projection batch failed; it will be retried from the checkpoint")
                stop.wait(1.0)
                try:
                    self._rewind_to_checkpoints()
                except Exception:  # the database may still be away: the next write re-seeks
                    log.warning("could not rewind to the checkpoints", exc_info=True)

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
        """Wait until every batch read so far is written (or raise its failure; a transient
        one is retried by the next poll instead)."""
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

    def _write(self, batches: list[_Batch]) -> _Written:
        """One poll's batches in one transaction; runs on the writer thread, in order."""
        if self._failed:
            raise RuntimeError("an earlier batch failed; this one waits for the rewind")
        try:
            written, dead_lettered = self._write_batches(batches)
        except Exception:
            self._failed = True
            self._high_water.clear()  # reloaded from the database after the rewind
            raise
        if dead_lettered or self._dead_letters_pending:
            self._publish_dead_letters()
        return written

    def _write_batches(self, batches: list[_Batch]) -> tuple[_Written, int]:
        name = self.projection.name
        topics = sorted({b.tp.topic for b in batches})
        messages = sum(len(b.records) for b in batches)
        attributes: dict[str, str | int] = {
            tracing.MESSAGING_SYSTEM: tracing.KAFKA,
            tracing.MESSAGING_OPERATION_TYPE: "process",
            tracing.MESSAGING_OPERATION_NAME: "process",
            tracing.MESSAGING_CONSUMER_GROUP_NAME: self.group,
            tracing.MESSAGING_BATCH_MESSAGE_COUNT: messages,
        }
        if len(topics) == 1:
            attributes[tracing.MESSAGING_DESTINATION_NAME] = topics[0]
        if len(batches) == 1:
            attributes[tracing.MESSAGING_DESTINATION_PARTITION_ID] = str(batches[0].tp.partition)
        with (
            tracer.start_as_current_span(
                f"process {','.join(topics)}",
                kind=SpanKind.CONSUMER,
                links=_links(batches),
                attributes=attributes,
            ),
            self.engine.begin() as conn,
        ):
            current, stale = self._claim(conn, batches)
            fresh = [event for batch in current for event in self._fresh(conn, batch)]
            failed = self._apply(conn, fresh)
            offsets_of = {(b.tp.topic, b.tp.partition): b.records for b in current}
            rejected = [item for batch in current for item in batch.rejected]
            rejected.extend(
                _Rejected(_record_of(offsets_of[(d.topic, d.partition)], d), reason)
                for d, reason in failed
            )
            # Recorded with the read model: a rolled-back batch leaves no dead letter.
            self._record_dead_letters(conn, rejected)
            offsets = {b.tp: b.records[-1].offset + 1 for b in current}
            self._save_progress(conn, offsets)
        readable = sum(len(b.readable) for b in current)
        PROJECTION_EVENTS.labels(name, "applied").inc(len(fresh) - len(failed))
        PROJECTION_EVENTS.labels(name, "duplicate").inc(readable - len(fresh))
        PROJECTION_EVENTS.labels(name, "dead-lettered").inc(len(rejected))
        if stale:
            skipped = sum(len(b.records) for b in batches if b.tp in stale)
            PROJECTION_EVENTS.labels(name, "skipped-stale").inc(skipped)
        return _Written(offsets, stale), len(rejected)

    def _claim(
        self, conn: Connection, batches: list[_Batch]
    ) -> tuple[list[_Batch], set[TopicPartition]]:
        """Lock the batches' checkpoint rows; the batches that start where their partition's
        checkpoint still is, and the partitions whose checkpoint moved on (stale)."""
        new = [b.tp for b in batches if b.start < 0]
        if new:
            conn.execute(
                text(ENSURE_CHECKPOINTS),
                {
                    "name": self.projection.name,
                    "topics": [tp.topic for tp in new],
                    "partitions": [tp.partition for tp in new],
                },
            )
        rows = conn.execute(
            text(LOCK_CHECKPOINTS),
            {
                "name": self.projection.name,
                "topics": [b.tp.topic for b in batches],
                "partitions": [b.tp.partition for b in batches],
            },
        ).all()
        stored = {TopicPartition(t, p): o for t, p, o in rows}
        current = [b for b in batches if stored.get(b.tp) == b.start]
        stale = {b.tp for b in batches} - {b.tp for b in current}
        for tp in stale:
            self._high_water.pop(tp, None)  # another member moved it: reread the marks
        return current, stale

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
            # Only a traced event was sent with a traceparent header.
            message_traceparent=_header(record.headers, "traceparent")
            if envelope.traceparent
            else None,
            correlation_id=envelope.correlationid,
            actor=envelope.actor,
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
        """Apply all at once; if that fails deterministically, one by one, to set the poison
        aside. A transient failure raises: the whole write is retried, nobody is blamed."""
        if not events:
            return []
        try:
            with conn.begin_nested():
                self.projection.apply(conn, events)
            return []
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning("batch apply failed; applying one event at a time", exc_info=True)
        failed = []
        for event in events:
            try:
                with conn.begin_nested():
                    self.projection.apply(conn, [event])
            except Exception as exc:
                if is_transient(exc):
                    raise
                failed.append((event, f"apply failed: {type(exc).__name__}: {exc}"))
        return failed

    def _record_dead_letters(self, conn: Connection, rejected: list[_Rejected]) -> None:
        if not rejected:
            return
        conn.execute(
            text(RECORD_DEAD_LETTER),
            [
                {
                    "name": self.projection.name,
                    "topic": item.record.topic,
                    "partition": item.record.partition,
                    "offset": item.record.offset,
                    "key": item.record.key,
                    "value": item.record.value,
                    "header_names": [name for name, _ in item.record.headers or []],
                    "header_values": [value for _, value in item.record.headers or []],
                    "reason": item.reason,
                }
                for item in rejected
            ],
        )
        for item in rejected:
            log.error(
                "dead-lettered a message",
                extra={
                    "topic": item.record.topic,
                    "offset": item.record.offset,
                    "reason": item.reason,
                },
            )

    def _publish_dead_letters(self) -> None:
        """Publish the recorded dead letters not published yet, and mark them published.

        At least once: a crash between Kafka's acknowledgement and the mark sends one
        again, with the same ``dlq-topic``/``dlq-partition``/``dlq-offset`` headers. A
        failure here fails no write (the read model has committed): it is retried on
        the next write.
        """
        name = self.projection.name
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    text(UNPUBLISHED_DEAD_LETTERS),
                    {"name": name, "limit": DEAD_LETTERS_PER_PUBLISH},
                ).all()
            sends = []
            for topic, partition, offset, key, value, names, values, reason in rows:
                headers = [
                    *zip(names, map(bytes, values), strict=True),
                    ("dlq-reason", reason.encode()),
                    ("dlq-projection", name.encode()),
                    ("dlq-topic", topic.encode()),
                    ("dlq-partition", str(partition).encode()),
                    ("dlq-offset", str(offset).encode()),
                ]
                sends.append(
                    self.dead_letters.send(
                        dead_letter_topic(topic),
                        key=None if key is None else bytes(key),
                        value=None if value is None else bytes(value),
                        headers=headers,
                    )
                )
            self.dead_letters.flush()
            for sent in sends:
                sent.get(timeout=30)
            if rows:
                with self.engine.begin() as conn:
                    conn.execute(
                        text(MARK_PUBLISHED),
                        {
                            "name": name,
                            "topics": [r[0] for r in rows],
                            "partitions": [r[1] for r in rows],
                            "offsets": [r[2] for r in rows],
                        },
                    )
            self._dead_letters_pending = len(rows) == DEAD_LETTERS_PER_PUBLISH
        except Exception:
            self._dead_letters_pending = True
            log.exception("projection %s: dead letters not published yet; will retry", name)

    def _rewind_to_checkpoints(self) -> None:
        assignment = list(self.consumer.assignment())
        if assignment:
            self._seek_to_checkpoints(assignment)

    def _rejoin_if_stuck(self) -> None:
        """Leave the group and join again when a partition stays behind its end without moving.

        A safety net for the client, not for the database (whose failures move the position
        back to the checkpoint): kafka-python 3.x has left partitions unfetchable after a
        rebalance (see `_await_known_topics`), and nothing but a new assignment frees them.
        The ends are asked for a few times a minute; time between polls does not count.
        """
        now = time.monotonic()
        if now - self._last_poll > STUCK_SECONDS / 4:
            self._stuck.clear()  # not polled for a while: judge afresh
        self._last_poll = now
        if now < self._next_stuck_check:
            return
        self._next_stuck_check = now + STUCK_SECONDS / 4
        assignment = list(self.consumer.assignment())
        if not assignment:
            return  # nothing to be stuck (between an unsubscribe and the next join)
        try:
            ends = self.consumer.end_offsets(assignment, timeout_ms=5000)
        except KafkaError:
            return  # Kafka is away: nothing is fetched, nothing to judge
        stuck = []
        for tp in assignment:
            position = self.consumer.position(tp, timeout_ms=0) or 0  # None: being reset
            seen = self._stuck.get(tp)
            if position >= ends.get(tp, 0) or (seen and seen[0] != position):
                self._stuck.pop(tp, None)
            elif seen is None:
                self._stuck[tp] = (position, now)
            elif now - seen[1] > STUCK_SECONDS:
                stuck.append(tp)
        if not stuck:
            return
        log.warning(
            "projection %s: %s behind and not moving for %.0fs; joining the group again",
            self.projection.name,
            sorted(map(tuple, stuck)),
            STUCK_SECONDS,
        )
        PROJECTION_REJOINS.labels(self.projection.name).inc()
        self._drain(assignment)
        self.consumer.unsubscribe()  # leaves the group; the next poll subscribes afresh
        self._subscribed = False
        self._stuck.clear()

    def _export_lag(self) -> None:
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is not None:
                lag = max(0, highwater - self.consumer.position(tp))
                PROJECTION_LAG.labels(self.projection.name, tp.topic, str(tp.partition)).set(lag)


def _record_of(records: Sequence[Any], event: Delivered) -> Any:
    return next(r for r in records if r.offset == event.offset)


def _header(headers: Sequence[tuple[str, bytes]] | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name:
            return value.decode("ascii", "replace")
    return None


def _links(batches: Sequence[_Batch]) -> list[Link]:
    """Links to the messages' creation contexts (the header, else the recorded span), at most
    as many as a span keeps."""
    links: list[Link] = []
    for batch in batches:
        for event in batch.readable:
            traceparent = event.message_traceparent or event.traceparent
            if not traceparent:
                continue  # most events of a bulk import: no trace to link
            context = tracing.span_context_of(traceparent)
            if context is not None:
                links.append(Link(context))
                if len(links) == tracing.MAX_LINKS:
                    return links
    return links
