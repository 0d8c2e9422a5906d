"""What makes a service event-sourced: its store, its relay to Kafka, and command metadata.

`create_service_app(..., event_sourced=True)` builds an `EventSourcing` and
runs it for the app's lifetime:

* at startup, the event store's schema (PostgreSQL must answer: a service
  without its store cannot do its work, so a failure here fails the start);
* then, on a thread of its own, the service's topic (`ensure_event_topic`) and
  an `OutboxRelay` publishing the store to it, woken by every append (this
  process's directly, any other's through the store's NOTIFY, listened for on a
  thread of its own). Kafka being down must neither block the start nor kill the
  relay: the thread logs and tries again until the app stops (readiness
  meanwhile says Kafka is failing).
* for each `ExtraRelay` the service asks for, the same on a thread of its own:
  the store published again to another topic, each event encoded by the
  service (its own position and leadership lock: both are per topic).

Routes take the store as `EventStoreDep` and the metadata of the events a
command records as `CommandMetadata` (who, which correlation, which trace).
"""

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID, uuid4

from fastapi import Depends, Request
from opentelemetry import trace
from plimsoll_events.catalogue import topic_for
from plimsoll_events.handling import IdempotencyKeyReused
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.records import Metadata
from plimsoll_events.relay import Encoder, OutboxRelay
from plimsoll_events.store import ConcurrencyError, EventStore
from plimsoll_events.topics import ensure_event_topic
from sqlalchemy import Engine

from plimsoll_platform.auth import CurrentPrincipal
from plimsoll_platform.problems import InvalidParam, Problem, ProblemMapping

log = logging.getLogger(__name__)

CORRELATION_HEADER = "X-Correlation-Id"
RETRY_SECONDS = 5.0
STOP_SECONDS = 10.0
# Short, so that while Kafka is down the relay thread notices a stop request quickly.
BOOTSTRAP_TIMEOUT_MS = 2000
# Relays are woken by appends (this process's at once; any process's by the store's NOTIFY):
# idle, they look on their own only this often, in case a notification was missed.
RELAY_IDLE_SECONDS = 1.0


@dataclass(frozen=True)
class ExtraRelay:
    """Another topic a service's store is published to, in a shape of the service's own.

    `encoder` is given the service's store (to read streams, say) and returns
    the `Encoder` of the messages each recorded event becomes on `topic`.
    """

    topic: str
    encoder: Callable[[EventStore], Encoder]
    content_type: str = "application/json"


class EventSourcing:
    """A service's event store and the relay threads that publish it."""

    def __init__(
        self,
        engine: Engine,
        *,
        service: str,
        kafka: KafkaAccess,
        extra_relays: Sequence[ExtraRelay] = (),
    ) -> None:
        self.engine = engine
        self.store = EventStore(engine)
        self.topic = topic_for(service)
        self.source = f"/plimsoll/{service}"
        self.kafka = kafka
        extra_topics = [extra.topic for extra in extra_relays]
        self._stop = threading.Event()
        # Each relay is woken by this process's appends, not only at its next poll.
        self._wakes = {topic: threading.Event() for topic in (self.topic, *extra_topics)}
        self.store.on_append(lambda _recorded: self._wake_relays())
        self._listener = threading.Thread(
            target=self.store.listen,
            args=(self._stop, self._wake_relays),
            name=f"relay-wake-{service}",
            daemon=True,
        )
        self._thread = threading.Thread(
            target=self._relay, args=(self.topic, None), name=f"relay-{service}", daemon=True
        )
        self._extra_threads = [
            threading.Thread(
                target=self._relay,
                args=(extra.topic, extra),
                name=f"relay-{extra.topic}",
                daemon=True,
            )
            for extra in extra_relays
        ]

    def _wake_relays(self) -> None:
        for wake in self._wakes.values():
            wake.set()

    async def start(self) -> None:
        await asyncio.to_thread(self.store.create_schema)
        for thread in (self._listener, self._thread, *self._extra_threads):
            thread.start()

    async def stop(self) -> None:
        self._stop.set()
        for thread in (self._listener, self._thread, *self._extra_threads):
            await asyncio.to_thread(thread.join, STOP_SECONDS)
            if thread.is_alive():
                log.warning("relay thread %s did not stop within %ss", thread.name, STOP_SECONDS)
        self.store.close()

    def _relay(self, topic: str, extra: ExtraRelay | None) -> None:
        """Publish until stopped; any failure to reach Kafka is logged and retried."""
        while not self._stop.is_set():
            relay: OutboxRelay | None = None
            try:
                ensure_event_topic(self.kafka, topic, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)
                if extra is None:
                    relay = OutboxRelay(
                        self.store,
                        self.engine,
                        kafka=self.kafka,
                        topic=topic,
                        source=self.source,
                    )
                else:
                    relay = OutboxRelay(
                        self.store,
                        self.engine,
                        kafka=self.kafka,
                        topic=topic,
                        source=self.source,
                        encode=extra.encoder(self.store),
                        content_type=extra.content_type,
                    )
                relay.create_schema()
                # Retries failed batches itself until stopped.
                relay.run(self._stop, RELAY_IDLE_SECONDS, wake=self._wakes[topic])
            except Exception:
                log.exception("relay to %s failed; retrying in %ss", topic, RETRY_SECONDS)
                self._stop.wait(RETRY_SECONDS)
            finally:
                if relay is not None:
                    _close_quietly(relay)


