"""The allocation app and its wiring: ``uvicorn --factory plimsoll_allocation.main:create_app``."""

import logging
import threading
import time
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from plimsoll_events.records import Metadata
from plimsoll_platform.app import create_service_app
from plimsoll_platform.event_sourcing import ExtraRelay
from plimsoll_platform.identity import router as identity_router
from sqlalchemy import create_engine

import plimsoll_allocation
from plimsoll_allocation import api, api_cases, api_onboarding, api_schemes
from plimsoll_allocation.domain import AllocationRefused
from plimsoll_allocation.handlers import Cases, SchemesInForce, Workforce
from plimsoll_allocation.hmpps import HMPPS_TOPIC, HmppsTranslator
from plimsoll_allocation.projections import Caseload
from plimsoll_allocation.settings import AllocationSettings

# Probation and Cafcass work to the UK calendar: a reduction starts on a UK day.
_WORKING_ZONE = ZoneInfo("Europe/London")


def today_in_the_uk() -> date:
    return datetime.now(_WORKING_ZONE).date()


log = logging.getLogger(__name__)
RECONCILE_EVERY_SECONDS = 6 * 3600  # a day's change is recorded within hours of midnight


def keep_reductions_on_the_calendar(cases: Cases) -> None:
    """Record reductions starting and ending as the days pass, from a daemon thread.

    Each replica runs it; that is harmless, since a reconciliation that finds
    nothing due records nothing. `POST /reductions/reconciliation` runs it on demand.
    """

    def loop() -> None:
        while True:
            time.sleep(RECONCILE_EVERY_SECONDS)
            metadata = Metadata(actor="system:reduction-calendar", correlation_id=uuid.uuid4())
            try:
                examined, recorded = cases.reconcile_reductions(metadata)
                log.info(
                    "reductions reconciled", extra={"examined": examined, "recorded": recorded}
                )
            except Exception:
                log.exception("reconciling reductions failed; trying again next time")

    threading.Thread(target=loop, name="reduction-calendar", daemon=True).start()


def create_app() -> FastAPI:
    settings = AllocationSettings()
    app = create_service_app(
        settings,
        title="Plimsoll allocation",
        description=plimsoll_allocation.__doc__ or "",
        routers=[
            identity_router,
            api.router,
            api_cases.cases_router,
            api_cases.capacity_router,
            api_schemes.router,
            api_onboarding.router,
        ],
        event_sourced=True,
        # The HMPPS domain events, on a topic of their own (see `hmpps`).
        extra_relays=[
            ExtraRelay(
                HMPPS_TOPIC,
                lambda store: HmppsTranslator(store, settings.public_base_url).encode,
            )
        ],
        problems={AllocationRefused: api.refusal_problem},
    )
    # The caseload read model has an engine of its own: a request waiting for a
    # practitioner's allocation lock holds one of its connections, never one the
    # event store needs to finish the allocation holding the lock.
    caseload = Caseload(
        create_engine(settings.database_url, pool_pre_ping=True, pool_size=5, max_overflow=20),
        app.state.store,
    )
    # The weighting schemes in force, from their streams (cached by stream version).
    workforce = Workforce(
        store=app.state.store,
        today=today_in_the_uk,
        scheme_source=SchemesInForce(app.state.store),
        teams=caseload,
    )
    app.state.workforce = workforce
    app.state.cases = Cases(
        store=app.state.store,
        today=today_in_the_uk,
        caseload=caseload,
        workforce=workforce,
        policy=settings.policy,
    )
    keep_reductions_on_the_calendar(app.state.cases)
    return app
