"""Fixtures for the wellbeing service's stack tests."""

import pytest
import sqlalchemy
from plimsoll_events.store import EventStore

from .helpers import Wellbeing


@pytest.fixture(scope="module")
def wellbeing_store(stack):
    """The wellbeing service's own event store, to check what was (not) written."""
    engine = sqlalchemy.create_engine(stack.postgres["wellbeing"])
    store = EventStore(engine)
    yield store
    store.close()
    engine.dispose()


@pytest.fixture(scope="module")
def wb(service_api) -> Wellbeing:
    """The wellbeing and allocation services, as any demo user."""
    return Wellbeing(service_api)
