"""A database that is away for now is a 503 with Retry-After; any other database failure
stays a 500 (it is the service's fault, not the moment's)."""

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from plimsoll_platform.problems import PROBLEM_JSON, install_problem_handlers
from sqlalchemy.exc import OperationalError


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/lost")
    def lost() -> None:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    @app.get("/lost-under-sqlalchemy")
    def lost_under_sqlalchemy() -> None:
        cause = psycopg.OperationalError("connection refused")
        raise OperationalError("select 1", {}, cause) from cause

    @app.get("/broken")
    def broken() -> None:
        raise psycopg.errors.UndefinedTable("relation missing does not exist")

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("path", ["/lost", "/lost-under-sqlalchemy"])
def test_a_database_away_for_now_is_503_with_retry_after(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.headers["retry-after"] == "5"
    body = answer.json()
    assert body["type"].endswith("/database-unavailable")
    assert body["instance"] == path
    assert "Idempotency-Key" in body["detail"]


def test_any_other_database_failure_is_a_500(client: TestClient) -> None:
    answer = client.get("/broken")
    assert answer.status_code == 500
    assert "retry-after" not in answer.headers
