"""Fixtures of the notifications stack tests: an SMTP server, webhook receivers, the service's
own directory credentials, and the pipeline in this process on a scratch database."""

import pytest
import sqlalchemy
from plimsoll_notifications.directory import KeycloakDirectory
from plimsoll_notifications.rules import load_rules

from .pipeline import Pipeline, Receivers, SmtpServer


@pytest.fixture(scope="module")
def directory(stack):
    return KeycloakDirectory.for_client(
        stack.keycloak_issuer,
        "plimsoll-notifications",
        stack.secrets["notifications_client_secret"],
        ttl_seconds=30,
    )


@pytest.fixture
def smtp(tmp_path):
    with SmtpServer(tmp_path / "maildir") as server:
        yield server


@pytest.fixture
def receivers():
    with Receivers() as found:
        yield found


@pytest.fixture
def pipeline(stack, scratch_database, directory, smtp):
    engine = sqlalchemy.create_engine(scratch_database, pool_size=20)
    found = Pipeline(engine, stack.kafka, directory, smtp.port, load_rules())
    yield found
    found.close()
    engine.dispose()
