"""The allocation app and its wiring: ``uvicorn --factory plimsoll_allocation.main:create_app``."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from plimsoll_platform.app import create_service_app
from plimsoll_platform.identity import router as identity_router

import plimsoll_allocation
from plimsoll_allocation import api
from plimsoll_allocation.domain import AllocationRefused
from plimsoll_allocation.handlers import Workforce
from plimsoll_allocation.settings import AllocationSettings

# Probation and Cafcass work to the UK calendar: a reduction starts on a UK day.
_WORKING_ZONE = ZoneInfo("Europe/London")


def today_in_the_uk() -> date:
    return datetime.now(_WORKING_ZONE).date()


def create_app() -> FastAPI:
    app = create_service_app(
        AllocationSettings(),
        title="Plimsoll allocation",
        description=plimsoll_allocation.__doc__ or "",
        routers=[identity_router, api.router],
        event_sourced=True,
        problems={AllocationRefused: api.refusal_problem},
    )
    app.state.workforce = Workforce(store=app.state.store, today=today_in_the_uk)
    return app
