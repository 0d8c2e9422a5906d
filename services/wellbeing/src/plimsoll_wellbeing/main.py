"""The wellbeing app and its wiring: ``uvicorn --factory plimsoll_wellbeing.main:create_app``."""

from datetime import timedelta

from fastapi import FastAPI
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_platform.api import attach
from plimsoll_platform.app import create_service_app
from plimsoll_platform.clock import SystemClock
from plimsoll_platform.event_sourcing import ExtraRelay
from plimsoll_platform.jobs import Jobs
from plimsoll_platform.placements import Placements, PlacementsProjection
from plimsoll_platform.projections import KafkaProjections

import plimsoll_wellbeing
from plimsoll_wellbeing.api import ROUTERS
from plimsoll_wellbeing.api.deps import Time
from plimsoll_wellbeing.breaches import TYPES as BREACH_TYPES
from plimsoll_wellbeing.breaches import BreachesReadModel
from plimsoll_wellbeing.case_holders import CaseHoldersProjection
from plimsoll_wellbeing.deadlines import Deadlines
from plimsoll_wellbeing.duty_projection import DutyOfCareProjection
from plimsoll_wellbeing.duty_queries import DutyQueries
from plimsoll_wellbeing.handlers import WellbeingHandlers
from plimsoll_wellbeing.hmpps import WELLBEING_HMPPS_TOPIC, TeamFullTranslator
from plimsoll_wellbeing.projections import TYPES, WellbeingRecords
from plimsoll_wellbeing.queries import PolicyBook, WellbeingQueries
from plimsoll_wellbeing.recorder import BreachRecorder
from plimsoll_wellbeing.settings import WellbeingSettings


def create_app() -> FastAPI:
    settings = WellbeingSettings()
    app = create_service_app(
        settings,
        title="Plimsoll wellbeing",
        description=plimsoll_wellbeing.__doc__ or "",
        routers=ROUTERS,
        event_sourced=True,
        # Teams declared full, for courts and partners, as HMPPS domain events.
        extra_relays=[
            ExtraRelay(
                WELLBEING_HMPPS_TOPIC,
                lambda _: TeamFullTranslator(settings.public_base_url).encode,
            )
        ],
    )
    engine, store, clock = app.state.engine, app.state.store, SystemClock()
    placements = Placements(engine, clock)
    records = StoreFedReadModel(engine, store, WellbeingRecords(), types=TYPES)
    queries = WellbeingQueries(records, placements)
    handlers = WellbeingHandlers(store)
    deadlines = Deadlines(
        handlers, queries, placements, every=timedelta(seconds=settings.sweep_every_seconds)
    )
    # Duty of care: the projection of three topics, the breaches it leads to (the recorder,
    # a process manager appending to this store), and their read model.
    breaches = StoreFedReadModel(engine, store, BreachesReadModel(), types=BREACH_TYPES)
    recorder = BreachRecorder(
        engine, store, breaches, clock, clock_every=timedelta(seconds=settings.duty_clock_seconds)
    )
    # Allocation's events: where each practitioner is placed, and who carries which case;
    # and the duty-of-care projection (allocation, timesheet, wellbeing).
    kafka_fed = KafkaProjections(
        engine,
        settings.kafka,
        # PlacementsProjection's `topics` is a list, which mypy will not take for the protocol's
        # (settable) Sequence; it is one.
        [
            PlacementsProjection("wellbeing"),
            CaseHoldersProjection(),
            DutyOfCareProjection(),
        ],
    )
    attach(
        app,
        Time(clock),
        placements,
        records,
        queries,
        handlers,
        PolicyBook(store),
        deadlines,
        DutyQueries(engine, breaches, clock),
        kafka_fed,  # before the recorder: it creates the tables the recorder reads
        recorder,
        Jobs(engine, [*deadlines.jobs(), *recorder.jobs()], clock=clock),
    )
    return app
