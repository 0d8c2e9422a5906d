"""The audit app and its wiring: ``uvicorn --factory plimsoll_audit.main:create_app``.

Started as the database owner (PLIMSOLL_DATABASE_URL) only long enough to create
the log's tables, triggers and grants and to read the signing key; everything
after runs as the application role, which can read and add to the log but never
change it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from plimsoll_platform.api import attach
from plimsoll_platform.app import create_service_app
from plimsoll_platform.clock import Clock, SystemClock
from plimsoll_platform.jobs import Job, Jobs
from sqlalchemy import create_engine

import plimsoll_audit
from plimsoll_audit.api import bundles as bundle_routes
from plimsoll_audit.api import log as log_routes
from plimsoll_audit.bundles import Bundles
from plimsoll_audit.checkpoints import Checkpointer
from plimsoll_audit.feed import AuditFeed, AuditLogProjection
from plimsoll_audit.keys import load_keys
from plimsoll_audit.log import schema
from plimsoll_audit.queries import LogReader
from plimsoll_audit.settings import AuditSettings

PUBLIC_PATHS = {"/checkpoint": True, "/tile/": True, "/tile/entries/": False, "/proofs/": True}


def create_app(settings: AuditSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or AuditSettings()
    clock = clock or SystemClock()
    owner = create_engine(settings.database_url, connect_args={"connect_timeout": 5})
    try:
        with owner.begin() as conn:
            schema.create(conn, settings.app_role)
        keys = load_keys(settings, owner)
    finally:
        owner.dispose()
    engine = create_engine(
        settings.app_url(), pool_pre_ping=True, pool_size=10, connect_args={"connect_timeout": 2}
    )
    app = create_service_app(
        settings,
        title="Plimsoll audit",
        description=plimsoll_audit.__doc__ or "",
        routers=[log_routes.router, bundle_routes.router],
        engine=engine,
        event_sourced=True,
        # Signed hashes are for anyone to check (tile clients send no token); the
        # entries themselves are personal data.
        public_paths=PUBLIC_PATHS,
    )
    checkpointer = Checkpointer(engine, app.state.store, keys, settings.log_origin, clock)
    jobs = Jobs(
        engine,
        [
            Job(
                "sign-checkpoint",
                lambda _: _sign(checkpointer),
                every=timedelta(seconds=settings.checkpoint_every_seconds),
            )
        ],
        clock=clock,
    )
    components: list[object] = [
        keys,
        checkpointer,
        LogReader(engine),
        Bundles(
            engine, app.state.store, checkpointer, keys, clock, max_days=settings.max_bundle_days
        ),
    ]
    if settings.feed:
        projection = AuditLogProjection(settings.logged_services)
        components.append(AuditFeed(engine, settings.kafka, [projection]))
    components.append(jobs)
    attach(app, *components)
    return app


def _sign(checkpointer: Checkpointer) -> None:
    checkpointer.sign(only_if_grown=True)
