"""Fixtures for tests on the real servers: a fresh event store per test, any service's API as any
demo user, tokens, and the allocation service's own store."""

import httpx
import pytest
import sqlalchemy
from plimsoll_events.store import EventStore


@pytest.fixture
def engine(scratch_database):
    engine = sqlalchemy.create_engine(scratch_database)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine):
    store = EventStore(engine)
    store.create_schema()
    yield store
    store.close()


@pytest.fixture(scope="module")
def api(stack):
    """The allocation service over HTTP."""
    with httpx.Client(base_url=stack.services["allocation"], timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def tokens(stack):
    """Authorization headers for a demo user (tokens live 5 minutes: one set per module)."""
    cache: dict[str, str] = {}

    def headers(username: str) -> dict[str, str]:
        if username not in cache:
            cache[username] = stack.token(username)
        return {"Authorization": f"Bearer {cache[username]}"}

    return headers


@pytest.fixture(scope="module")
def service_api(stack, tokens):
    """Any service's API as any demo user (or as nobody): `service_api("timesheet",
    "pat.practitioner").get("/me")`. One client per service and user, for the module."""
    clients: dict[tuple[str, str | None], httpx.Client] = {}

    def client(service: str, username: str | None = None) -> httpx.Client:
        key = (service, username)
        if key not in clients:
            clients[key] = httpx.Client(
                base_url=stack.services[service],
                headers=tokens(username) if username else {},
                timeout=60,
            )
        return clients[key]

    yield client
    for opened in clients.values():
        opened.close()


@pytest.fixture(scope="module")
def allocation_store(stack):
    """The allocation service's own event store, to check what was (not) written."""
    engine = sqlalchemy.create_engine(stack.postgres["allocation"])
    store = EventStore(engine)
    yield store
    store.close()
    engine.dispose()
