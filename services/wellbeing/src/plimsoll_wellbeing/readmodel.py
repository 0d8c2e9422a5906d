"""A read model fed from the service's own event store, caught up before each read.

STAND-IN for the kit's store-fed read-model helper (`plimsoll_events.readmodel`, being
finished by another engineer): the same shape (a checkpoint keyed by the read model's name,
batch apply, an advisory lock by name), kept minimal so that it is replaced by the kit's
without touching the read model (`WellbeingRecords`: `name`, `create`, `drop`, `apply`).

Guarantees: `catch_up` applies every event recorded since the checkpoint, in position order
(positions are dense and commit in order: see `plimsoll_events.store`), in one transaction
with the checkpoint, under a transaction-scoped advisory lock named after the read model, so
two catch-ups never apply an event twice. A read after a write that returned sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from plimsoll_events.records import RecordedEvent
from plimsoll_events.store import EventStore
from sqlalchemy import Connection, Engine, text

SCHEMA: Final = """
create table if not exists wellbeing_read_model_checkpoints (
    name     text primary key,
    position bigint not null
);
"""


class StoreFedModel(Protocol):
    name: str

    def create(self, conn: Connection) -> None: ...

    def drop(self, conn: Connection) -> None: ...

    def apply(self, conn: Connection, events: Sequence[RecordedEvent]) -> None: ...


class StoreFed:
    """Keeps `model` caught up with `store`; `start` (with the app) creates its tables."""

    def __init__(
        self, engine: Engine, store: EventStore, model: StoreFedModel, *, batch: int = 5000
    ) -> None:
        self.engine = engine
        self.store = store
        self.model = model
        self.batch = batch
        self._applied = -1  # the last position this process knows applied

    def start(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("select pg_advisory_xact_lock(hashtext(:n))"), {"n": self._ddl})
            conn.exec_driver_sql(SCHEMA)
            self.model.create(conn)

    def stop(self) -> None:
        """Nothing runs in the background."""

    @property
    def _ddl(self) -> str:
        return f"plimsoll-read-model-ddl {self.model.name}"

    def catch_up(self) -> int:
        """Apply what was recorded since the checkpoint; returns the position applied up to
        (at least the store's head when called)."""
        head = self.store.head_position()
        if head <= self._applied:
            return self._applied
        with self.engine.begin() as conn:
            conn.execute(
                text("select pg_advisory_xact_lock(hashtext(:n))"),
                {"n": f"plimsoll-read-model {self.model.name}"},
            )
            position = conn.execute(
                text("select position from wellbeing_read_model_checkpoints where name = :n"),
                {"n": self.model.name},
            ).scalar_one_or_none()
            position = position or 0
            while events := self.store.read_all(position, self.batch):
                self.model.apply(conn, events)
                position = events[-1].position
            conn.execute(
                text(
                    "insert into wellbeing_read_model_checkpoints values (:n, :p) "
                    "on conflict (name) do update set position = excluded.position"
                ),
                {"n": self.model.name, "p": position},
            )
        self._applied = position
        return position

    def rebuild(self) -> None:
        """Drop the read model and its checkpoint; the next catch-up replays the whole log."""
        with self.engine.begin() as conn:
            conn.execute(text("select pg_advisory_xact_lock(hashtext(:n))"), {"n": self._ddl})
            self.model.drop(conn)
            conn.execute(
                text("delete from wellbeing_read_model_checkpoints where name = :n"),
                {"n": self.model.name},
            )
            self.model.create(conn)
        self._applied = -1
