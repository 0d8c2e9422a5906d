"""Tickets for the live inbox stream, for browsers.

A browser's native `EventSource` cannot send an `Authorization` header, and an access token
must never travel in a URL (logs, history, referrers keep URLs). So a signed-in client asks
for a ticket with its bearer token (`POST /inbox/stream-tickets`) and opens
`GET /inbox/stream?ticket=...` with it. A ticket:

* opens the stream of the one person it was issued to, and nothing else (no other route
  takes it);
* expires after `TICKET_LIFETIME` (a minute): long enough for `EventSource`'s own reconnects
  after a dropped connection, too short to be worth stealing; a stream opened with it stays
  open after it expires;
* is 32 random bytes; only its SHA-256 is kept, in the service's database, so every replica
  accepts it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import Engine, text

TICKET_LIFETIME: Final = timedelta(seconds=60)


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue(engine: Engine, recipient: str, now: datetime) -> tuple[str, datetime]:
    """A new ticket for `recipient`'s stream, and when it expires."""
    ticket = "st_" + secrets.token_urlsafe(32)
    expires_at = now + TICKET_LIFETIME
    with engine.begin() as conn:
        conn.execute(
            text("delete from notification_stream_tickets where expires_at < :now"), {"now": now}
        )
        conn.execute(
            text("insert into notification_stream_tickets values (:h, :r, :e)"),
            {"h": _hash(ticket), "r": recipient, "e": expires_at},
        )
    return ticket, expires_at


def redeem(engine: Engine, ticket: str, now: datetime) -> str | None:
    """Whose stream the ticket opens; None for a ticket unknown or expired."""
    with engine.connect() as conn:
        found = conn.execute(
            text(
                "select recipient from notification_stream_tickets "
                "where ticket_hash = :h and expires_at > :now"
            ),
            {"h": _hash(ticket), "now": now},
        ).scalar_one_or_none()
    return None if found is None else str(found)
