"""OpenTelemetry tracing set-up for a service process."""

from opentelemetry import trace
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def configure_tracing(service: str, otlp_endpoint: str | None) -> TracerProvider:
    """Install the process-wide tracer provider (OpenTelemetry allows it only once), and
    trace every database call made through psycopg.

    Spans are always created and propagated; they are exported only when an
    OTLP endpoint is configured, so a laptop without a collector loses nothing
    but the export. Called again (a second app in one process, tests), it
    returns the provider already installed: add span processors to that.
    Connections opened before the first call are not traced.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        provider = current
    else:
        provider = TracerProvider(resource=Resource.create({"service.name": f"plimsoll-{service}"}))
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(
                BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces"))
            )
        trace.set_tracer_provider(provider)
    instrument_database_calls()
    return provider


def instrument_database_calls() -> None:
    """A CLIENT span per statement on every psycopg connection opened from now on
    (SQLAlchemy's included), in the trace of whatever span is current: an append's
    statements appear under the request that made it. Once per process."""
    instrumentor = PsycopgInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
