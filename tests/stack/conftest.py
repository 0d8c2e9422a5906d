"""Fixtures for tests of the event mechanics on the real servers: a fresh store each test."""

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
