"""The timesheet app and its wiring: ``uvicorn --factory plimsoll_timesheet.main:create_app``."""

from fastapi import FastAPI
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.store import EventStore
from plimsoll_platform.api import attach
from plimsoll_platform.app import create_service_app
from plimsoll_platform.clock import SystemClock, is_working_day
from plimsoll_platform.placements import Placements, PlacementsProjection
from plimsoll_platform.projections import KafkaProjections
from sqlalchemy import create_engine

import plimsoll_timesheet
from plimsoll_timesheet.api import ROUTERS
from plimsoll_timesheet.handlers import Timesheets
from plimsoll_timesheet.imports import SheetImports
from plimsoll_timesheet.projections import TYPES, TimesheetReadModel
from plimsoll_timesheet.queries import Queries
from plimsoll_timesheet.settings import TimesheetSettings


def create_app() -> FastAPI:
    settings = TimesheetSettings()
    app = create_service_app(
        settings,
        title="Plimsoll timesheet",
        description=plimsoll_timesheet.__doc__ or "",
        routers=ROUTERS,
        event_sourced=True,
    )
    clock = SystemClock()
    # The timesheet's own pool, sized for its request threads (the app's engine keeps 5):
    # under 50 concurrent writers, requests must not queue for a connection.
    engine = create_engine(settings.database_url, pool_pre_ping=True, pool_size=20, max_overflow=20)
    store = EventStore(engine)
    is_working_day(clock.today())  # loads the bank holidays now (seconds), not in a request
    # Who is placed where, with what hours, day by day: allocation's topic, through Kafka.
    placements = Placements(engine, clock)
    # cast: PlacementsProjection declares `topics` a list, the Projection protocol a Sequence.
    placed = PlacementsProjection(settings.service_name)
    feeds = KafkaProjections(engine, settings.kafka, [placed])
    read_model = StoreFedReadModel(engine, store, TimesheetReadModel(), types=TYPES)
    timesheets = Timesheets(store, clock)
    queries = Queries(read_model, placements, clock)
    imports = SheetImports(timesheets, engine)
    attach(app, feeds, placements, timesheets, queries, imports)
    return app
