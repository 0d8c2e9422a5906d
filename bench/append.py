"""Single-event appends per second: Plimsoll's EventStore against eventsourcing's
PostgreSQL recorder, one writer and 32 writers, in one scratch database.

Each side runs the same number of timed runs of the same length, in alternating
order (so a slow patch of the machine does not fall on one side only), after an
untimed warm-up; the median run is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import psycopg
import sqlalchemy
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from plimsoll_events.store import EventStore
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from bench.harness import (
    Rate,
    ScratchDatabase,
    Settings,
    check_durability,
    durability,
    environment,
    median,
    rounded,
    scratch_database,
    timed_loop,
    timed_threads,
)
from bench.payload import hours_logged, stored_hours_logged
from bench.results import Result

WRITERS = 32
UNIT = "appends/s"
PAYLOAD = (
    "one hours-logged event per append (JSON data of 3 fields + actor/correlation metadata), "
    "built and encoded inside the timed loop on both sides"
)

# --- the three kinds of writer --------------------------------------------------------------


@dataclass
class StoreWriter:
    """Appends one new event at a time to its own stream, expecting the version it wrote last."""

    store: EventStore
    stream_id: str
    practitioner: str
    version: int = 0

    def __call__(self) -> None:
        self.store.append(self.stream_id, self.version, [hours_logged(self.practitioner)])
        self.version += 1


@dataclass
class RecorderWriter:
    """Inserts one StoredEvent per call through eventsourcing's recorder."""

    recorder: PostgresApplicationRecorder
    practitioner: str
    originator_id: UUID = field(default_factory=uuid4)
    version: int = 0

    def __call__(self) -> None:
        self.version += 1
        self.recorder.insert_events(
            [stored_hours_logged(self.originator_id, self.version, self.practitioner)]
        )


BARE_SCHEMA = """
create table if not exists bare_events (
    id        bigserial primary key,
    stream_id text not null,
    data      jsonb not null
)
"""


@dataclass
class BareWriter:
    """An autocommit psycopg INSERT per call: PostgreSQL's own commit rate, for context."""

    conn: psycopg.Connection[Any]
    stream_id: str

    def __call__(self) -> None:
        self.conn.execute(
            "insert into bare_events (stream_id, data) values (%s, %s)",
            (self.stream_id, Jsonb({"practitioner_id": self.stream_id, "minutes": 60})),
        )


# --- the systems, set up in the scratch database --------------------------------------------


@contextmanager
def event_store(db: ScratchDatabase) -> Iterator[EventStore]:
    engine = sqlalchemy.create_engine(db.sqlalchemy_url)
    store = EventStore(engine)
    try:
        store.create_schema()
        yield store
    finally:
        store.close()
        engine.dispose()


@contextmanager
def recorder(db: ScratchDatabase, pool_size: int) -> Iterator[PostgresApplicationRecorder]:
    datastore = PostgresDatastore(
        dbname=db.name,
        host=db.server.host,
        port=db.server.port,
        user=db.server.user,
        password="",
        pool_size=pool_size,
    )
    try:
        rec = PostgresApplicationRecorder(datastore)
        rec.create_table()
        yield rec
    finally:
        datastore.close()


def recorder_durability(rec: PostgresApplicationRecorder) -> dict[str, str]:
    """The flush settings as seen on one of the recorder's own pooled connections."""
    with rec.datastore.get_connection() as conn:
        raw: psycopg.Connection[Any] = conn
        # The pool hands out dict rows; check_durability reads tuples.
        saved = raw.row_factory
        raw.row_factory = tuple_row
        try:
            return check_durability(raw)
        finally:
            raw.row_factory = saved


def events_per_transaction(db: ScratchDatabase, after: int, upto: int) -> float | None:
    """How many of the store's events shared each committed transaction (from ``xmin``)."""
    if upto <= after:
        return None
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        row = conn.execute(
            "select count(*), count(distinct xmin::text) from events "
            "where position > %s and position <= %s",
            (after, upto),
        ).fetchone()
    if not row or not row[1]:
        return None
    return round(int(row[0]) / int(row[1]), 2)


# --- running the sides ----------------------------------------------------------------------

Side = Callable[[str, float], Rate]


def compare(sides: dict[str, Side], settings: Settings) -> dict[str, list[float]]:
    """Warm every side up, then time ``settings.runs`` runs of each, rotating the order."""
    names = list(sides)
    for name in names:
        sides[name]("warmup", settings.warmup_seconds)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for run in range(settings.runs):
        shift = run % len(names)
        for name in names[shift:] + names[:shift]:
            rates[name].append(sides[name](f"run{run}", settings.seconds).per_second)
    return rates


