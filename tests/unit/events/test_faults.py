"""Which failures the event machinery retries (transient) and which it blames on the event."""

import psycopg
import pytest
import sqlalchemy
from plimsoll_events.faults import is_disconnect, is_transient


def _server_error(cls: type[psycopg.Error]) -> psycopg.Error:
    return cls("as the server said")


@pytest.mark.parametrize(
    "error",
    [
        _server_error(psycopg.errors.SerializationFailure),
        _server_error(psycopg.errors.DeadlockDetected),
        _server_error(psycopg.errors.AdminShutdown),
        _server_error(psycopg.errors.LockNotAvailable),
        psycopg.OperationalError("consuming input failed: server closed the connection"),
        sqlalchemy.exc.OperationalError(
            "select 1", {}, _server_error(psycopg.errors.SerializationFailure)
        ),
        sqlalchemy.exc.TimeoutError("QueuePool limit reached"),
        ConnectionResetError("reset by peer"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_failures_that_say_nothing_about_the_event_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        _server_error(psycopg.errors.NumericValueOutOfRange),
        _server_error(psycopg.errors.UntranslatableCharacter),
        _server_error(psycopg.errors.UniqueViolation),
        _server_error(psycopg.errors.ProgramLimitExceeded),  # an OperationalError, yet the data's
        psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        sqlalchemy.exc.DataError(
            "insert", {}, _server_error(psycopg.errors.NumericValueOutOfRange)
        ),
        ValueError("this practitioner cannot be projected"),
        KeyError("case_id"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_failures_of_the_event_itself_are_not_transient(error):
    assert not is_transient(error)


def test_a_failure_raised_while_handling_a_lost_connection_is_still_transient():
    def roll_back_after_the_connection_was_lost() -> None:
        try:
            raise psycopg.errors.AdminShutdown("terminating connection")
        except psycopg.Error as lost:
            raise RuntimeError("rollback to savepoint failed") from lost

    with pytest.raises(RuntimeError) as raised:
        roll_back_after_the_connection_was_lost()
    assert is_transient(raised.value)
    assert is_disconnect(raised.value)


def test_only_a_lost_connection_is_a_disconnect():
    assert is_disconnect(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert not is_disconnect(_server_error(psycopg.errors.SerializationFailure))
    assert not is_disconnect(_server_error(psycopg.errors.NumericValueOutOfRange))
