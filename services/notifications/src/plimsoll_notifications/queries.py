"""Reads, apart from commands: the inbox (store-fed, so a read after a write sees it), a
notification's history (its stream), subscriptions and preferences."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.store import EventStore
from sqlalchemy import text

from plimsoll_notifications.domain.notification import notification_stream

Row = dict[str, Any]
_ITEM = (
    "notification_id, position, recipient, practitioner_id, title, link, identifiers, step, "
    "rule, urgent, needs_acknowledgement, acknowledge_by, round, sent_at, read_at, "
    "acknowledged_at, escalated_at"
)


class NotificationQueries:
    def __init__(self, records: StoreFedReadModel, store: EventStore) -> None:
        self.records = records
        self.store = store

    def _rows(self, sql: str, **values: Any) -> list[Row]:
        with self.records.reading() as conn:
            return [dict(row) for row in conn.execute(text(sql), values).mappings()]

    def inbox(self, recipient: str, *, unread: bool = False, limit: int = 100) -> list[Row]:
        where = " and read_at is null" if unread else ""
        return self._rows(
            f"select {_ITEM} from notification_inbox where recipient = :r{where} "  # noqa: S608
            "order by position desc limit :limit",
            r=recipient,
            limit=limit,
        )

    def since(self, recipient: str, position: int, limit: int = 500) -> list[Row]:
        """Inbox items delivered (or re-delivered) after `position`, oldest first, at most
        `limit` (the next call, after the last one's position, gets the rest)."""
        return self._rows(
            f"select {_ITEM} from notification_inbox where recipient = :r "  # noqa: S608
            "and position > :p order by position limit :limit",
            r=recipient,
            p=position,
            limit=limit,
        )

    def head(self) -> int:
        with self.records.reading() as conn:
            return self.records.position(conn)

    def item(self, notification_id: str) -> Row | None:
        rows = self._rows(
            f"select {_ITEM} from notification_inbox where notification_id = :id",  # noqa: S608
            id=notification_id,
        )
        return rows[0] if rows else None

    def history(self, notification_id: str) -> Sequence[Row]:
        return [
            {"type": e.type, "position": e.position, "recorded_at": e.recorded_at, "data": e.data}
            for e in self.store.read_stream(notification_stream(notification_id))
        ]

    def subscriptions(self) -> list[Row]:
        return self._rows("select * from webhook_subscriptions order by subscription_id")

    def preferences(self, username: str) -> Row | None:
        rows = self._rows("select * from notification_preferences where username = :u", u=username)
        return rows[0] if rows else None
