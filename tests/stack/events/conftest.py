"""Fixtures of the event machinery's fault and tracing tests."""

import pytest

from .servers import PrivatePostgres, private_postgres


@pytest.fixture(scope="module")
def own_postgres() -> PrivatePostgres:
    """A PostgreSQL cluster of this module's own, to restart mid-test."""
    with private_postgres() as server:
        yield server
