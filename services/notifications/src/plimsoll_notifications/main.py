"""The notifications app and its wiring.

Run with ``uvicorn --factory plimsoll_notifications.main:create_app``.
"""

from datetime import timedelta

from fastapi import FastAPI
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_platform.api import attach
from plimsoll_platform.app import create_service_app
from plimsoll_platform.clock import SystemClock
from plimsoll_platform.jobs import Jobs
from plimsoll_platform.placements import PlacementsProjection
from plimsoll_platform.projections import KafkaProjections

import plimsoll_notifications
from plimsoll_notifications.api import ROUTERS
from plimsoll_notifications.api.deps import RulesInForce, Time
from plimsoll_notifications.api.inbox import LIVE_PATH
from plimsoll_notifications.channels import SmtpSender, SmtpSettings
from plimsoll_notifications.decisions import DecisionsProjection, create_tables
from plimsoll_notifications.directory import KeycloakDirectory
from plimsoll_notifications.dispatcher import Dispatcher
from plimsoll_notifications.domain.delivery import RetrySchedule
from plimsoll_notifications.handlers import NotificationHandlers
from plimsoll_notifications.queries import NotificationQueries
from plimsoll_notifications.records import TYPES, NotificationRecords
from plimsoll_notifications.rules import load_rules
from plimsoll_notifications.settings import NotificationsSettings
from plimsoll_notifications.sweeps import Sweeps


class _Tables:
    """The process manager's tables exist before anything reads or writes them."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def start(self) -> None:
        with self.app.state.engine.begin() as conn:
            create_tables(conn)

    def stop(self) -> None:
        pass


def create_app() -> FastAPI:
    settings = NotificationsSettings()
    if settings.client_id is None or settings.client_secret is None:
        raise RuntimeError("notifications reads the directory: set PLIMSOLL_CLIENT_ID/SECRET")
    app = create_service_app(
        settings,
        title="Plimsoll notifications",
        description=plimsoll_notifications.__doc__ or "",
        routers=ROUTERS,
        event_sourced=True,
        # The browser's stream is opened with a ticket, checked by its route, not a token.
        public_paths={LIVE_PATH: True},
    )
    engine, store, clock = app.state.engine, app.state.store, SystemClock()
    rules = load_rules(settings.rules_version)
    records = StoreFedReadModel(engine, store, NotificationRecords(), types=TYPES)
    directory = KeycloakDirectory.for_client(
        settings.keycloak_issuer,
        settings.client_id,
        settings.client_secret.get_secret_value(),
        ttl_seconds=settings.directory_cache_seconds,
    )
    smtp = SmtpSender(
        SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            mail_from=settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
            ca_file=settings.smtp_ca_file,
        ),
        connections=settings.smtp_connections,
    )
    dispatcher = Dispatcher(
        engine,
        store,
        directory,
        smtp,
        app_base_url=settings.app_base_url,
        retries=RetrySchedule(
            tuple(timedelta(seconds=s) for s in settings.retry_steps_seconds),
            settings.max_attempts,
        ),
        webhook_timeout_seconds=settings.webhook_timeout_seconds,
        webhook_concurrency=settings.webhook_concurrency,
        webhook_local_mode=settings.webhook_local_mode,
        clock=clock,
    )
    sweeps = Sweeps(
        engine,
        store,
        records,
        directory,
        max_reminders=settings.max_reminders,
        reminders_every=timedelta(seconds=settings.reminders_every_seconds),
        digest_every=timedelta(seconds=settings.digest_every_seconds),
    )
    kafka_fed = KafkaProjections(
        engine,
        settings.kafka,
        [PlacementsProjection("notifications"), DecisionsProjection(rules, records)],
    )
    attach(
        app,
        _Tables(app),
        Time(clock),
        RulesInForce(rules),
        records,
        NotificationQueries(records, store),
        NotificationHandlers(store, engine, webhook_local_mode=settings.webhook_local_mode),
        kafka_fed,
        dispatcher,
        sweeps,
        Jobs(engine, sweeps.jobs(), clock=clock),
    )
    return app
