"""Logs are one JSON object a line, with the service, the message and any extra fields."""

import json
import logging

from opentelemetry.sdk.trace import TracerProvider
from plimsoll_platform.logs import JsonFormatter


def _record(message: str, **extra) -> logging.LogRecord:
    record = logging.LogRecord("plimsoll.test", logging.WARNING, __file__, 1, message, (), None)
    record.__dict__.update(extra)
    return record


def test_log_line_is_json_with_extra_fields():
    line = JsonFormatter("wellbeing").format(_record("breach opened", practitioner_id="P-0001"))
    entry = json.loads(line)
    assert entry["service"] == "wellbeing"
    assert entry["level"] == "warning"
    assert entry["message"] == "breach opened"
    assert entry["practitioner_id"] == "P-0001"
    assert "trace_id" not in entry


def test_log_line_carries_the_current_trace():
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        entry = json.loads(JsonFormatter("audit").format(_record("inside")))
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
