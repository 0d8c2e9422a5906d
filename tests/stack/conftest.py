"""Fixtures for tests on the real servers: a fresh event store per test, any service's API as any
demo user, tokens, and the allocation service's own store."""

import httpx
import pytest
import sqlalchemy
from _pytest.runner import runtestprotocol
from plimsoll_events.store import EventStore

from .calendar import uk_today


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool:
    """Run a failed test once more if the UK date changed while it ran: the services moved to a
    new day under it (what was "tomorrow" became today), which says nothing about the code. The
    second run's result is the one reported."""
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    started_on = uk_today()
    reports = runtestprotocol(item, nextitem=nextitem, log=False)
    if uk_today() != started_on and any(report.failed for report in reports):
        reports = runtestprotocol(item, nextitem=nextitem, log=False)
    for report in reports:
        item.ihook.pytest_runtest_logreport(report=report)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


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
