"""The allocation service's parts wired in this process on a scratch database, with a
`FixedClock`: for tests that move time (the calendar job) or stop a process manager halfway.
The same classes `main` wires, on the real PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import uuid4

import sqlalchemy
from plimsoll_allocation.capacity import capacity_publisher
from plimsoll_allocation.domain import DEFAULT_POLICY, Actor
from plimsoll_allocation.handlers import Cases, Workforce
from plimsoll_allocation.processors import Processors
from plimsoll_allocation.projections import Caseload
from plimsoll_allocation.queries import Queries
from plimsoll_allocation.schemes import Reweighing, SchemeChanges, SchemesInForce
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.records import Metadata
from plimsoll_events.store import EventStore
from plimsoll_platform.clock import FixedClock

MANAGER = Actor("mo.manager", frozenset({"manager"}), team_id="T-1", region_id="R-1")
NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def metadata(actor: str = "mo.manager") -> Metadata:
    return Metadata(actor=actor, correlation_id=uuid4())


@dataclass
class Allocation:
    """The service's handlers, read models and process managers on one database."""

    engine: sqlalchemy.Engine
    store: EventStore
    clock: FixedClock
    caseload: Caseload
    schemes: SchemesInForce
    queries: Queries
    workforce: Workforce
    cases: Cases
    capacity: StoreFedReadModel
    reweighing: Reweighing
    scheme_changes: SchemeChanges
    processors: Processors

    @classmethod
    def on(cls, database_url: str, now: datetime = NOON) -> Allocation:
        engine = sqlalchemy.create_engine(database_url)
        store = EventStore(engine)
        store.create_schema()
        clock = FixedClock(now)
        caseload = Caseload(engine, store)
        caseload.create_schema()
        schemes = SchemesInForce(store)
        queries = Queries(store, caseload, schemes, clock, DEFAULT_POLICY)
        workforce = Workforce(store, clock, schemes, teams=queries)
        cases = Cases(store, clock, caseload, workforce, DEFAULT_POLICY)
        capacity = capacity_publisher(engine, store, store, DEFAULT_POLICY)
        reweighing = Reweighing(engine, store, store, schemes, caseload)
        processors = Processors(engine, [capacity, reweighing.model])
        for manager in processors.managers:
            manager.create_schema()
        return cls(
            engine,
            store,
            clock,
            caseload,
            schemes,
            queries,
            workforce,
            cases,
            capacity,
            reweighing,
            SchemeChanges(store, schemes, reweighing),
            processors,
        )

    def publish(self) -> int:
        """Run the capacity process manager to the head, batch by batch, as its thread does."""
        while self.processors.step(self.capacity):
            pass
        with self.engine.connect() as conn:
            return self.capacity.position(conn)

    def close(self) -> None:
        self.capacity.model.close()  # type: ignore[attr-defined]
        self.store.close()
        self.engine.dispose()
