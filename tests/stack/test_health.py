"""Every service reports live and ready, and readiness follows its database."""

import time

import httpx
import pytest

SERVICES = ["allocation", "timesheet", "wellbeing", "notifications", "audit"]


@pytest.mark.parametrize("service", SERVICES)
def test_service_is_live_ready_and_documented(stack, service):
    base = stack.services[service]
    assert httpx.get(f"{base}/health/live", timeout=5).json() == {"status": "live"}
    ready = httpx.get(f"{base}/health/ready", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["status"] == "ok"
    assert ready.json()["checks"]["kafka"]["status"] == "ok"
    paths = httpx.get(f"{base}/openapi.json", timeout=5).json()["paths"]
    assert {"/health/live", "/health/ready", "/metrics"} <= set(paths)
    metrics = httpx.get(f"{base}/metrics", timeout=5).text
    assert (
        f'plimsoll_http_requests_total{{method="GET",route="/health/ready",service="{service}"'
        in metrics
    )


def _wait_for_status(url: str, status: int, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, timeout=10)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        time.sleep(0.5)


def test_readiness_fails_while_the_database_is_down_and_recovers(stack):
    url = f"{stack.services['timesheet']}/health/ready"
    postgres = stack.module.Postgres()
    assert postgres.stop()
    try:
        down = _wait_for_status(url, 503)
        assert down.status_code == 503
        assert down.json()["status"] == "not-ready"
        assert down.json()["checks"]["database"]["status"] == "failing"
        assert down.json()["checks"]["kafka"]["status"] == "ok"
    finally:
        postgres.start()
    assert _wait_for_status(url, 200).json()["status"] == "ready"
