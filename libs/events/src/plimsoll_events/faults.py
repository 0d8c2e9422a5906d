"""Which database failures are worth retrying, and which are the data's own fault.

The event machinery treats the two differently everywhere: a *transient*
failure (the connection went away, the server restarted, a serialization
failure or deadlock, the server out of a resource for now) says nothing about
the events being handled, so the work is retried and no event is blamed; any
other failure while applying or storing one event is *deterministic*: the same
event fails the same way again, so it is set aside (refused, parked,
dead-lettered) and the rest carry on.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy import exc as sa_exc

# SQLSTATE classes of failures that are not the statement's fault: connection exception,
# transaction rollback (serialization failure, deadlock), insufficient resources, object
# not in prerequisite state (lock not available), operator intervention (shutdown, cancel),
# system error.
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "55", "57", "58"})
# Class 54 (program limit exceeded: a row or value too big) is an OperationalError in
# psycopg, but the same statement fails the same way again.
_DETERMINISTIC_CLASSES = frozenset({"54"})


def _chain(error: BaseException) -> list[BaseException]:
    """The error, what it wraps (SQLAlchemy's ``orig``) and what caused it, once each."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo.extend([getattr(current, "orig", None), current.__cause__, current.__context__])
    return [e for e in seen if isinstance(e, BaseException)]


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None)
    return state if isinstance(state, str) else None


def is_transient(error: BaseException) -> bool:
    """True when retrying the same work later may well succeed (see the module docstring)."""
    for cause in _chain(error):
        if isinstance(cause, sa_exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, sa_exc.DisconnectionError | sa_exc.TimeoutError):
            return True
        if isinstance(cause, psycopg.Error):
            state = _sqlstate(cause)
            if state is not None and state[:2] in _DETERMINISTIC_CLASSES:
                return False
            if state is not None and state[:2] in _TRANSIENT_CLASSES:
                return True
            # Client-side: the connection is closed or broken, the server unreachable.
            if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError):
                return state is None
        if isinstance(cause, ConnectionError | TimeoutError):
            return True
    return False


def is_disconnect(error: BaseException) -> bool:
    """True when ``error`` says the connection is gone: the server closed it, shut down or
    restarted (SQLSTATE 08, 57P01-57P03), or the driver could not reach it (no SQLSTATE)."""
    for cause in _chain(error):
        if isinstance(cause, psycopg.OperationalError | psycopg.InterfaceError):
            state = _sqlstate(cause)
            if state is None or state[:2] == "08" or state.startswith("57P"):
                return True
    return False


def connection_lost(conn: psycopg.Connection[Any], error: BaseException) -> bool:
    """True when ``conn`` can no longer be used after ``error`` (it must be replaced)."""
    return conn.closed or conn.broken or is_disconnect(error)


def database_reason(error: BaseException) -> str:
    """What the database (or the driver) said, in one line, for a person to read."""
    if isinstance(error, psycopg.Error) and error.diag.message_primary:
        detail = error.diag.message_detail
        return error.diag.message_primary + (f" ({detail})" if detail else "")
    return " ".join(str(error).split()) or type(error).__name__
