"""Fixtures of the fault tests: a private PostgreSQL and Kafka for the module, the allocation
service on them for each test, and a manager's tokens from the shared Keycloak."""

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from stack.events.servers import PrivatePostgres, private_postgres

from .servers import PrivateKafka, ServiceProcess, private_kafka

MANAGER = "mo.manager"


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this module's own, to restart mid-test."""
    with private_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def own_kafka(stack) -> Iterator[PrivateKafka]:
    """A Kafka broker of this module's own (the stack's distribution), to restart mid-test."""
    with private_kafka(stack.module) as server:
        yield server


@pytest.fixture(scope="module")
def manager(stack) -> Callable[[], dict[str, str]]:
    """A manager's Authorization header, a new token well before the last one expires
    (fetched by one thread at a time, and tried again for a while: the shared Keycloak may
    be busy with other people's tests)."""
    held = {"token": "", "at": 0.0}
    lock = threading.Lock()

    def headers() -> dict[str, str]:
        with lock:
            if time.monotonic() - held["at"] > 120:
                held["token"], held["at"] = _token(stack), time.monotonic()
            return {"Authorization": f"Bearer {held['token']}"}

    return headers


def _token(stack) -> str:
    for _ in range(30):
        try:
            return stack.token(MANAGER)
        except httpx.HTTPError:
            time.sleep(2)
    return stack.token(MANAGER)


@pytest.fixture
def database(own_postgres) -> str:
    """A new database on the private cluster (kept: the cluster goes with the module)."""
    return own_postgres.new_database()


@pytest.fixture
def service(stack, database, own_kafka, tmp_path: Path) -> Iterator[ServiceProcess]:
    """The allocation service on the private database and Kafka, ready."""
    process = ServiceProcess(
        database, own_kafka.bootstrap, stack.keycloak_issuer, tmp_path / "allocation.log"
    )
    process.start()
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()
