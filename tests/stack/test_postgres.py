"""The real PostgreSQL: one database per service, reached with SQLAlchemy 2 and psycopg 3."""

import uuid

import pytest
from sqlalchemy import create_engine, text


@pytest.mark.parametrize(
    "service", ["allocation", "timesheet", "wellbeing", "notifications", "audit"]
)
def test_each_service_has_its_own_database(stack, service):
    engine = create_engine(stack.postgres[service])
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("select current_database()")) == service
            assert connection.scalar(text("select current_user")) == service
            assert connection.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_round_trip_commits_and_rolls_back(stack):
    engine = create_engine(stack.postgres["allocation"])
    table = f"smoke_{uuid.uuid4().hex[:8]}"
    try:
        with engine.begin() as connection:
            connection.execute(text(f"create table {table} (id int primary key, note text)"))
            connection.execute(text(f"insert into {table} values (1, 'kept')"))
        connection = engine.connect()
        transaction = connection.begin()
        connection.execute(text(f"insert into {table} values (2, 'rolled back')"))
        transaction.rollback()
        connection.close()
        with engine.connect() as connection:
            rows = connection.execute(text(f"select id, note from {table}")).all()
        assert [tuple(r) for r in rows] == [(1, "kept")]
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"drop table if exists {table}"))
        engine.dispose()
