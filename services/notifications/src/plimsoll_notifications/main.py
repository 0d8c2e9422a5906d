"""The notifications app and its wiring.

Run with ``uvicorn --factory plimsoll_notifications.main:create_app``.
"""

from fastapi import FastAPI
from plimsoll_platform.app import create_service_app

import plimsoll_notifications
from plimsoll_notifications.settings import NotificationsSettings


def create_app() -> FastAPI:
    return create_service_app(
        NotificationsSettings(),
        title="Plimsoll notifications",
        description=plimsoll_notifications.__doc__ or "",
    )
