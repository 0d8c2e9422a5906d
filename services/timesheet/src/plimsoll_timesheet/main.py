"""The timesheet app and its wiring: ``uvicorn --factory plimsoll_timesheet.main:create_app``."""

from typing import cast

from fastapi import FastAPI
from plimsoll_events.projection import Projection
from plimsoll_platform.api import attach
from plimsoll_platform.app import create_service_app
from plimsoll_platform.clock import SystemClock
from plimsoll_platform.placements import Placements, PlacementsProjection
from plimsoll_platform.projections import KafkaProjections

import plimsoll_timesheet
from plimsoll_timesheet.api import ROUTERS
from plimsoll_timesheet.handlers import Timesheets
from plimsoll_timesheet.imports import SheetImports
from plimsoll_timesheet.projections import StoreFedReadModel, TimesheetReadModel
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
    store, engine, clock = app.state.store, app.state.engine, SystemClock()
    # Who is placed where, with what hours, day by day: allocation's topic, through Kafka.
    placements = Placements(engine, clock)
    # cast: PlacementsProjection declares `topics` a list, the Projection protocol a Sequence.
    placed = cast(Projection, PlacementsProjection(settings.service_name))
    feeds = KafkaProjections(engine, settings.kafka, [placed])
    read_model = StoreFedReadModel(engine, store, TimesheetReadModel())
    timesheets = Timesheets(store, clock)
    queries = Queries(engine, placements, clock, read_model.catch_up)
    imports = SheetImports(timesheets, engine)
    attach(app, feeds, placements, read_model, timesheets, queries, imports)
    return app
