"""A request's trace crosses Kafka: the append, the relay's send (PRODUCER, its context in
the message's traceparent header) and the projection's processing (CONSUMER, linked to the
send) all belong to it, with OpenTelemetry's messaging attributes; database calls are spans
of their own. Events recorded without a trace (bulk imports) get no send span."""

import uuid

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from plimsoll_events.projection import ProjectionRunner
from plimsoll_events.records import Metadata, NewEvent
from plimsoll_events.relay import OutboxRelay
from plimsoll_events.tracing import traceparent_of

from stack.eventing import MinutesByPractitioner, hours_logged, new_topic, read_topic


def test_a_requests_trace_reaches_the_projection_through_kafka(stack, store, engine, spans):
    topic = new_topic(stack.kafka, partitions=1)
    relay = OutboxRelay(store, engine, kafka=stack.kafka, topic=topic, source="/plimsoll/timesheet")
    relay.create_schema()
    store.import_events([("timesheet-P-0", [hours_logged("P-0", 5)])])  # untraced
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("POST /hours", kind=SpanKind.SERVER) as request:
        traced = Metadata(
            actor="pat.practitioner",
            correlation_id=uuid.uuid4(),
            traceparent=traceparent_of(request.get_span_context()),
        )
        event = hours_logged("P-1", 30)
        event = NewEvent(event.type, event.version, event.data, event.subject, traced)
        store.append("timesheet-P-1", 0, [event])
    try:
        while relay.publish_pending():
            pass
    finally:
        relay.close()
    projection = MinutesByPractitioner(topic)
    runner = ProjectionRunner(engine, projection, kafka=stack.kafka)
    runner.create_schema()
    try:
        runner.run_until_caught_up()
    finally:
        runner.close()

    finished = spans.finished()
    request_context = request.get_span_context()
    in_request = [s for s in finished if s.context.trace_id == request_context.trace_id]

    (append,) = [s for s in in_request if s.name == "event-store append"]
    assert append.parent.span_id == request_context.span_id
    assert append.attributes["plimsoll.stream.id"] == "timesheet-P-1"
    assert append.attributes["plimsoll.event.count"] == 1
    statements = [
        s
        for s in in_request
        if s.kind == SpanKind.CLIENT and s.attributes.get("db.system") == "postgresql"
    ]
    assert any(s.parent.span_id == append.context.span_id for s in statements)

    producers = [s for s in finished if s.kind == SpanKind.PRODUCER]
    (send,) = producers  # the untraced event was sent without a span
    assert send.context.trace_id == request_context.trace_id
    assert send.parent.span_id == request_context.span_id
    assert send.name == f"send {topic}"
    assert send.attributes["messaging.system"] == "kafka"
    assert send.attributes["messaging.destination.name"] == topic
    assert send.attributes["messaging.operation.type"] == "send"
    assert send.attributes["messaging.message.id"] == str(event.event_id)
    assert send.attributes["messaging.kafka.message.key"] == "P-1"
    assert send.attributes["messaging.destination.partition.id"] == "0"

    records = read_topic(stack.kafka, topic, expect=2)
    headers = [dict(r.headers) for r in records]
    assert "traceparent" not in headers[0]
    assert headers[1]["traceparent"].decode() == traceparent_of(send.context)

    consumers = [
        s
        for s in finished
        if s.kind == SpanKind.CONSUMER and s.attributes.get("messaging.destination.name") == topic
    ]
    assert consumers
    sent = (send.context.trace_id, send.context.span_id)
    linked = [
        s
        for s in consumers
        if any((k.context.trace_id, k.context.span_id) == sent for k in s.links)
    ]
    (process,) = linked
    assert process.name == f"process {topic}"
    assert process.attributes["messaging.system"] == "kafka"
    assert process.attributes["messaging.operation.type"] == "process"
    assert process.attributes["messaging.consumer.group.name"] == f"projection-{projection.name}"
    assert process.attributes["messaging.batch.message_count"] >= 1
    # The read model's statements are spans of the processing.
    assert any(
        s.kind == SpanKind.CLIENT and s.parent and s.parent.span_id == process.context.span_id
        for s in finished
    )
