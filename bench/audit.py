"""Issue 14's audit goals, against the local stack, each in a scratch database.

* ``audit_append_throughput``: CloudEvents (about 700 bytes, as the relays publish them)
  produced to a 6-partition topic first (untimed), then the log's feed (the kit's
  runner with raw leaves: canonical JSON, de-duplication, leaves and subtree hashes and
  the checkpoint in one transaction per poll) appends them all; the clock runs from
  subscription to the last commit. Goal: >= 20,000 events/s.
* ``audit_inclusion_proof_p99``: a log of 10 million leaves (1 million in quick mode)
  loaded by the bulk path (binary COPY, same subtree hashes); inclusion proofs of random
  leaves by the service's reader (`LogReader.inclusion`: the database reads of the tiles
  and the hashing, as a route serves it, without HTTP). Goal: p99 <= 20 ms.
* ``audit_bundle_build`` / ``audit_bundle_verify``: in the same log, one practitioner has
  2,000 events over a year (one leaf in 5,000); their year's bundle exported by the service
  (`Bundles.export`: access, checkpoint, entries, proofs, manifest, stored), then checked by
  plimsoll-verify's checks in process (parse, canonical form, signatures, every proof).
  Goals: <= 5 s and <= 2 s.

The three log benchmarks share one loaded log, built on first use and dropped at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy
from kafka import KafkaProducer
from plimsoll_audit.bundles import Bundles
from plimsoll_audit.checkpoints import Checkpointer
from plimsoll_audit.feed import AuditLogProjection, RawEventRunner
from plimsoll_audit.keys import Keys
from plimsoll_audit.log import schema, store
from plimsoll_audit.log.leaves import Leaf
from plimsoll_audit.log.merkle import leaf_hash
from plimsoll_audit.log.note import Signer
from plimsoll_audit.queries import LogReader
from plimsoll_audit.verify.bundle import parse
from plimsoll_audit.verify.check import verify
from plimsoll_events.topics import ensure_event_topic
from plimsoll_platform.auth import Principal
from plimsoll_platform.clock import SystemClock

from bench.harness import (
    ScratchDatabase,
    Settings,
    durability,
    environment,
    kafka,
    median,
    rounded,
    scratch_database,
)
from bench.results import Result

APP_ROLE = "audit_app"
ORIGIN = "plimsoll.example.org/audit"
PERSON = "P-BENCH"
PERSON_EVERY = 5_000  # one leaf in 5,000 is the person's: 2,000 in 10 million
T0 = datetime(2025, 1, 1, 8, tzinfo=UTC)


def _event(i: int, subject: str) -> dict[str, Any]:
    day = (T0 + timedelta(minutes=i * 3 % 525_600)).date()
    return {
        "actor": "pat.practitioner",
        "correlationid": str(uuid.UUID(int=i + 2**100)),
        "data": {
            "category": "casework",
            "day": day.isoformat(),
            "ended_at": None,
            "minutes": 30 + i % 400,
            "note": None,
            "on_behalf_reason": None,
            "practitioner_id": subject,
            "started_at": None,
        },
        "datacontenttype": "application/json",
        "dataschema": "https://plimsoll.example.org/schemas/hours-logged/v3.json",
        "id": str(uuid.UUID(int=i + 1)),
        "plimsollposition": i + 1,
        "plimsollstream": f"timesheet-{subject}",
        "plimsollstreamver": i + 1,
        "source": "/plimsoll/timesheet",
        "specversion": "1.0",
        "subject": subject,
        "time": (T0 + timedelta(seconds=i * 3)).isoformat(),
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "type": "org.example.plimsoll.hours-logged.v3",
    }


def _subject(i: int, size: int) -> str:
    if i % PERSON_EVERY == 0:
        return PERSON
    return f"P-{i % 20_000:05d}"


def _leaves(start: int, count: int, size: int) -> Iterator[Leaf]:
    for i in range(start, start + count):
        subject = _subject(i, size)
        body = _event(i, subject)
        if subject == PERSON:  # spread the person's events over one year
            body["time"] = (T0 + timedelta(minutes=(i // PERSON_EVERY) * 262)).isoformat()
        raw = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()  # canonical
        yield Leaf(
            body["source"],
            body["id"],
            "hours-logged",
            subject,
            datetime.fromisoformat(body["time"]),
            raw,
            leaf_hash(raw),
        )


def _owned(db: ScratchDatabase) -> tuple[sqlalchemy.Engine, sqlalchemy.Engine]:
    owner = sqlalchemy.create_engine(db.sqlalchemy_url)
    with owner.begin() as conn:
        schema.create(conn, APP_ROLE)
    url = sqlalchemy.engine.make_url(db.sqlalchemy_url).set(username=APP_ROLE)
    return owner, sqlalchemy.create_engine(url, pool_size=4)


# --- append from Kafka ------------------------------------------------------------------------


def audit_append_throughput(settings: Settings) -> Result:
    total = 20_000 if settings.quick else 100_000
    access = kafka()
    topic = f"bench.audit.{uuid.uuid4().hex[:8]}"
    ensure_event_topic(access, topic, partitions=6)
    producer = KafkaProducer(**access.options(), acks="all", linger_ms=20, batch_size=256_000)
    for i in range(total):
        body = _event(i, f"P-{i % 500:04d}")
        producer.send(topic, key=body["subject"].encode(), value=json.dumps(body).encode())
    producer.flush()
    producer.close()
    runs: list[float] = []
    with scratch_database("audit_append") as db:
        before = durability(db.conninfo)
        owner, engine = _owned(db)
        try:
            for run in range(settings.runs):
                projection = AuditLogProjection(name=f"audit-bench-{run}-{uuid.uuid4().hex[:6]}")
                projection.topics = [topic]
                if run:  # each run appends the same events to an empty log
                    with owner.begin() as conn:
                        tables = "log_entries, log_nodes, log_tiles"
                        conn.exec_driver_sql(
                            "alter table log_entries disable trigger user; "
                            "alter table log_nodes disable trigger user; "
                            "alter table log_tiles disable trigger user; "
                            f"truncate {tables}; "
                            "alter table log_entries enable trigger user; "
                            "alter table log_nodes enable trigger user; "
                            "alter table log_tiles enable trigger user"
                        )
                runner = RawEventRunner(engine, projection, kafka=access)
                runner.create_schema()
                try:
                    start = time.perf_counter()
                    seen = 0
                    while seen < total:
                        seen += runner.poll_once(timeout_ms=500)
                    runner.flush()
                    runs.append(total / (time.perf_counter() - start))
                finally:
                    runner.close()
                with engine.connect() as conn:
                    assert store.size(conn) == total
        finally:
            engine.dispose()
            owner.dispose()
        after = durability(db.conninfo)
    return Result(
        name="audit_append_throughput",
        value=median(runs),
        unit="events/s",
        baseline="the issue's goal (not a measured system)",
        baseline_value=20_000,
        goal=">= 20,000 events/s sustained from Kafka (ratio = value / baseline_value)",
        goal_ratio=1.0,
        details={
            "mode": settings.mode,
            "events": total,
            "runs": settings.runs,
            "audit_runs": rounded(runs),
            "statistic": "median of runs",
            "topic_partitions": 6,
            "event_bytes": len(json.dumps(_event(1, "P-0001"))),
            "durability": before,
            "durability_after": after,
            "environment": environment(),
        },
    )


# --- the loaded log ---------------------------------------------------------------------------


class LoadedLog:
    def __init__(self, size: int) -> None:
        self.size = size
        self._exit = contextlib.ExitStack()
        self.db = self._exit.enter_context(scratch_database("audit_log"))
        self.owner, self.engine = _owned(self.db)
        started = time.perf_counter()
        chunk = 200_000
        for start in range(0, size, chunk):
            with self.engine.begin() as conn:
                store.bulk_append(conn, list(_leaves(start, min(chunk, size - start), size)))
        self.load_seconds = time.perf_counter() - started
        with self.owner.begin() as conn:
            conn.exec_driver_sql("analyze log_entries; analyze log_nodes")
        self.signer = Signer.generate(ORIGIN)
        self.keys = Keys(self.signer, (), development=False)
        self.checkpointer = Checkpointer(self.engine, None, self.keys, ORIGIN, SystemClock())
        self.checkpointer.sign()
        self.bundles = Bundles(self.engine, None, self.checkpointer, self.keys, SystemClock())
        self.bundles.start()

    def close(self) -> None:
        self.engine.dispose()
        self.owner.dispose()
        self._exit.close()


_LOG: dict[int, LoadedLog] = {}


def loaded(settings: Settings) -> LoadedLog:
    size = 1_000_000 if settings.quick else 10_000_000
    if size not in _LOG:
        _LOG[size] = LoadedLog(size)
        atexit.register(_LOG[size].close)
    return _LOG[size]


def audit_inclusion_proof_p99(settings: Settings) -> Result:
    log = loaded(settings)
    reader = LogReader(log.engine)
    rng = random.Random(14)
    count = 300 if settings.quick else 2_000
    for _ in range(20):  # warm the pool and the caches, untimed
        reader.inclusion(event_id=None, index=rng.randrange(log.size), size=None)
    latencies = []
    for _ in range(count):
        index = rng.randrange(log.size)
        start = time.perf_counter()
        proof = reader.inclusion(event_id=None, index=index, size=None)
        latencies.append((time.perf_counter() - start) * 1000)
        assert proof.tree_size == log.size
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return Result(
        name="audit_inclusion_proof_p99",
        value=p99,
        unit="ms p99",
        baseline="the issue's goal (not a measured system)",
        baseline_value=20.0,
        goal=f"p99 <= 20 ms at {log.size:,} leaves (lower is better; ratio = goal / value)",
        goal_ratio=1.0,
        lower_is_better=True,
        details={
            "mode": settings.mode,
            "leaves": log.size,
            "proofs": count,
            "median_ms": round(median(latencies), 2),
            "max_ms": round(latencies[-1], 2),
            "bulk_load_seconds": round(log.load_seconds, 1),
            "measured": "LogReader.inclusion by index: tile reads from PostgreSQL and hashing",
            "durability": durability(log.db.conninfo),
            "environment": environment(),
        },
    )


AUDITOR = Principal(subject="bench", username="bench.auditor", roles=frozenset({"auditor"}))


def _export(log: LoadedLog) -> tuple[float, bytes, int]:
    start = time.perf_counter()
    exported = log.bundles.export(AUDITOR, PERSON, date(2025, 1, 1), date(2025, 12, 31))
    return time.perf_counter() - start, exported.data, exported.events


def audit_bundle_build(settings: Settings) -> Result:
    log = loaded(settings)
    runs, events, size = [], 0, 0
    for _ in range(1 if settings.quick else 3):
        seconds, data, events = _export(log)
        runs.append(seconds)
        size = len(data)
    return Result(
        name="audit_bundle_build",
        value=median(runs),
        unit="s",
        baseline="the issue's goal (not a measured system)",
        baseline_value=5.0,
        goal="<= 5 s for one person-year (lower is better; ratio = baseline_value / value)",
        goal_ratio=1.0,
        lower_is_better=True,
        details={
            "mode": settings.mode,
            "leaves": log.size,
            "events": events,
            "bundle_bytes": size,
            "runs": rounded(runs),
            "statistic": "median of runs",
            "environment": environment(),
        },
    )


def audit_bundle_verify(settings: Settings) -> Result:
    log = loaded(settings)
    _, data, events = _export(log)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        outcome = verify(parse(data), [log.signer.verifier])
        runs.append(time.perf_counter() - start)
        assert outcome.ok, outcome.failures
    return Result(
        name="audit_bundle_verify",
        value=median(runs),
        unit="s",
        baseline="the issue's goal (not a measured system)",
        baseline_value=2.0,
        goal="<= 2 s for one person-year (lower is better; ratio = baseline_value / value)",
        goal_ratio=1.0,
        lower_is_better=True,
        details={
            "mode": settings.mode,
            "events": events,
            "bundle_bytes": len(data),
            "runs": rounded(runs),
            "statistic": "median of runs",
            "measured": "plimsoll-verify's parse and checks in process (no interpreter start)",
            "environment": environment(),
        },
    )
