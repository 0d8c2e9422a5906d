"""Events per second through ``EventStore.import_events`` (one COPY, one transaction).

The events are built before the clock starts (an import reads them from an
archive or another system; building them is not the store's work); encoding
them to COPY text, sending and committing them is timed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from uuid import uuid4

import psycopg
import sqlalchemy
from plimsoll_events.records import Metadata, NewEvent
from plimsoll_events.store import EventStore

from bench.harness import (
    Settings,
    durability,
    environment,
    median,
    rounded,
    scratch_database,
)
from bench.payload import hours_logged
from bench.results import Result

MARTEN_EVENTS_PER_S = 100_000.0
WARMUP_EVENTS = 2_000


def _streams(
    label: str, events: int, length: int, *, shared: Metadata | None = None
) -> list[tuple[str, list[NewEvent]]]:
    """``events // length`` new streams of ``length`` events; each event has its own
    Metadata unless ``shared`` is given (one actor onboarding a workforce)."""
    streams: list[tuple[str, list[NewEvent]]] = []
    for s in range(events // length):
        practitioner = f"P-{s:06d}"
        made = [hours_logged(practitioner, minutes=15 * (v + 1)) for v in range(length)]
        if shared is not None:
            made = [replace(event, metadata=shared) for event in made]
        streams.append((f"import-{label}-{practitioner}", made))
    return streams


@dataclass(frozen=True)
class _Run:
    seconds: float
    client_cpu_seconds: float  # this thread's CPU time inside import_events
    database: str
    durability_before: dict[str, str]
    durability_after: dict[str, str]


def _import_run(streams: list[tuple[str, list[NewEvent]]], stream_length: int) -> _Run:
    """Import ``streams`` into a new scratch database's empty store, after a small warm-up.

    Every run starts from an empty table: a run after another would pay for the
    bigger indexes (random event ids) and a checkpoint's full-page writes instead.
    """
    expected = sum(len(events) for _, events in streams)
    with scratch_database("batch_import") as db:
        before = durability(db.conninfo)
        engine = sqlalchemy.create_engine(db.sqlalchemy_url)
        store = EventStore(engine)
        try:
            store.create_schema()
            store.import_events(_streams("warmup", WARMUP_EVENTS, stream_length))
            start, cpu_start = time.perf_counter(), time.thread_time()
            imported = store.import_events(streams)
            elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu_start
            head = store.head_position()
        finally:
            store.close()
            engine.dispose()
        with psycopg.connect(db.conninfo, autocommit=True) as conn:
            row = conn.execute("select count(*) from events").fetchone()
            stored = int(row[0]) if row else 0
        if imported != expected or stored != head or head != WARMUP_EVENTS + expected:
            raise RuntimeError(
                f"imported {imported} of {expected}; {stored} rows stored, head at {head}"
            )
        return _Run(elapsed, cpu, db.name, before, durability(db.conninfo))


def batch_import(settings: Settings) -> Result:
    length = settings.stream_length
    total = settings.import_events - settings.import_events % length
    runs = [_import_run(_streams(f"run{n}", total, length), length) for n in range(settings.runs)]
    rates = [total / run.seconds for run in runs]
    # For context, not the result: the same import with one Metadata for every event.
    one_actor = Metadata(actor="ada.admin", correlation_id=uuid4())
    shared = _import_run(_streams("shared", total, length, shared=one_actor), length)
    return Result(
        name="batch_import",
        value=median(rates),
        unit="events/s",
        baseline=(
            "Marten's documented 80-110k events/s for its COPY-based bulk append "
            "(midpoint 100,000 taken as baseline_value; not measured here)"
        ),
        baseline_value=MARTEN_EVENTS_PER_S,
        goal=">= 100,000 events/s (ratio = value / baseline_value; higher is better)",
        goal_ratio=1.0,
        details={
            "mode": settings.mode,
            "runs": settings.runs,
            "warmup_events": WARMUP_EVENTS,
            "events_per_run": total,
            "stream_length": length,
            "streams_per_run": total // length,
            "statistic": "median of runs",
            "plimsoll_runs": rounded(rates),
            "run_seconds": [round(run.seconds, 3) for run in runs],
            "client_cpu_seconds": [round(run.client_cpu_seconds, 3) for run in runs],
            "timed": (
                "EventStore.import_events only (COPY encode + send + commit), each run into "
                "an empty store in its own scratch database"
            ),
            "payload": (
                "hours-logged events, each with its own Metadata (own correlation id), "
                "as when replaying an archive"
            ),
            "shared_metadata_events_per_s": round(total / shared.seconds, 1),
            "shared_metadata_note": (
                "one extra run with every event sharing one Metadata object (one actor "
                "onboarding a workforce), which the store encodes once: context only"
            ),
            "durability": runs[0].durability_before,
            "durability_after": shared.durability_after,
            "databases": [run.database for run in runs] + [shared.database],
            "environment": environment(),
        },
    )
