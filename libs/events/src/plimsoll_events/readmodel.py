"""Read models fed from the service's own event store: caught up before every read.

When to choose which feed:

* **Store-fed (`StoreFedReadModel`, this module)** for a service's read models
  of its *own* events that a command or a read must see up to date: every read
  first applies what the store holds beyond the model's checkpoint, so a read
  after a write that returned sees that write (allocation's caseload, which an
  allocation decision reads; timesheet's own figures). No Kafka on the path: it
  works, and is consistent, while Kafka is down. The cost is a catch-up (two
  cheap queries when nothing is new) on every read, in the reader's request.
* **Kafka-fed (`plimsoll_events.projection.ProjectionRunner`)** for read
  models of *other* services' events (they are only reachable through Kafka),
  or of one's own where eventual consistency is fine and reads must not pay for
  catching up (dashboards, notifications): a runner thread applies events as
  they arrive, with dead letters on ``<topic>.dlq``.

Guarantees of a store-fed read model:

* **One checkpoint per read model**, ``read_model_checkpoints(name, position)``,
  moved in the same transaction as the rows: two read models in one database
  never disturb each other, and positions are gapless and commit in order (see
  `plimsoll_events.store`), so reading after a checkpoint never skips an event.
* **Catch-ups serialise**: a transaction-scoped advisory lock derived from the
  name (keys ``hashtext('plimsoll-read-model')``, ``hashtext(name)``) is taken
  only when there is something to apply; a catch-up that waited re-reads the
  checkpoint, so nothing is applied twice.
* **Batches**: events are read ``batch_size`` at a time, filtered by ``types``,
  decoded through the catalogue (old versions upcast), and handed to
  ``apply(conn, events)`` in position order, in one call per batch.
* **Poison never wedges the service.** If applying a batch fails
  deterministically (a value the table refuses, a bug for one event), it is
  applied again event by event, each in a savepoint; an event that fails alone
  (or cannot be decoded) is *parked* (``read_model_parked``: name, position,
  event id, type, reason), counted in ``plimsoll_read_model_parked_events_total``
  and logged as an error, and the rest are applied: reads keep working. A
  *transient* failure (connection lost, serialization failure, deadlock:
  `plimsoll_events.faults.is_transient`) propagates and nothing is parked: the
  caller's transaction rolls back and the next read tries again.
* **Rebuild equals live**: `rebuild` drops the model, forgets its checkpoint
  and parked events, and replays the log in one transaction (readers wait for
  it rather than read a half-built model); the same events in the same order
  give the same rows and park the same events.

A caller can hold a lock of its own across catch-up, read, decision and append
on one connection (`holding`: a session advisory lock keyed by the read model's
name and a key of the caller's, e.g. a practitioner being allocated to), or run
work that must not interleave with a catch-up under `lock`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, NamedTuple, Protocol
from uuid import UUID

from sqlalchemy import Connection, Engine, text

from plimsoll_events.catalogue import CATALOGUE, Catalogue, EventData
from plimsoll_events.faults import is_transient
from plimsoll_events.metrics import READ_MODEL_PARKED
from plimsoll_events.records import RecordedEvent

__all__ = [
    "PASS_OVER",
    "ParkedEvent",
    "StoreEvent",
    "StoreFedReadModel",
    "StoreReadModel",
    "StoreReader",
    "StoreUpTo",
]

log = logging.getLogger(__name__)

PASS_OVER: Final = 500
"""How far behind the head a read may leave the checkpoint when nothing there is for it."""

SCHEMA: Final = """
create table if not exists read_model_checkpoints (
    name     text primary key,
    position bigint not null
);
create table if not exists read_model_parked (
    name      text not null,
    position  bigint not null,
    event_id  uuid not null,
    type      text not null,
    reason    text not null,
    parked_at timestamptz not null default now(),
    primary key (name, position)
);
"""
_DDL_LOCK: Final = (
    "select pg_advisory_xact_lock(hashtext('plimsoll-read-model-ddl'), hashtext(:name))"
)
_CATCH_UP_LOCK: Final = (
    "select pg_advisory_xact_lock(hashtext('plimsoll-read-model'), hashtext(:name))"
)
_HOLD: Final = "select pg_advisory_lock(hashtext(:namespace), hashtext(:key))"
_RELEASE: Final = "select pg_advisory_unlock(hashtext(:namespace), hashtext(:key))"
_START: Final = "insert into read_model_checkpoints values (:name, 0) on conflict do nothing"
_POSITION: Final = "select position from read_model_checkpoints where name = :name"
_MOVE: Final = "update read_model_checkpoints set position = :position where name = :name"
_PARK: Final = """
insert into read_model_parked (name, position, event_id, type, reason)
values (:name, :position, :event_id, :type, :reason)
on conflict (name, position) do nothing
"""


@dataclass(frozen=True, slots=True)
class StoreEvent:
    """A recorded event and its data, decoded (upcast to the latest version)."""

    recorded: RecordedEvent
    data: EventData

    @property
    def position(self) -> int:
        return self.recorded.position

    @property
    def event_id(self) -> UUID:
        return self.recorded.event_id


@dataclass(frozen=True)
class ParkedEvent:
    """An event a read model could not apply, set aside."""

    position: int
    event_id: UUID
    type: str
    reason: str
    parked_at: datetime


class StoreReadModel(Protocol):
    """The rows of a read model: created, dropped, and changed by a batch of events.

    ``apply`` runs inside the catch-up's transaction and must be deterministic
    (the same events give the same rows): that is what makes a rebuild equal to live.
    """

    name: str

    def create(self, conn: Connection) -> None: ...

    def drop(self, conn: Connection) -> None: ...

    def apply(self, conn: Connection, events: Sequence[StoreEvent]) -> None: ...


class StoreReader(Protocol):
    """What a store-fed read model needs of the event store (`EventStore`, `MemoryStore`)."""

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]: ...

    def head_position(self) -> int: ...


class StoreUpTo:
    """A store as it stood at `position`, later events unseen: to catch a read model up in
    slices (a transaction each), or to where another read model had got to."""

    def __init__(self, store: StoreReader, position: int) -> None:
        self.store, self.position = store, position

    def head_position(self) -> int:
        return self.position

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        events = self.store.read_all(after_position, limit, types)
        return [e for e in events if e.position <= self.position]


class _CaughtUp(NamedTuple):
    position: int
    """The checkpoint now."""
    full: bool = False
    """The last batch read was full: more may be waiting."""
    wrote: bool = False
    """Rows or the checkpoint were written (and the catch-up lock taken) in the transaction."""


class StoreFedReadModel:
    """A `StoreReadModel` kept up to date from ``store``, with its tables on ``engine``.

    Give it an engine of its own (or one sized for it) when callers hold connections
    for long, as `holding` does: lock waiters then never starve the store's pool.
    """

    def __init__(
        self,
        engine: Engine,
        store: StoreReader,
        model: StoreReadModel,
        *,
        types: Collection[str] | None = None,
        batch_size: int = 5000,
        catalogue: Catalogue = CATALOGUE,
    ) -> None:
        self.engine = engine
        self.store = store
        self.model = model
        self.name = model.name
        self.types = None if types is None else frozenset(types)
        self.batch_size = batch_size
        self.catalogue = catalogue
        self._named = {"name": self.name}
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    # --- schema ------------------------------------------------------------------------------

    def create_schema(self) -> None:
        """The shared tables, the checkpoint row and the model's tables (once per process)."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            with self.engine.begin() as conn:
                conn.execute(text(_DDL_LOCK), self._named)
                conn.exec_driver_sql(SCHEMA)
                conn.execute(text(_START), self._named)
                self.model.create(conn)
            self._schema_ready = True

    # --- catching up -------------------------------------------------------------------------

    def catch_up(self, conn: Connection, *, rows_only: bool = False) -> int:
        """Apply every event after the checkpoint; returns the new checkpoint.

        Works in the caller's transaction, which the caller commits: the rows and
        the checkpoint move together, and the lock taken here (only when there is
        something new) keeps other catch-ups out until then. Raises what is
        transient (the caller's transaction must roll back; try again later).
        ``rows_only``: the transaction writes nothing but this read model, so its
        commit need not wait for the WAL to reach the disk. A crash can then take
        back the last catch-ups, rows and checkpoint together, and the next read
        applies those events again: nothing is lost, and a read (which catches up
        first, often over the access log's last event) waits for one disk flush
        fewer.
        """
        return self._catch_up(conn, batches=None, rows_only=rows_only).position

    def step(self, conn: Connection) -> bool:
        """Apply one batch, in the caller's transaction (as `catch_up`); whether it was
        full, so that more may be waiting. A background process manager commits batch
        by batch rather than hold one transaction over a long log."""
        return self._catch_up(conn, batches=1, rows_only=False).full

    def _catch_up(self, conn: Connection, *, batches: int | None, rows_only: bool) -> _CaughtUp:
        self.create_schema()
        position = self.position(conn)
        head = self.store.head_position()
        if position >= head:
            return _CaughtUp(position)  # nothing new: most reads end here, without the lock
        if rows_only and self._none_to_apply(position, head):
            return _CaughtUp(position)
        if rows_only:
            conn.execute(text("set local synchronous_commit to off"))
        self.lock(conn)
        position = self.position(conn)  # another catch-up may have moved it meanwhile
        applied, full = 0, True
        while full and (batches is None or applied < batches):
            batch = self.store.read_all(position, self.batch_size, self.types)
            applied += 1
            full = len(batch) == self.batch_size
            if batch:
                self._apply(conn, batch)
            # A batch short of full holds every event of its types there was when it was
            # read, so every one up to the head read before it: the rest are passed over.
            last = batch[-1].position if batch else position
            moved = last if full else max(head, last)
            if moved > position:
                position = moved
                conn.execute(text(_MOVE), {**self._named, "position": position})
        return _CaughtUp(position, full, wrote=True)

    def _none_to_apply(self, position: int, head: int) -> bool:
        """Whether the events after the checkpoint are only ones this model does not apply
        (the access log's, say): a read need not then write the checkpoint past them (a lock,
        an update and a commit for every read that follows a read). Asked only a few events
        behind the head, so that the events passed over, which every such look reads again,
        stay few: further behind, the catch-up moves the checkpoint past them."""
        if self.types is None or head - position > PASS_OVER:
            return False
        return not self.store.read_all(position, 1, self.types)

    def lock(self, conn: Connection) -> None:
        """Take the catch-up lock until the caller's transaction ends (work that must not
        interleave with a catch-up: moving rows the events do not move, say)."""
        conn.execute(text(_CATCH_UP_LOCK), self._named)

    def position(self, conn: Connection) -> int:
        """The checkpoint: the position of the last event applied (0: none)."""
        return int(conn.execute(text(_POSITION), self._named).scalar_one_or_none() or 0)

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A caught-up connection to read from: reads see every write that returned."""
        with self.engine.connect() as conn:
            if self._catch_up(conn, batches=None, rows_only=True).wrote:
                conn.commit()
            yield conn
            conn.rollback()

    @contextmanager
    def holding(self, key: str) -> Iterator[Connection]:
        """Hold a lock on ``key`` (in this read model's namespace), caught up, for the block.

        A session advisory lock on a connection of this model's engine, taken before
        the catch-up and released when the block ends, whatever happens in it: hold it
        across catch-up, read, decision and append, and everyone holding the same key
        serialises (allocations to one practitioner). The catch-up commits at once, so
        other readers are not kept waiting by the decision.
        """
        keys = {"namespace": f"plimsoll-read-model:{self.name}", "key": key}
        with self.engine.connect() as conn:
            conn.execute(text(_HOLD), keys)
            conn.commit()
            try:
                self.catch_up(conn, rows_only=True)
                conn.commit()
                yield conn
            finally:
                _release(conn, keys)

    def rebuild(self) -> int:
        """Drop the rows, checkpoint and parked events, and replay the whole log, in one
        transaction; returns the new checkpoint."""
        self.create_schema()
        with self.engine.begin() as conn:
            self.lock(conn)
            self.model.drop(conn)
            conn.execute(text("delete from read_model_parked where name = :name"), self._named)
            conn.execute(text(_MOVE), {**self._named, "position": 0})
            self.model.create(conn)
            return self.catch_up(conn)

    def parked(self) -> list[ParkedEvent]:
        """The events set aside, in position order."""
        self.create_schema()
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select position, event_id, type, reason, parked_at from read_model_parked "
                    "where name = :name order by position"
                ),
                self._named,
            ).all()
        return [ParkedEvent(*row) for row in rows]

    # --- one batch ---------------------------------------------------------------------------

    def _apply(self, conn: Connection, batch: Sequence[RecordedEvent]) -> None:
        decoded: list[StoreEvent] = []
        for recorded in batch:
            try:
                data = self.catalogue.decode(recorded.type, recorded.version, recorded.data)
            except Exception as exc:  # bad stored data is the event's own fault
                self._park(conn, recorded, f"undecodable: {type(exc).__name__}: {exc}")
                continue
            decoded.append(StoreEvent(recorded, data))
        if not decoded:
            return
        try:
            with conn.begin_nested():
                self.model.apply(conn, decoded)
            return
        except Exception as exc:
            if is_transient(exc):
                raise
            log.warning(
                "read model %s: a batch failed; applying one event at a time",
                self.name,
                exc_info=True,
            )
        for event in decoded:
            try:
                with conn.begin_nested():
                    self.model.apply(conn, [event])
            except Exception as exc:
                if is_transient(exc):
                    raise
                self._park(conn, event.recorded, f"apply failed: {type(exc).__name__}: {exc}")

    def _park(self, conn: Connection, event: RecordedEvent, reason: str) -> None:
        conn.execute(
            text(_PARK),
            {
                **self._named,
                "position": event.position,
                "event_id": event.event_id,
                "type": event.type,
                "reason": reason,
            },
        )
        READ_MODEL_PARKED.labels(self.name).inc()
        log.error(
            "read model %s parked an event it cannot apply",
            self.name,
            extra={
                "read_model": self.name,
                "position": event.position,
                "event_id": str(event.event_id),
                "type": event.type,
                "reason": reason,
            },
        )


def _release(conn: Connection, keys: dict[str, Any]) -> None:
    try:
        conn.rollback()
        conn.execute(text(_RELEASE), keys)
        conn.commit()
    except Exception:
        # Never hand a connection that may still hold the lock back to the pool.
        conn.invalidate()
        raise
