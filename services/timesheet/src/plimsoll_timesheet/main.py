"""The timesheet app and its wiring: ``uvicorn --factory plimsoll_timesheet.main:create_app``."""

from fastapi import FastAPI
from plimsoll_platform.app import create_service_app

import plimsoll_timesheet
from plimsoll_timesheet.settings import TimesheetSettings


def create_app() -> FastAPI:
    return create_service_app(
        TimesheetSettings(),
        title="Plimsoll timesheet",
        description=plimsoll_timesheet.__doc__ or "",
    )
