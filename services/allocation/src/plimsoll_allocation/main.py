"""The allocation app and its wiring: ``uvicorn --factory plimsoll_allocation.main:create_app``."""

from fastapi import FastAPI
from plimsoll_platform.app import create_service_app
from plimsoll_platform.identity import router as identity_router

import plimsoll_allocation
from plimsoll_allocation.settings import AllocationSettings


def create_app() -> FastAPI:
    return create_service_app(
        AllocationSettings(),
        title="Plimsoll allocation",
        description=plimsoll_allocation.__doc__ or "",
        routers=[identity_router],
    )
