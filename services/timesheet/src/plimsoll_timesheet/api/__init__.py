"""The timesheet HTTP API: one module per resource, and `deps` for what they share."""

from typing import Final

from fastapi import APIRouter

from plimsoll_timesheet.api import days, figures, leave, sheets, teams, working_time

ROUTERS: Final[list[APIRouter]] = [
    days.router,
    leave.router,
    working_time.router,
    figures.router,
    teams.router,
    sheets.router,
]