def _result(
    name: str,
    *,
    writers: int,
    rates: dict[str, list[float]],
    goal_ratio: float,
    extra: dict[str, Any],
    settings: Settings,
) -> Result:
    who = "one writer" if writers == 1 else f"{writers} writer threads, each on its own stream"
    version = environment()["eventsourcing"]
    return Result(
        name=name,
        value=median(rates["plimsoll"]),
        unit=UNIT,
        baseline=(
            f"eventsourcing {version} PostgresApplicationRecorder.insert_events, "
            f"one StoredEvent per call, {who}, same PostgreSQL"
        ),
        baseline_value=median(rates["eventsourcing"]),
        goal=(
            f">= {goal_ratio:g}x eventsourcing's PostgreSQL recorder "
            "(ratio = value / baseline_value; higher is better)"
        ),
        goal_ratio=goal_ratio,
        details={
            **settings.describe(),
            "writers": writers,
            "statistic": "median of runs",
            "plimsoll_runs": rounded(rates["plimsoll"]),
            "eventsourcing_runs": rounded(rates["eventsourcing"]),
            **extra,
            "payload": PAYLOAD,
            "environment": environment(),
        },
    )


def append_single_writer(settings: Settings) -> Result:
    """One thread appending one event at a time to one stream."""
    with scratch_database("append_single_writer") as db:
        before = durability(db.conninfo)
        per_tx: list[float | None] = []
        with (
            event_store(db) as store,
            recorder(db, pool_size=1) as rec,
            psycopg.connect(db.conninfo, autocommit=True) as bare,
        ):
            bare.execute(BARE_SCHEMA)
            baseline_durability = recorder_durability(rec)

            def plimsoll(label: str, seconds: float) -> Rate:
                head = store.head_position()
                rate = timed_loop(StoreWriter(store, f"single-{label}", "P-0001"), seconds)
                if label != "warmup":
                    per_tx.append(events_per_transaction(db, head, store.head_position()))
                return rate

            def eventsourcing(label: str, seconds: float) -> Rate:
                return timed_loop(RecorderWriter(rec, "P-0001"), seconds)

            def bare_psycopg(label: str, seconds: float) -> Rate:
                return timed_loop(BareWriter(bare, f"single-{label}"), seconds)

            rates = compare(
                {"plimsoll": plimsoll, "eventsourcing": eventsourcing, "bare": bare_psycopg},
                settings,
            )
        after = durability(db.conninfo)
        return _result(
            "append_single_writer",
            writers=1,
            rates=rates,
            goal_ratio=1.5,
            settings=settings,
            extra={
                "bare_psycopg_insert_commit_per_s": round(median(rates["bare"]), 1),
                "bare_psycopg_runs": rounded(rates["bare"]),
                "bare_psycopg_note": (
                    "one autocommit INSERT of (bigserial, text, jsonb) per call on one "
                    "connection: roughly PostgreSQL's durable commit rate for one client here"
                ),
                "plimsoll_events_per_transaction": per_tx,
                "durability": before,
                "durability_after": after,
                "eventsourcing_connection_durability": baseline_durability,
                "database": db.name,
            },
        )


def append_32_writers(settings: Settings) -> Result:
    """32 threads, each appending one event at a time to its own stream."""
    with scratch_database("append_32_writers") as db:
        before = durability(db.conninfo)
        per_tx: list[float | None] = []
        bare_conns = [psycopg.connect(db.conninfo, autocommit=True) for _ in range(WRITERS)]
        try:
            with event_store(db) as store, recorder(db, pool_size=WRITERS) as rec:
                bare_conns[0].execute(BARE_SCHEMA)
                baseline_durability = recorder_durability(rec)

                def plimsoll(label: str, seconds: float) -> Rate:
                    head = store.head_position()
                    writers = [
                        StoreWriter(store, f"w{i}-{label}", f"P-{i:04d}") for i in range(WRITERS)
                    ]
                    rate = timed_threads(writers, seconds)
                    if label != "warmup":
                        per_tx.append(events_per_transaction(db, head, store.head_position()))
                    return rate

                def eventsourcing(label: str, seconds: float) -> Rate:
                    writers = [RecorderWriter(rec, f"P-{i:04d}") for i in range(WRITERS)]
                    return timed_threads(writers, seconds)

                def bare_psycopg(label: str, seconds: float) -> Rate:
                    writers = [BareWriter(c, f"w{i}-{label}") for i, c in enumerate(bare_conns)]
                    return timed_threads(writers, seconds)

                rates = compare(
                    {"plimsoll": plimsoll, "eventsourcing": eventsourcing, "bare": bare_psycopg},
                    settings,
                )
        finally:
            for conn in bare_conns:
                conn.close()
        after = durability(db.conninfo)
        return _result(
            "append_32_writers",
            writers=WRITERS,
            rates=rates,
            goal_ratio=5.0,
            settings=settings,
            extra={
                "bare_psycopg_insert_commit_per_s": round(median(rates["bare"]), 1),
                "bare_psycopg_runs": rounded(rates["bare"]),
                "bare_psycopg_note": (
                    f"{WRITERS} threads, each an autocommit INSERT per call on its own "
                    "connection: what PostgreSQL's own commit grouping gives without an "
                    "ordering lock"
                ),
                "plimsoll_events_per_transaction": per_tx,
                "durability": before,
                "durability_after": after,
                "eventsourcing_connection_durability": baseline_durability,
                "database": db.name,
            },
        )
