"""The reconciliation run after each fault: what the API acknowledged against what the event
store, the Kafka topic and the read models hold. Code, not eyes: `reconcile` returns every
discrepancy in words, and a test fails on any.

The rules:

* **Store.** Every acknowledged write (some attempt answered 2xx) has its event exactly once
  in its stream; a write that only got errors or timeouts has it at most once (absent or
  present, never twice), whatever its retries. A write retried with the same Idempotency-Key
  gets the first answer back: the reduction its first 2xx named is the one recorded. No
  write is ever refused (4xx): a retry after a lost reply must not be told "already
  registered". Positions are dense from 1 (no gap, none twice).
* **Kafka, at least once.** Every event in the store (each write's, and the capacity figures
  the process manager appended) is on the service's topic. A duplicate is allowed only as a
  *resend* of the same event: every copy of an event id carries the same position, stream
  and stream version, and on each key, in offset order, a message at or below the highest
  position already seen on that key must be a copy of an event already seen there. That is
  exactly what consumers de-duplicate (the projection runner skips an event at or below the
  position it recorded for the partition and producer), so a consumer applies each event once,
  in order. A new event id at an old position, or a position out of order, is a failure.
  Messages of events not in this store (another test's database on the same broker) are
  ignored.
* **Read models, exactly once.** Every registration in the store is one row of
  `caseload_practitioners`, every case opened one row of `caseload_cases`, and the rows hold
  nothing the store does not; the capacity process manager appended exactly one
  `capacity-changed` caused by each registration and each reduction (none missing, none
  twice, across its own crash); nothing is parked by a read model or the relay.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from kafka import KafkaConsumer, TopicPartition
from plimsoll_events.kafka import KafkaAccess

from .load import Write

EVENT_TYPES = {
    "registration": {"practitioner-registered"},
    "reduction": {"reduction-started", "reduction-scheduled"},
    "case": {"case-opened"},
}
CAUSES = ("practitioner-registered", "reduction-started", "reduction-scheduled")


@dataclass(frozen=True)
class Stored:
    position: int
    event_id: UUID
    stream_id: str
    stream_version: int
    type: str
    data: dict[str, Any]


def conninfo(database_url: str) -> str:
    return database_url.replace("postgresql+psycopg://", "postgresql://")


def stored_events(database_url: str) -> list[Stored]:
    with psycopg.connect(conninfo(database_url)) as conn:
        rows = conn.execute(
            "select position, event_id, stream_id, stream_version, type, data "
            "from events order by position"
        ).fetchall()
    return [Stored(*row) for row in rows]


def wait_until_settled(database_url: str, topic: str, seconds: float = 90) -> None:
    """Until the capacity process manager has caught up with every registration and
    reduction, and the relay has published everything the store holds (then the rest is
    only Kafka's delivery to us). Times out quietly: the checks then say what is missing."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            events = stored_events(database_url)
            causes = {e.data.get("cause_event_id") for e in events if e.type == "capacity-changed"}
            waiting = [e for e in events if e.type in CAUSES and str(e.event_id) not in causes]
            with psycopg.connect(conninfo(database_url)) as conn:
                row = conn.execute(
                    "select position from relay_positions where topic = %s", (topic,)
                ).fetchone()
            published = row[0] if row else 0
            if not waiting and events and published == events[-1].position:
                return
        except psycopg.OperationalError:
            pass
        time.sleep(0.5)


def read_topic(kafka: KafkaAccess, topic: str, wanted: set[str], seconds: float = 60) -> list:
    """Every message on `topic`, until each of the `wanted` event ids has been seen (or the
    time is up), partition by partition in offset order."""
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        records = []
        seen: set[str] = set()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    records.append(record)
                    seen.add(json.loads(record.value)["id"])
            at_end = all(consumer.position(p) >= ends[p] for p in partitions)
            if at_end and wanted <= seen:
                break
            if at_end:
                ends = consumer.end_offsets(partitions)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()


def reconcile(
    writes: Iterable[Write], database_url: str, kafka: KafkaAccess, topic: str
) -> list[str]:
    """Every way in which the store, the topic and the read models disagree with what the
    API answered (see the module's rules); empty when they all agree."""
    writes = list(writes)
    problems: list[str] = []
    events = stored_events(database_url)
    problems += _check_store(writes, events)
    problems += _check_topic(events, read_topic(kafka, topic, {str(e.event_id) for e in events}))
    problems += _check_read_models(events, database_url)
    return problems


def _check_store(writes: list[Write], events: list[Stored]) -> list[str]:
    problems = []
    positions = [e.position for e in events]
    if positions != list(range(1, len(positions) + 1)):
        problems.append(f"positions are not dense from 1: {_gaps(positions)}")
    by_stream: dict[str, list[Stored]] = defaultdict(list)
    for event in events:
        by_stream[event.stream_id].append(event)
    for write in writes:
        found = [e for e in by_stream[write.stream] if e.type in EVENT_TYPES[write.kind]]
        if write.refused:
            problems.append(
                f"{write.kind} {write.subject} was refused: {write.answers} {write.refusal}"
            )
        if write.acknowledged and len(found) != 1:
            problems.append(
                f"acknowledged {write.kind} {write.subject} is in the store {len(found)} times "
                f"(answers {write.answers})"
            )
        elif len(found) > 1:
            problems.append(
                f"unacknowledged {write.kind} {write.subject} is in the store {len(found)} times "
                f"(answers {write.answers})"
            )
        if write.kind == "reduction" and write.reply is not None and len(found) == 1:
            named = [r["reduction_id"] for r in write.reply["reductions"]]
            if named != [found[0].data["reduction_id"]]:
                problems.append(
                    f"reduction of {write.subject}: answered {named}, recorded "
                    f"{found[0].data['reduction_id']}"
                )
    return problems


def _gaps(positions: list[int]) -> str:
    twice = [p for p, n in Counter(positions).items() if n > 1]
    missing = sorted(set(range(1, max(positions, default=0) + 1)) - set(positions))
    return f"missing {missing[:10]}, repeated {twice[:10]}"


def _check_topic(events: list[Stored], records: list) -> list[str]:
    problems = []
    ours = {str(e.event_id): e for e in events}
    copies: Counter[str] = Counter()
    highest: dict[tuple[int, bytes], int] = {}
    seen_on_key: dict[tuple[int, bytes], set[str]] = defaultdict(set)
    for record in records:
        envelope = json.loads(record.value)
        event = ours.get(envelope["id"])
        if event is None:
            continue  # another database's event on the same broker
        copies[envelope["id"]] += 1
        where = (
            envelope["plimsollposition"],
            envelope["plimsollstream"],
            envelope["plimsollstreamver"],
        )
        if where != (event.position, event.stream_id, event.stream_version):
            problems.append(
                f"event {event.event_id} on Kafka at {where}, in the store at "
                f"{(event.position, event.stream_id, event.stream_version)}"
            )
        key = (record.partition, record.key)
        top = highest.get(key, 0)
        if event.position <= top and envelope["id"] not in seen_on_key[key]:
            problems.append(
                f"event {event.event_id} (position {event.position}) on key {record.key!r} "
                f"after position {top} and never before it: out of order, a consumer would "
                "skip it"
            )
        highest[key] = max(top, event.position)
        seen_on_key[key].add(envelope["id"])
    missing = [e for e in events if copies[str(e.event_id)] == 0]
    if missing:
        problems.append(
            f"{len(missing)} stored events never reached Kafka, e.g. "
            + ", ".join(f"{e.type}@{e.position}" for e in missing[:5])
        )
    return problems


def _check_read_models(events: list[Stored], database_url: str) -> list[str]:
    problems = []
    with psycopg.connect(conninfo(database_url)) as conn:
        rows = {
            "caseload_practitioners": Counter(
                r[0] for r in conn.execute("select practitioner_id from caseload_practitioners")
            ),
            "caseload_cases": Counter(
                r[0] for r in conn.execute("select case_id from caseload_cases")
            ),
        }
        parked = conn.execute(
            "select name, position, type, reason from read_model_parked"
        ).fetchall()
        parked += conn.execute("select topic, position, '', reason from relay_parked").fetchall()
    if parked:
        problems.append(f"parked: {parked}")
    expected = {
        "caseload_practitioners": Counter(
            e.data["practitioner_id"] for e in events if e.type == "practitioner-registered"
        ),
        "caseload_cases": Counter(e.data["case_id"] for e in events if e.type == "case-opened"),
    }
    for table, wanted in expected.items():
        for key, count in (rows[table] - wanted).items():
            problems.append(f"{table} holds {key} {count} time(s) more than the store")
        for key, count in (wanted - rows[table]).items():
            problems.append(f"{table} lacks {key} ({count} in the store)")
    figures = Counter(e.data["cause_event_id"] for e in events if e.type == "capacity-changed")
    for event in events:
        if event.type in CAUSES and figures[str(event.event_id)] != 1:
            problems.append(
                f"{event.type} of {event.stream_id} (position {event.position}) caused "
                f"{figures[str(event.event_id)]} capacity-changed, not 1"
            )
    return problems
