"""The log's feed: every event of every service's topic, from Kafka into the log.

`AuditLogProjection` is a Kafka-fed projection (the kit's `ProjectionRunner`, one
transaction per poll for the leaves, the subtree hashes and the consumer
checkpoint). The log needs two things the stock runner does not give a
projection, so `RawEventRunner` changes two of its steps:

* the bytes as received: the leaf is the CloudEvent canonicalised from the
  message value, attributes and data, not a model decoded (and upcast) from it;
  and every well-formed CloudEvent enters, of a type this catalogue knows or not
  (a producer deployed before the auditor must not leave a gap in the evidence).
  Canonicalising happens while decoding, on the consumer's thread, so it
  overlaps the writer's transaction.
* de-duplication by CloudEvent `source` and `id` (in `store.append`), instead of
  the runner's per-partition positions, which would silently skip an event
  whose position went backwards (a producer's store rebuilt, say).

`AuditFeed` is `KafkaProjections` running that runner.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from plimsoll_events.catalogue import EventData, topic_for
from plimsoll_events.projection import Delivered, ProjectionRunner, _Batch
from plimsoll_platform.projections import KafkaProjections, _close_quietly
from sqlalchemy import Connection

from plimsoll_audit.log import schema, store
from plimsoll_audit.log.leaves import Leaf, to_leaf

log = logging.getLogger(__name__)

LOGGED_SERVICES = ("allocation", "timesheet", "wellbeing", "notifications", "audit")


class _Raw(EventData):
    """Stands in for typed data: the log reads the leaf, never a decoded model."""


_RAW = _Raw()


@dataclass(slots=True)
class Received(Delivered):
    leaf: Leaf | None = None


class RawEventRunner(ProjectionRunner):
    def _decode(self, record: Any) -> Delivered:
        leaf = to_leaf(record.value)
        try:
            event_id = UUID(leaf.event_id)
        except ValueError:
            event_id = UUID(int=0)
        return Received(
            event_id=event_id,
            type=leaf.type,
            data=_RAW,
            subject=leaf.subject,
            time=leaf.time,
            source=leaf.source,
            position=0,
            traceparent=None,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            leaf=leaf,
        )

    def _fresh(self, conn: Connection, batch: _Batch) -> list[Delivered]:
        return list(batch.readable)  # `store.append` de-duplicates by source and id


class AuditLogProjection:
    """Appends each delivered event's leaf to the log, in delivery order."""

    def __init__(
        self, services: Sequence[str] = LOGGED_SERVICES, *, name: str = "audit-log"
    ) -> None:
        self.name = name
        self.topics: Sequence[str] = [topic_for(service) for service in services]

    def create(self, conn: Connection) -> None:
        schema.check(conn)  # created by the owner before the app starts

    def drop(self, conn: Connection) -> None:
        raise RuntimeError("the audit log is never dropped: it is rebuilt by nobody")

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        leaves = [event.leaf for event in events if isinstance(event, Received) and event.leaf]
        store.append(conn, leaves)


class _Subscribed:
    """The log's projection, subscribed to the topics that exist so far."""

    def __init__(self, projection: AuditLogProjection, topics: Sequence[str]) -> None:
        self.inner = projection
        self.name = projection.name
        self.topics: Sequence[str] = list(topics)

    def create(self, conn: Connection) -> None:
        self.inner.create(conn)

    def drop(self, conn: Connection) -> None:
        self.inner.drop(conn)

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        self.inner.apply(conn, events)


class AuditFeed(KafkaProjections):
    """`KafkaProjections` for the log: `RawEventRunner`, on the topics that exist.

    The kit's loop waits until every topic exists; a service not deployed yet
    (its topic absent) must not hold back the others' evidence, so this one
    subscribes to those present and looks again every `LOOK_SECONDS`, moving to
    the larger set when one appears (the consumer group seeks each partition to
    its own checkpoint, so nothing is read twice into the log or skipped).
    The kit's `KafkaProjections` takes no runner class yet (asked for), hence the loop.
    """

    LOOK_SECONDS = 30.0

    def _feed(self, projection: Any) -> None:
        while not self._stop.is_set():
            runner: ProjectionRunner | None = None
            try:
                missing = self._missing_topics(projection)
                present = [t for t in projection.topics if t not in missing]
                if not present:
                    self._stop.wait(self.retry_seconds)
                    continue
                if missing:
                    log.warning(
                        "%s reads %s; waits for %s", projection.name, present, sorted(missing)
                    )
                subscribed = _Subscribed(projection, present)
                runner = RawEventRunner(self.engine, subscribed, kafka=self.kafka)
                runner.create_schema()
                self._running[projection.name] = True
                self._run(runner, projection, set(present))
            except Exception:
                log.exception("%s failed; retrying in %ss", projection.name, self.retry_seconds)
                self._stop.wait(self.retry_seconds)
            finally:
                self._running[projection.name] = False
                if runner is not None:
                    _close_quietly(runner)

    def _run(self, runner: ProjectionRunner, projection: Any, present: set[str]) -> None:
        """Poll until stopped, or until a topic appears that is not subscribed yet."""
        look_at = time.monotonic() + self.LOOK_SECONDS
        while not self._stop.is_set():
            try:
                runner.poll_once()
            except Exception:
                log.exception("audit log batch failed; retried from the checkpoint")
                runner._rewind_to_checkpoints()
                self._stop.wait(1.0)
            if present != set(projection.topics) and time.monotonic() >= look_at:
                look_at = time.monotonic() + self.LOOK_SECONDS
                if set(projection.topics) - self._missing_topics(projection) != present:
                    return
