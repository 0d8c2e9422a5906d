"""The allocation app and its wiring: ``uvicorn --factory plimsoll_allocation.main:create_app``."""

from datetime import datetime, time
from typing import Final
from uuid import uuid4

from fastapi import FastAPI
from plimsoll_events.records import Metadata
from plimsoll_events.store import EventStore
from plimsoll_platform.api import attach
from plimsoll_platform.app import create_service_app
from plimsoll_platform.clock import Clock, SystemClock
from plimsoll_platform.event_sourcing import ExtraRelay
from plimsoll_platform.jobs import Job, Jobs
from plimsoll_platform.projections import KafkaProjections
from sqlalchemy import create_engine

import plimsoll_allocation
from plimsoll_allocation.agreements import WorkAgreements
from plimsoll_allocation.api import ROUTERS
from plimsoll_allocation.api.onboarding import MAX_CSV_BYTES
from plimsoll_allocation.capacity import capacity_publisher
from plimsoll_allocation.handlers import Cases, Workforce
from plimsoll_allocation.hmpps import HMPPS_TOPIC, HmppsTranslator
from plimsoll_allocation.processors import Processors
from plimsoll_allocation.projections import Caseload
from plimsoll_allocation.queries import Queries
from plimsoll_allocation.schemes import Reweighing, SchemeChanges, SchemesInForce
from plimsoll_allocation.settings import AllocationSettings

CALENDAR: Final = "system:reduction-calendar"
"""The actor of what the calendar brings (the day begun, reductions starting and ending)."""
RECONCILED_DAILY_AT: Final = time(0, 5)
"""UK time: a day's reductions and transfers are recorded minutes after it begins."""


def create_app() -> FastAPI:
    return build_app(AllocationSettings(), SystemClock())


def build_app(settings: AllocationSettings, clock: Clock) -> FastAPI:
    """The app on `settings`, with `clock` for today (a test's `FixedClock`, say)."""
    app = create_service_app(
        settings,
        title="Plimsoll allocation",
        description=plimsoll_allocation.__doc__ or "",
        routers=ROUTERS,
        event_sourced=True,
        # The HMPPS domain events, on a topic of their own (see `hmpps`).
        extra_relays=[
            ExtraRelay(
                HMPPS_TOPIC,
                lambda store: HmppsTranslator(store, settings.public_base_url).encode,
            )
        ]
        if settings.publish_hmpps
        else [],
        large_bodies={"/onboarding/": MAX_CSV_BYTES},
    )
    store: EventStore = app.state.store
    # The caseload read model has an engine of its own: a request waiting for a
    # practitioner's allocation lock holds one of its connections, never one the
    # event store needs to finish the allocation holding the lock. The process
    # managers have theirs, so a long catch-up never takes a request's connection.
    caseload = Caseload(
        create_engine(settings.database_url, pool_pre_ping=True, pool_size=5, max_overflow=20),
        store,
    )
    managers = create_engine(settings.database_url, pool_pre_ping=True, pool_size=3)
    schemes = SchemesInForce(store)
    queries = Queries(store, caseload, schemes, clock, settings.policy)
    workforce = Workforce(store, clock, schemes, teams=queries)
    cases = Cases(store, clock, caseload, workforce, settings.policy)
    reweighing = Reweighing(managers, store, store, schemes, caseload)
    processors = Processors(
        managers,
        [capacity_publisher(managers, store, store, settings.policy), reweighing.model],
        poll_seconds=settings.process_poll_seconds,
    )
    # Every append wakes the process managers: a command's capacity figure does not wait
    # for their next poll.
    store.on_append(processors.wake)
    consumers = [WorkAgreements(cases)] if settings.consume_workload_agreements else []
    agreements = KafkaProjections(app.state.engine, settings.kafka, consumers)

    def reconcile(_: datetime) -> None:
        cases.reconcile(Metadata(actor=CALENDAR, correlation_id=uuid4()))

    calendar = Job("allocation-calendar", reconcile, daily_at=RECONCILED_DAILY_AT)
    jobs = Jobs(app.state.engine, [calendar], clock=clock)
    attach(
        app,
        workforce,
        cases,
        queries,
        schemes,
        SchemeChanges(store, schemes, reweighing),
        processors,
        agreements,
        jobs,
    )
    return app
