"""Events per second through the caseload read model's catch-up, from an empty model.

After a restart with a new read model, the allocation service's first request
catches `caseload_cases` and `caseload_practitioners` up over its whole event
store. A scratch database gets the allocation benchmarks' workforce by bulk
import (``bench/allocation.py``: 20,000 practitioners registered, 300,000 cases
opened and allocated, 620,000 events; a twentieth of that with ``--quick``).
Then the caseload read model (the kit's ``StoreFedReadModel``) catches up
from checkpoint 0 to the head on one connection and commits, as that first
request does. Timed: the catch-up
(reading the store, decoding, writing the rows and checkpoint) and its commit.
Between runs the read model is emptied (truncated, checkpoint 0).
"""

from __future__ import annotations

import time

import sqlalchemy
from plimsoll_allocation.projections import NAME, Caseload
from plimsoll_events.store import EventStore
from sqlalchemy import text

from bench.allocation import Scale, Workforce, _streams
from bench.harness import Settings, durability, environment, median, rounded, scratch_database
from bench.results import Result

GOAL_EVENTS_PER_S = 20_000.0
BEFORE = {"events": 620_000, "seconds": 230}  # one statement per event, before batching

_EMPTY = "truncate caseload_cases, caseload_practitioners, caseload_overrides"
_RESET = "update read_model_checkpoints set position = 0 where name = :name"
_ALLOCATED = "select count(*) from caseload_cases where open and practitioner_id is not null"


def caseload_catch_up(settings: Settings) -> Result:
    scale = Scale.of(settings)
    with scratch_database("caseload_catch_up") as db:
        before = durability(db.conninfo)
        engine = sqlalchemy.create_engine(db.sqlalchemy_url)
        store = EventStore(engine)
        try:
            store.create_schema()
            events = store.import_events(_streams(scale, Workforce()))
            caseload = Caseload(engine, store)
            caseload.create_schema()
            seconds: list[float] = []
            for _ in range(settings.runs):
                with engine.begin() as conn:
                    conn.exec_driver_sql(_EMPTY)
                    conn.execute(text(_RESET), {"name": NAME})
                with engine.connect() as conn:
                    began = time.perf_counter()
                    head = caseload.model.catch_up(conn)
                    conn.commit()
                    seconds.append(time.perf_counter() - began)
                with engine.connect() as conn:
                    allocated = conn.execute(text(_ALLOCATED)).scalar_one()
                if head != events or allocated != scale.cases:
                    raise RuntimeError(f"caught up to {head} of {events}; {allocated} cases")
        finally:
            store.close()
            engine.dispose()
        rates = [events / s for s in seconds]
        return Result(
            name="caseload_catch_up",
            value=median(rates),
            unit="events/s",
            baseline="the goal for catching the caseload read model up after a restart "
            "(not a measured system)",
            baseline_value=GOAL_EVENTS_PER_S,
            goal=f">= {GOAL_EVENTS_PER_S:,.0f} events/s (ratio = value / baseline_value; "
            "higher is better)",
            goal_ratio=1.0,
            details={
                "mode": settings.mode,
                "runs": settings.runs,
                "statistic": "median of runs",
                "events": events,
                "practitioners": scale.practitioners,
                "cases": scale.cases,
                "plimsoll_runs": rounded(rates),
                "run_seconds": [round(s, 2) for s in seconds],
                "timed": "the caseload read model's catch-up from checkpoint 0 to the head, "
                "and its commit",
                "before_batching": f"about {BEFORE['seconds']} s for {BEFORE['events']:,} "
                f"events ({BEFORE['events'] / BEFORE['seconds']:,.0f} events/s), one SQL "
                "statement per event; reported, not re-measured",
                "durability": before,
                "durability_after": durability(db.conninfo),
                "database": db.name,
                "environment": environment(),
            },
        )
