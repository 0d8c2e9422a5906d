"""Prometheus metrics for HTTP traffic, served at /metrics."""

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

HTTP_REQUESTS = Counter(
    "plimsoll_http_requests_total",
    "HTTP requests served",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "plimsoll_http_request_duration_seconds",
    "HTTP request duration",
    ["service", "method", "route"],
)


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def install_metrics(app: FastAPI, service: str) -> None:
    @app.middleware("http")
    async def record(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        # The route template, not the raw path, keeps label cardinality bounded.
        route = getattr(request.scope.get("route"), "path", "unmatched")
        # Likewise the method: a client may send any token there.
        method = request.method if request.method in _METHODS else "OTHER"
        HTTP_REQUESTS.labels(service, method, route, str(response.status_code)).inc()
        HTTP_DURATION.labels(service, method, route).observe(time.perf_counter() - started)
        return response

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=PlainTextResponse,
        summary="Prometheus metrics in the text exposition format",
    )
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
