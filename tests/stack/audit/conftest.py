"""Fixtures for the audit service's stack tests: a scratch log (tables made by the owner,
used as the application role), and leaves to fill it with."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from plimsoll_audit.log import schema
from plimsoll_audit.log.leaves import Leaf, to_leaf
from sqlalchemy.engine import make_url

APP_ROLE = "audit_app"


@pytest.fixture
def owner_engine(scratch_database):
    engine = sqlalchemy.create_engine(scratch_database)
    with engine.begin() as conn:
        schema.create(conn, APP_ROLE)
    yield engine
    engine.dispose()


@pytest.fixture
def app_engine(owner_engine, scratch_database):
    url = make_url(scratch_database).set(username=APP_ROLE)
    engine = sqlalchemy.create_engine(url)
    yield engine
    engine.dispose()


def cloudevent(
    i: int,
    *,
    subject: str = "P-0001",
    source: str = "/plimsoll/timesheet",
    kind: str = "hours-logged",
    event_id: str | None = None,
    time: datetime | None = None,
    data: dict | None = None,
) -> bytes:
    when = time or datetime(2025, 3, 3, 9, tzinfo=UTC) + timedelta(minutes=i)
    return json.dumps(
        {
            "specversion": "1.0",
            "id": event_id or str(uuid.UUID(int=i + 1)),
            "source": source,
            "type": f"org.example.plimsoll.{kind}.v3",
            "subject": subject,
            "time": when.isoformat(),
            "actor": "pat.practitioner",
            "correlationid": str(uuid.UUID(int=10**6 + i)),
            "plimsollstream": f"timesheet-{subject}",
            "plimsollstreamver": i + 1,
            "plimsollposition": i + 1,
            "data": data
            if data is not None
            else {
                "practitioner_id": subject,
                "day": when.date().isoformat(),
                "minutes": 30 + i % 60,
                "category": "casework",
                "started_at": None,
                "ended_at": None,
                "note": None,
                "on_behalf_reason": None,
            },
        }
    ).encode()


def leaves(n: int, start: int = 0, **kwargs) -> list[Leaf]:
    return [to_leaf(cloudevent(i, **kwargs)) for i in range(start, start + n)]
