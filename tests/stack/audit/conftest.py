"""Fixtures for the audit service's stack tests: a scratch log (tables made by the owner,
used as the application role), and leaves to fill it with."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
import uvicorn
from plimsoll_audit.log import schema
from plimsoll_audit.log.leaves import Leaf, to_leaf
from plimsoll_audit.log.note import Signer
from plimsoll_audit.main import create_app
from plimsoll_audit.settings import AuditSettings
from sqlalchemy.engine import make_url

APP_ROLE = "audit_app"
ORIGIN = "plimsoll.example.org/audit"


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(stack, scratch_database, app_engine):
    """The audit app on the scratch log, reading only (no Kafka: its relay cannot reach one)."""
    signer = Signer.generate(ORIGIN)
    settings = AuditSettings(
        database_url=scratch_database,
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
        keycloak_issuer=stack.keycloak_issuer,
        checkpoint_key=str(signer),
        feed=False,
        checkpoint_every_seconds=3600,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the audit app did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", signer
    server.should_exit = True
    thread.join(15)
