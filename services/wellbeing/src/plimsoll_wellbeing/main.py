"""The wellbeing app and its wiring: ``uvicorn --factory plimsoll_wellbeing.main:create_app``."""

from datetime import timedelta
from typing import cast

from fastapi import FastAPI
from plimsoll_events.projection import Projection
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_platform.api import attach
from plimsoll_platform.app import create_service_app
from plimsoll_platform.clock import SystemClock
from plimsoll_platform.jobs import Jobs
from plimsoll_platform.placements import Placements, PlacementsProjection
from plimsoll_platform.projections import KafkaProjections

import plimsoll_wellbeing
from plimsoll_wellbeing.api import ROUTERS
from plimsoll_wellbeing.api.deps import Time
from plimsoll_wellbeing.case_holders import CaseHoldersProjection
from plimsoll_wellbeing.deadlines import Deadlines
from plimsoll_wellbeing.handlers import WellbeingHandlers
from plimsoll_wellbeing.projections import TYPES, WellbeingRecords
from plimsoll_wellbeing.queries import PolicyBook, WellbeingQueries
from plimsoll_wellbeing.settings import WellbeingSettings


def create_app() -> FastAPI:
    settings = WellbeingSettings()
    app = create_service_app(
        settings,
        title="Plimsoll wellbeing",
        description=plimsoll_wellbeing.__doc__ or "",
        routers=ROUTERS,
        event_sourced=True,
    )
    engine, store, clock = app.state.engine, app.state.store, SystemClock()
    placements = Placements(engine, clock)
    records = StoreFedReadModel(engine, store, WellbeingRecords(), types=TYPES)
    queries = WellbeingQueries(records, placements)
    handlers = WellbeingHandlers(store)
    deadlines = Deadlines(
        handlers, queries, placements, every=timedelta(seconds=settings.sweep_every_seconds)
    )
    # Allocation's events: where each practitioner is placed, and who carries which case.
    kafka_fed = KafkaProjections(
        engine,
        settings.kafka,
        # PlacementsProjection's `topics` is a list, which mypy will not take for the protocol's
        # (settable) Sequence; it is one.
        [cast(Projection, PlacementsProjection("wellbeing")), CaseHoldersProjection()],
    )
    attach(
        app,
        Time(clock),
        placements,
        records,
        queries,
        handlers,
        PolicyBook(store),
        deadlines,
        kafka_fed,
        Jobs(engine, deadlines.jobs(), clock=clock),
    )
    return app
