"""Builds a service's FastAPI app with everything every service must have.

Every app gets: `/health/live`, `/health/ready` (database and Kafka), `/metrics`,
`/openapi.json` and `/me`; JSON logs with the trace id; traces; the gate
(control characters, token, body size: see `gate`) before any route; every
error as RFC 9457 problem details, a domain's refusals (`plimsoll_events.refusals`)
and the event store's conflicts included. `attach` (in `api`) then gives it the
service's handlers, queries and what runs alongside it (jobs, projections).
"""

import asyncio
import gc
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from plimsoll_events.gil import shorten_switch_interval
from plimsoll_events.refusals import Refused
from sqlalchemy import Engine, create_engine

from plimsoll_platform.access_log import ReadsRecorded
from plimsoll_platform.api import Lifecycle
from plimsoll_platform.auth import TokenVerifier
from plimsoll_platform.event_sourcing import (
    EVENT_PROBLEMS,
    EventSourcing,
    ExtraRelay,
    correlation_of,
    current_traceparent,
)
from plimsoll_platform.gate import Gate
from plimsoll_platform.health import KafkaCheck, database_check, install_health
from plimsoll_platform.identity import router as identity_router
from plimsoll_platform.logs import configure_logging
from plimsoll_platform.metrics import install_metrics
from plimsoll_platform.problems import (
    ProblemMapping,
    install_problem_handlers,
    install_problem_mapping,
    refusal_problem,
)
from plimsoll_platform.settings import ServiceSettings
from plimsoll_platform.telemetry import configure_tracing


def create_engine_for(settings: ServiceSettings) -> Engine:
    # A short connect timeout keeps readiness honest when the database is down.
    return create_engine(
        settings.database_url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 2},
    )


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    engine: Engine | None = None,
    event_sourced: bool = False,
    extra_relays: Sequence[ExtraRelay] = (),
    problems: ProblemMapping | None = None,
    large_bodies: Mapping[str, int] | None = None,
    public_paths: Mapping[str, bool] | None = None,
) -> FastAPI:
    """The service's app: health, metrics, problem details, tokens, traces and `routers`.

    `event_sourced=True` gives it an event store (`app.state.store`,
    `EventStoreDep` in routes) whose schema is created at startup, and a relay
    thread publishing it to the service's topic (see `event_sourcing`);
    `extra_relays` publish it again to other topics, each in its own encoding.
    `problems` maps exceptions the platform does not know to problem details
    (a domain's refusals need none: every `Refused` is mapped already).
    `large_bodies` raises the body size limit under path prefixes (uploads);
    `public_paths` opens path prefixes to callers without a token (see `gate.Gate`).
    """
    shorten_switch_interval()
    configure_logging(settings.service_name, settings.log_level)
    configure_tracing(settings.service_name, settings.otlp_endpoint)
    engine = engine or create_engine_for(settings)
    kafka_check = KafkaCheck(settings.kafka)
    sourcing = (
        EventSourcing(
            engine,
            service=settings.service_name,
            kafka=settings.kafka,
            extra_relays=extra_relays,
        )
        if event_sourced
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if sourcing is not None:
            await sourcing.start()
        running: list[Lifecycle] = app.state.lifecycle
        for component in running:
            await asyncio.to_thread(component.start)
        # What startup built (modules, the app, the catalogue) lives as long as the process:
        # moved out of the collector's sweeps, it no longer makes every full collection during
        # a request or a catch-up walk it again (the slowest team views paused 164-177 ms
        # without this, 42-54 ms with it).
        gc.collect()
        gc.freeze()
        yield
        for component in reversed(running):
            await asyncio.to_thread(component.stop)
        if sourcing is not None:
            await sourcing.stop()
        kafka_check.close()
        engine.dispose()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.event_sourcing = sourcing
    app.state.store = sourcing.store if sourcing is not None else None
    app.state.held = {}
    app.state.lifecycle = []
    verifier = TokenVerifier(settings.keycloak_issuer, settings.token_audience)
    app.state.token_verifier = verifier
    install_problem_handlers(app)
    install_problem_mapping(app, {Refused: refusal_problem})
    if event_sourced:
        install_problem_mapping(app, EVENT_PROBLEMS)
    install_problem_mapping(app, problems or {})
    if sourcing is not None:
        # Inside the gate (it needs the caller the gate found), outside every route.
        app.add_middleware(
            ReadsRecorded,
            store=lambda: app.state.store,
            service=settings.service_name,
            correlation=correlation_of,
            traceparent=current_traceparent,
        )
    # Added before the metrics middleware, so it runs inside it: its answers are counted.
    app.add_middleware(
        Gate,
        verifier=verifier,
        max_body_bytes=settings.max_body_bytes,
        large_bodies=large_bodies,
        public=public_paths,
    )
    install_metrics(app, settings.service_name)
    install_health(
        app,
        {"database": database_check(engine), "kafka": kafka_check},
        settings.readiness_timeout_seconds,
    )
    app.include_router(identity_router)
    for router in routers:
        app.include_router(router)
    # The request's server span only: a span per ASGI message sent or received (two or more
    # per request) said nothing a trace is read for, and cost a millisecond of a team view.
    FastAPIInstrumentor.instrument_app(
        app, excluded_urls="/health/.*,/metrics", exclude_spans=["receive", "send"]
    )
    return app
