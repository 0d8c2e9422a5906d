"""Fixtures of the event machinery's fault and tracing tests."""

import threading
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from plimsoll_platform.telemetry import configure_tracing, instrument_database_calls

from .servers import PrivatePostgres, private_postgres


@pytest.fixture(scope="module")
def own_postgres() -> PrivatePostgres:
    """A PostgreSQL cluster of this module's own, to restart mid-test."""
    with private_postgres() as server:
        yield server


class SpanRecorder(SpanExporter):
    """Keeps finished spans, but only while a test asks for them: the process's provider
    outlives the test, and every later test's spans would pile up in memory."""

    def __init__(self) -> None:
        self.recording = False
        self._spans: list[ReadableSpan] = []
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.recording:
            with self._lock:
                self._spans.extend(spans)
        return SpanExportResult.SUCCESS

    def finished(self) -> list[ReadableSpan]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()


@pytest.fixture(scope="session")
def span_recorder() -> SpanRecorder:
    """The one tracer provider of the test process (OpenTelemetry allows one), as a service
    configures it (psycopg calls traced too), with a recorder added to it."""
    provider = configure_tracing("events-tests", None)
    instrument_database_calls()  # as a service exporting its spans does
    recorder = SpanRecorder()
    provider.add_span_processor(SimpleSpanProcessor(recorder))
    return recorder


@pytest.fixture
def spans(span_recorder: SpanRecorder) -> SpanRecorder:
    """The spans finished during this test."""
    span_recorder.clear()
    span_recorder.recording = True
    yield span_recorder
    span_recorder.recording = False
    span_recorder.clear()
