"""The audit app and its wiring: ``uvicorn --factory plimsoll_audit.main:create_app``."""

from fastapi import FastAPI
from plimsoll_platform.app import create_service_app

import plimsoll_audit
from plimsoll_audit.settings import AuditSettings


def create_app() -> FastAPI:
    return create_service_app(
        AuditSettings(),
        title="Plimsoll audit",
        description=plimsoll_audit.__doc__ or "",
    )
