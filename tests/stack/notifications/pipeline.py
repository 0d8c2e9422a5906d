"""The notifications pipeline in this process, on the real servers: its own scratch database
and topics, real Kafka and Keycloak (the service's own credentials), a real SMTP server
(aiosmtpd writing a maildir) and real HTTP webhook receivers that verify every delivery with
the `standardwebhooks` package. Used by the stack tests and the benchmark."""

from __future__ import annotations

import itertools
import mailbox
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from kafka import KafkaProducer
from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.envelope import encode, to_cloudevent
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.projection import ProjectionRunner
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.records import Metadata, RecordedEvent, new_event_id
from plimsoll_events.store import EventStore
from plimsoll_events.topics import ensure_event_topic
from plimsoll_notifications.channels import SmtpSender, SmtpSettings
from plimsoll_notifications.decisions import DecisionsProjection, create_tables
from plimsoll_notifications.directory import KeycloakDirectory
from plimsoll_notifications.dispatcher import Dispatcher
from plimsoll_notifications.domain.delivery import RetrySchedule
from plimsoll_notifications.domain.rules import Rules
from plimsoll_notifications.domain.settings import Subscribe
from plimsoll_notifications.handlers import NotificationHandlers
from plimsoll_notifications.records import TYPES, NotificationRecords
from plimsoll_platform.clock import Clock
from plimsoll_platform.placements import PlacementsProjection
from sqlalchemy import Engine, text
from standardwebhooks import Webhook, WebhookVerificationError

