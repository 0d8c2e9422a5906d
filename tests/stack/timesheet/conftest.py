"""Fixtures for the timesheet service's stack tests: its own event store, to check what was
(not) written."""

import pytest
import sqlalchemy
from plimsoll_events.store import EventStore


@pytest.fixture(scope="module")
def timesheet_engine(stack):
    engine = sqlalchemy.create_engine(stack.postgres["timesheet"])
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def timesheet_store(timesheet_engine):
    store = EventStore(timesheet_engine)
    yield store
    store.close()
