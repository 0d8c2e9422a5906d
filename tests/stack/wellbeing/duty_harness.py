"""A duty-of-care model on a scratch database, fed from test topics of the real Kafka.

`Feed` publishes events to three topics of its own (`<prefix>.allocation`, `.timesheet`,
`.wellbeing`, each with its `.dlq`) exactly as the relays do (CloudEvents built by
`envelope.to_cloudevent`, keyed by the practitioner, a position per source), as the stack's
admin. `Model` is the wellbeing service's duty-of-care parts on a scratch database: the
projection under a `ProjectionRunner`, the breach recorder and the breaches read model, with a
clock the test may hold. Nothing here touches the shared services' topics or databases.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import sqlalchemy
from kafka import KafkaProducer
from plimsoll_events.catalogue import EventData
from plimsoll_events.envelope import encode, to_cloudevent
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.projection import ProjectionRunner
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.records import Metadata, RecordedEvent, new_event_id
from plimsoll_events.store import EventStore
from plimsoll_events.topics import ensure_event_topic
from plimsoll_platform.clock import Clock, FixedClock, SystemClock
from plimsoll_wellbeing.breaches import TYPES, BreachesReadModel
from plimsoll_wellbeing.duty_projection import MODEL_TABLES, DutyOfCareProjection
from plimsoll_wellbeing.recorder import BreachRecorder

SERVICES = ("allocation", "timesheet", "wellbeing")


@contextlib.contextmanager
def scratch_databases(port: int, count: int) -> Iterator[list[str]]:
    """`count` new, empty databases (SQLAlchemy URLs), dropped afterwards."""
    names = [f"scratch_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    admin = f"postgresql://plimsoll@127.0.0.1:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(f'create database "{name}"')
    try:
        yield [f"postgresql+psycopg://plimsoll@127.0.0.1:{port}/{name}" for name in names]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for name in names:
                conn.execute(f'drop database if exists "{name}" with (force)')


class Feed:
    """Test topics, published to as the relays publish."""

    def __init__(self, kafka: KafkaAccess, prefix: str | None = None) -> None:
        self.prefix = prefix or f"test-duty-{uuid.uuid4().hex[:10]}"
        self.topics = {service: f"{self.prefix}.{service}" for service in SERVICES}
        for topic in self.topics.values():
            ensure_event_topic(kafka, topic, partitions=3)
        self.producer = KafkaProducer(**kafka.options(), acks="all", enable_idempotence=True)
        self.positions: Counter[str] = Counter()
        self.sent = 0

    def send(
        self, service: str, data: EventData, at: datetime, key: str | None = None
    ) -> RecordedEvent:
        self.positions[service] += 1
        position = self.positions[service]
        stream = key or data.subject or f"{data.type}-{position}"
        recorded = RecordedEvent(
            position=position,
            stream_id=stream,
            stream_version=position,
            event_id=new_event_id(),
            type=data.type,
            version=data.version,
            subject=data.subject,
            data=data.model_dump(mode="json"),
            metadata=Metadata(actor="test", correlation_id=uuid.uuid4()),
            recorded_at=at,
        )
        self.raw(service, encode(to_cloudevent(recorded, f"/plimsoll/{service}")), stream)
        return recorded

    def raw(self, service: str, value: bytes, key: str = "garbage") -> None:
        self.producer.send(
            self.topics[service],
            key=key.encode(),
            value=value,
            headers=[("content-type", b"application/cloudevents+json")],
        )
        self.sent += 1

    def resend(self, service: str, recorded: RecordedEvent) -> None:
        """The same event again, as a relay resends after a crash."""
        self.raw(
            service, encode(to_cloudevent(recorded, f"/plimsoll/{service}")), recorded.stream_id
        )

    def flush(self) -> None:
        self.producer.flush(timeout=60)

    def close(self) -> None:
        self.producer.close()


class Model:
    """The duty-of-care parts of the wellbeing service on one database (see the module)."""

    def __init__(
        self,
        url: str,
        kafka: KafkaAccess,
        topics: list[str],
        *,
        name: str | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.engine = sqlalchemy.create_engine(url)
        self.store = EventStore(self.engine)
        self.store.create_schema()
        self.clock = clock or SystemClock()
        self.breaches = StoreFedReadModel(self.engine, self.store, BreachesReadModel(), types=TYPES)
        self.recorder = BreachRecorder(self.engine, self.store, self.breaches, self.clock)
        self.projection = DutyOfCareProjection(
            name=name or f"wellbeing-duty-test-{uuid.uuid4().hex[:8]}",
            topics=topics,
        )
        self.runner = ProjectionRunner(self.engine, self.projection, kafka=kafka)
        self.runner.create_schema()
        self.recorder.create_schema()
        self.breaches.create_schema()

    def catch_up(self, timeout_seconds: float = 120) -> list[RecordedEvent]:
        self.runner.run_until_caught_up(timeout_seconds)
        return self.recorder.drain()

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the read model proper, sorted."""
        with self.engine.connect() as conn:
            return {
                table: sorted(map(tuple, conn.exec_driver_sql(f"select * from {table}")))
                for table in MODEL_TABLES
            }

    def breach_events(self) -> list[RecordedEvent]:
        return [e for e in self.store.read_all(0, 1_000_000) if e.type.startswith("breach-")]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.runner.close()
        self.store.close()
        self.engine.dispose()


def fixed_clock(at: datetime) -> FixedClock:
    return FixedClock(at.astimezone(UTC))