_positions = itertools.count(1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SmtpServer:
    """aiosmtpd on loopback, keeping every message in a maildir."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self.port = free_port()
        self.controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.controller.stop()

    def messages(self) -> list[Any]:
        return list(mailbox.Maildir(self.maildir))


@dataclass
class Receiver:
    """One partner's endpoint: answers `status` after `delay_seconds`, verifying signatures."""

    behaviour: str = "ok"  # ok, slow, fail
    delay_seconds: float = 0.0
    secret: str | None = None
    delivered: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    attempts: int = 0
    forged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Receivers:
    """Partners' webhook endpoints on one loopback HTTP server: /<name> each."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoints: dict[str, Receiver] = {}
        receivers = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the sender's pool expects

            def do_POST(self) -> None:
                receiver = receivers.endpoints.get(self.path.strip("/"))
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if receiver is None:
                    self._answer(404)
                    return
                with receiver.lock:
                    receiver.attempts += 1
                if receiver.delay_seconds:
                    time.sleep(receiver.delay_seconds)
                if receiver.behaviour == "fail":
                    self._answer(503)
                    return
                try:
                    payload = Webhook(receiver.secret or "").verify(body, dict(self.headers))
                except WebhookVerificationError:
                    with receiver.lock:
                        receiver.forged += 1
                    self._answer(400)
                    return
                with receiver.lock:
                    receiver.delivered.append(payload)
                    receiver.ids.append(self.headers["webhook-id"])
                self._answer(204)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 1024
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, name: str, receiver: Receiver) -> str:
        self.endpoints[name] = receiver
        return f"http://127.0.0.1:{self.port}/{name}"

    def __enter__(self) -> Receivers:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def cloudevent(
    data: EventData,
    *,
    source: str = "/plimsoll/wellbeing",
    event_id: uuid.UUID | None = None,
    position: int | None = None,
) -> bytes:
    recorded = RecordedEvent(
        position=position if position is not None else next(_positions),
        stream_id=f"test-{uuid.uuid4().hex[:8]}",
        stream_version=1,
        event_id=event_id or new_event_id(),
        type=data.type,
        version=data.version,
        subject=data.subject,
        data=data.model_dump(mode="json"),
        metadata=Metadata(actor="tests", correlation_id=uuid.uuid4()),
        recorded_at=datetime.now(UTC),
    )
    return encode(to_cloudevent(recorded, source))


class Pipeline:
    """Decisions and dispatcher on a scratch database and scratch topics (see the module)."""

    def __init__(
        self,
        engine: Engine,
        kafka: KafkaAccess,
        directory: KeycloakDirectory,
        smtp_port: int,
        rules: Rules,
        *,
        retries: RetrySchedule | None = None,
        webhook_concurrency: int = 100,
        webhook_timeout_seconds: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.kafka = kafka
        suffix = uuid.uuid4().hex[:10]
        self.topic = f"test.wellbeing.{suffix}"
        self.allocation_topic = f"test.allocation.{suffix}"
        for topic in (self.topic, self.allocation_topic):
            ensure_event_topic(kafka, topic, partitions=3)
        self.producer = KafkaProducer(**kafka.options(), acks="all", linger_ms=5)
        self.store = EventStore(engine)
        self.store.create_schema()
        with engine.begin() as conn:
            create_tables(conn)
        self.records = StoreFedReadModel(engine, self.store, NotificationRecords(), types=TYPES)
        self.records.create_schema()
        self.handlers = NotificationHandlers(self.store, engine, webhook_local_mode=True)
        # Groups of their own: never the running service's (admin may join any group).
        self.decisions = DecisionsProjection(
            rules,
            self.records,
            topics=[self.topic, self.allocation_topic],
            name=f"notifications-test-{suffix}",
        )
        self.placements = PlacementsProjection(
            f"notifications-test-{suffix}", topic=self.allocation_topic
        )
        self.smtp = SmtpSender(SmtpSettings("127.0.0.1", smtp_port, "Plimsoll <n@plimsoll.local>"))
        self.dispatcher = Dispatcher(
            engine,
            self.store,
            directory,
            self.smtp,
            app_base_url="http://127.0.0.1:58104",
            retries=retries or RetrySchedule((timedelta(seconds=0.2),), 3),
            webhook_concurrency=webhook_concurrency,
            webhook_timeout_seconds=webhook_timeout_seconds,
            webhook_local_mode=True,
            clock=clock,
            poll_seconds=0.05,
        )
        self.runners = [
            ProjectionRunner(engine, self.placements, kafka=kafka),  # type: ignore[arg-type]
            ProjectionRunner(engine, self.decisions, kafka=kafka),
        ]
        for runner in self.runners:
            runner.create_schema()

    def subscribe(self, partner: str, url: str, types: Sequence[str]) -> tuple[str, str]:
        command = Subscribe(
            subscription_id=f"WH-{uuid.uuid4().hex[:12]}",
            partner=partner,
            url=url,
            event_types=tuple(types),
            by="tests",
            told_to_partners=set(types),
        )
        return self.handlers.subscribe(command, Metadata("tests", uuid.uuid4()))

    def publish(self, data: EventData, *, topic: str | None = None, **options: Any) -> bytes:
        value = cloudevent(data, **options)
        self.send_raw(value, key=data.subject, topic=topic)
        return value

    def send_raw(self, value: bytes, *, key: str | None = None, topic: str | None = None) -> None:
        self.producer.send(
            topic or self.topic, key=None if key is None else key.encode(), value=value
        )
        self.producer.flush()

    def place(self, practitioner_id: str, line_manager_id: str | None) -> None:
        data = CATALOGUE.latest("practitioner-registered").model_validate(
            {
                **CATALOGUE.latest("practitioner-registered").examples[0],
                "practitioner_id": practitioner_id,
                "line_manager_id": line_manager_id,
            }
        )
        self.publish(data, topic=self.allocation_topic, source="/plimsoll/allocation")

    def decide(self) -> None:
        for runner in self.runners:
            runner.run_until_caught_up(timeout_seconds=120)

    def deliver(self, timeout: float = 60.0, *, until_done: bool = True) -> None:
        """Run the dispatcher until nothing is left to do now (or the timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                pending = conn.execute(
                    text(
                        "select (select count(*) from notification_intents where not resolved) "
                        "+ (select count(*) from notification_jobs where not done"
                        + ("" if until_done else " and next_attempt_at <= now()")
                        + ")"
                    )
                ).scalar_one()
            if pending == 0:
                return
            time.sleep(0.1)
        raise TimeoutError(f"{pending} intents or jobs still pending after {timeout}s")

    def events(self, event_type: str | None = None) -> list[RecordedEvent]:
        found = self.store.read_all(0, 1_000_000)
        return [e for e in found if event_type is None or e.type == event_type]

    def dead_letters(self) -> list[str]:
        with self.engine.connect() as conn:
            return [
                str(r[0])
                for r in conn.execute(text("select reason from projection_dead_letters order by 1"))
            ]

    def start(self) -> None:
        self.dispatcher.start()

    def close(self) -> None:
        self.dispatcher.stop()
        for runner in self.runners:
            runner.close()
        self.producer.close()
        self.store.close()


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str
    message_id: str


def mails(server: SmtpServer) -> list[Mail]:
    found = []
    for message in server.messages():
        body = message.get_payload(decode=True).decode()
        found.append(Mail(message["To"], message["Subject"], body, message["Message-ID"]))
    return found
