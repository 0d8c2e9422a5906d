"""Traces across Kafka, by OpenTelemetry's messaging semantic conventions.

A request's trace reaches its consumers in three hops:

1. the HTTP request's span is recorded in each event's metadata (``traceparent``)
   and the store's append is a span of its own (``event-store append``);
2. the relay sends each event that has a traceparent in a PRODUCER span
   (``send <topic>``, ``messaging.operation.type=send``), a child of the recorded
   one, and puts *that* span's context in the message's ``traceparent`` header:
   the message's creation context. Events without one (bulk imports) get no span,
   so a backlog of them costs nothing. The CloudEvent's own ``traceparent``
   attribute stays what was recorded (the envelope is the recorded event);
3. the projection runner applies a poll's batch in one CONSUMER span
   (``process <topic>``, ``messaging.operation.type=process``) linked to every
   message's creation context (the header, else the envelope's attribute): one
   span per batch, because events are applied in one statement per batch, so
   per-event spans would measure nothing and cost a span per event.

Only `opentelemetry-api` is used here: without an SDK configured every span is a
no-op, and a propagated context passes through unchanged.
"""

from __future__ import annotations

from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

MESSAGING_SYSTEM: Final = "messaging.system"
MESSAGING_DESTINATION_NAME: Final = "messaging.destination.name"
MESSAGING_DESTINATION_PARTITION_ID: Final = "messaging.destination.partition.id"
MESSAGING_OPERATION_TYPE: Final = "messaging.operation.type"
MESSAGING_OPERATION_NAME: Final = "messaging.operation.name"
MESSAGING_MESSAGE_ID: Final = "messaging.message.id"
MESSAGING_CLIENT_ID: Final = "messaging.client.id"
MESSAGING_CONSUMER_GROUP_NAME: Final = "messaging.consumer.group.name"
MESSAGING_BATCH_MESSAGE_COUNT: Final = "messaging.batch.message_count"
MESSAGING_KAFKA_MESSAGE_KEY: Final = "messaging.kafka.message.key"
MESSAGING_KAFKA_OFFSET: Final = "messaging.kafka.offset"
KAFKA: Final = "kafka"

MAX_LINKS: Final = 128
"""Links kept on one batch span: the SDK's default limit, so no more are built."""

_PROPAGATOR: Final = TraceContextTextMapPropagator()


def remote_context(traceparent: str | None) -> Context | None:
    """A context whose current span is the (remote) one ``traceparent`` names; None when
    there is none or it is malformed (a malformed header never fails a message)."""
    if not traceparent:
        return None
    context = _PROPAGATOR.extract({"traceparent": traceparent})
    if not trace.get_current_span(context).get_span_context().is_valid:
        return None
    return context


def span_context_of(traceparent: str | None) -> SpanContext | None:
    """The span context a traceparent names, to link to; None when none or malformed."""
    context = remote_context(traceparent)
    return None if context is None else trace.get_current_span(context).get_span_context()


def traceparent_of(context: SpanContext) -> str:
    """A span context as a W3C traceparent header value."""
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