def _close_quietly(relay: OutboxRelay) -> None:
    try:
        relay.close()
    except Exception:
        log.debug("closing the relay failed", exc_info=True)


async def event_store(request: Request) -> EventStore:
    store: EventStore | None = getattr(request.app.state, "store", None)
    if store is None:
        raise RuntimeError("this service was not created with event_sourced=True")
    return store


EventStoreDep = Annotated[EventStore, Depends(event_store)]


def current_traceparent() -> str | None:
    """The current OpenTelemetry span as a W3C traceparent, or None outside a trace."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def correlation_of(headers: Mapping[str, str]) -> UUID:
    """The caller's `X-Correlation-Id` when it is a UUID, else a new correlation."""
    header = headers.get(CORRELATION_HEADER)
    try:
        return UUID(header) if header else uuid4()
    except ValueError:
        return uuid4()


async def command_metadata(request: Request, principal: CurrentPrincipal) -> Metadata:
    """Metadata for the events a request's command records.

    The actor is the username when the token has one (what people and the audit
    trail recognise), else the token subject (service accounts). The caller's
    `X-Correlation-Id` ties the events to their own work; without one, the
    command starts a new correlation.
    """
    header = request.headers.get(CORRELATION_HEADER)
    try:
        correlation_id = UUID(header) if header else uuid4()
    except ValueError as exc:
        raise Problem(
            422,
            "The request is not valid",
            f"{CORRELATION_HEADER} must be a UUID",
            kind="invalid-request",
            invalid_params=[InvalidParam(name=CORRELATION_HEADER, reason="must be a UUID")],
        ) from exc
    return Metadata(
        actor=principal.username or principal.subject,
        correlation_id=correlation_id,
        traceparent=current_traceparent(),
    )


CommandMetadata = Annotated[Metadata, Depends(command_metadata)]


def concurrency_problem(error: ConcurrencyError) -> Problem:
    return Problem(
        409,
        "Someone else changed this at the same time",
        f"{error}; try again",
        kind="concurrency-conflict",
    )


def idempotency_key_problem(error: IdempotencyKeyReused) -> Problem:
    return Problem(
        422,
        "The Idempotency-Key was used for another command",
        str(error),
        kind="idempotency-key-reused",
        invalid_params=[InvalidParam(name="Idempotency-Key", reason="used for another command")],
    )


EVENT_PROBLEMS: ProblemMapping = {
    ConcurrencyError: concurrency_problem,
    IdempotencyKeyReused: idempotency_key_problem,
}
"""How the event mechanics' errors are answered, installed on every event-sourced app."""
