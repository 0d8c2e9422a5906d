"""The wellbeing app and its wiring: ``uvicorn --factory plimsoll_wellbeing.main:create_app``."""

from fastapi import FastAPI
from plimsoll_platform.app import create_service_app

import plimsoll_wellbeing
from plimsoll_wellbeing.settings import WellbeingSettings


def create_app() -> FastAPI:
    return create_service_app(
        WellbeingSettings(),
        title="Plimsoll wellbeing",
        description=plimsoll_wellbeing.__doc__ or "",
    )
