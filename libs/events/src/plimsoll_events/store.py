"""The PostgreSQL event store: the source of truth of each service.

Guarantees, by construction:

* **No lost appends.** A stream's next version must be exactly the expected
  version plus one, checked in the same statement that writes; a concurrent
  writer that loses the race gets :class:`ConcurrencyError`, never silence.
* **No gaps.** Global positions come from a one-row counter that is updated in
  the appending transaction. Its row lock serialises appends, so positions are
  dense and commit in position order: a reader that has seen position *n* has
  seen everything before it. (A sequence would not do: it is not transactional.)
* **Group commit.** Appends from many threads are queued to one committer,
  which writes everything waiting in one transaction and one WAL flush. The
  lead over one-transaction-per-append comes from sharing the flush, never from
  weakening durability. One writer's bad event never fails another's append
  (see `plimsoll_events.committer`), and a lost connection is replaced without
  writing anything twice.
* **Bounded events.** An event whose data and metadata exceed
  ``max_event_bytes`` as JSON (`MAX_EVENT_BYTES`, 256 KiB, by default: with its
  envelope well under Kafka's 1 MiB message limit) is refused with
  `EventTooLarge` before it reaches the database; one the database cannot hold
  with `UnstorableEvent`.
* **Reads survive a restart.** A read that finds its pooled connection dead
  (PostgreSQL restarted) discards the pool and is retried once.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, NamedTuple, TypeVar
from uuid import UUID

import psycopg
from opentelemetry import trace
from psycopg.types.json import set_json_loads
from pydantic_core import PydanticSerializationError, from_json, to_json
from sqlalchemy import Engine, event

from plimsoll_events.committer import (
    FIND_KEYS,
    Append,
    ConcurrencyError,
    EventTooLarge,
    GroupCommitter,
    Idempotency,
    IdempotencyKeyReused,
    UnstorableEvent,
    earlier_of,
)
from plimsoll_events.faults import is_disconnect
from plimsoll_events.records import Metadata, NewEvent, RecordedEvent

__all__ = [
    "MAX_EVENT_BYTES",
    "AppendTo",
    "ConcurrencyError",
    "EventStore",
    "EventTooLarge",
    "Idempotency",
    "IdempotencyKeyReused",
    "UnstorableEvent",
    "encode_events",
    "psycopg_url",
]

MAX_EVENT_BYTES: Final = 256 * 1024
"""The most an event's data and metadata may take as JSON (UTF-8 bytes), by default."""

log = logging.getLogger(__name__)
tracer = trace.get_tracer("plimsoll_events.store")


class AppendTo(NamedTuple):
    """One of `append_many`'s appends: `append`'s arguments."""

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]
    idempotency: Idempotency | None = None


T = TypeVar("T")


SCHEMA = """
create table if not exists events (
    position       bigint primary key,
    stream_id      text not null,
    stream_version integer not null check (stream_version > 0),
    event_id       uuid not null unique,
    type           text not null,
    version        integer not null,
    subject        text,
    data           jsonb not null,
    metadata       jsonb not null,
    recorded_at    timestamptz not null default clock_timestamp(),
    unique (stream_id, stream_version)
);
create table if not exists event_log_head (
    id            integer primary key check (id = 1),
    last_position bigint not null
);
insert into event_log_head values (1, 0) on conflict do nothing;
-- key: the SHA-256 of the command's idempotency key; fingerprint: of the request it came with.
create table if not exists idempotency_keys (
    key            text primary key,
    stream_id      text not null,
    first_position bigint not null,
    last_position  bigint not null,
    fingerprint    text not null default ''
);
alter table idempotency_keys add column if not exists fingerprint text not null default '';
-- Events are never updated or deleted: corrections are new events.
create or replace function events_are_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'events are immutable: record a correcting event instead';
end $$;
-- Only when missing: creating a trigger locks the whole table, and a service starting
-- while others read and write must not queue behind (or in front of) their work.
do $$
begin
    if not exists (select from pg_trigger
                   where tgname = 'events_immutable' and tgrelid = 'events'::regclass) then
        create trigger events_immutable before update or delete on events
            for each statement execute function events_are_immutable();
    end if;
end $$;
-- A transaction that records events tells every listener when it commits (a relay in another
-- process: see `EventStore.listen`); one notification per transaction, whoever wrote.
create or replace function events_recorded_notify() returns trigger language plpgsql as $$
begin
    perform pg_notify('plimsoll_events_recorded', '');
    return null;
end $$;
do $$
begin
    if not exists (select from pg_trigger
                   where tgname = 'events_recorded' and tgrelid = 'events'::regclass) then
        create trigger events_recorded after insert on events
            for each statement execute function events_recorded_notify();
    end if;
end $$;
"""
RECORDED_CHANNEL: Final = "plimsoll_events_recorded"
LISTEN_RETRY_SECONDS: Final = 1.0

SELECT = """
select position, stream_id, stream_version, event_id, type, version, subject, data, metadata,
       recorded_at
from events
"""
READ_SPAN = SELECT + "where position between %s and %s order by position"
READ_STREAM = SELECT + "where stream_id = %s and stream_version > %s order by stream_version"
READ_STREAMS = SELECT + "where stream_id = any(%s) order by stream_id, stream_version"
READ_ALL = SELECT + "where position > %s order by position limit %s"
READ_TYPES = SELECT + "where position > %s and type = any(%s) order by position limit %s"
READ_IDS = SELECT + "where event_id = any(%s) order by position"
COPY_EVENTS = (
    "copy events (position, stream_id, stream_version, event_id, type, version, subject, data, "
    "metadata) from stdin (format binary)"
)
# Binary COPY, encoded by psycopg's C row writer: no text escaping, nothing for the server to
# parse but the JSON. The JSON columns go as jsonb's own binary form (a version byte, then
# the text), declared as bytea so that psycopg passes them through as they are.
COPY_TYPES = ["int8", "text", "int4", "uuid", "text", "int4", "text", "bytea", "bytea"]
JSONB_BINARY = b"\x01"


@functools.lru_cache(maxsize=4096)
def _json_string(value: str) -> str:
    return to_json(value).decode()


def _metadata_text(metadata: Metadata) -> str:
    """The metadata column's JSON, written by hand: every event on the hot paths needs one."""
    causation = f'"{metadata.causation_id}"' if metadata.causation_id else "null"
    traceparent = "null" if metadata.traceparent is None else to_json(metadata.traceparent).decode()
    tracestate = "null" if metadata.tracestate is None else to_json(metadata.tracestate).decode()
    return (
        f'{{"actor":{_json_string(metadata.actor)},"correlation_id":"{metadata.correlation_id}",'
        f'"causation_id":{causation},"traceparent":{traceparent},"tracestate":{tracestate}}}'
    )


def _append_span(attributes: dict[str, str | int]) -> trace.Span:
    return tracer.start_span(
        "event-store append",
        attributes={"db.system.name": "postgresql", "db.operation.name": "append", **attributes},
    )


def encode_events(
    stream_id: str, events: Sequence[NewEvent], max_event_bytes: int = MAX_EVENT_BYTES
) -> tuple[list[str], list[str]]:
    """Each event's data and metadata columns as JSON text, checked against the limit.

    Raises `EventTooLarge` for an event whose data and metadata exceed
    ``max_event_bytes`` (UTF-8), `UnstorableEvent` for one that is not JSON text at
    all (an unpaired surrogate cannot be UTF-8).
    """
    data: list[str] = []
    metadata: list[str] = []
    last: tuple[Metadata | None, str] = (None, "")
    for new in events:
        try:
            raw = to_json(new.data)
            if last[0] is not new.metadata:  # the events of one command share theirs
                last = (new.metadata, _metadata_text(new.metadata))
        except PydanticSerializationError as exc:
            raise UnstorableEvent(stream_id, f"not encodable as UTF-8 JSON: {exc}") from exc
        meta = last[1]
        size = len(raw) + len(meta)
        if len(raw) + 4 * len(meta) > max_event_bytes:  # exact only when it may matter
            size = len(raw) + len(meta.encode())
        if size > max_event_bytes:
            raise EventTooLarge(stream_id, size, max_event_bytes)
        data.append(raw.decode())
        metadata.append(meta)
    return data, metadata


def _metadata_from(raw: dict[str, Any]) -> Metadata:
    return Metadata(
        actor=raw["actor"],
        correlation_id=UUID(raw["correlation_id"]),
        causation_id=UUID(raw["causation_id"]) if raw.get("causation_id") else None,
        traceparent=raw.get("traceparent"),
        tracestate=raw.get("tracestate"),
    )


def _read_span(conn: psycopg.Connection[Any], first: int, last: int) -> list[RecordedEvent]:
    return [_recorded(row) for row in conn.execute(READ_SPAN, (first, last)).fetchall()]


def _read_ids(conn: psycopg.Connection[Any], event_ids: Sequence[UUID]) -> list[RecordedEvent]:
    return [_recorded(row) for row in conn.execute(READ_IDS, (list(event_ids),)).fetchall()]


def _recorded(row: tuple[Any, ...]) -> RecordedEvent:
    position, stream_id, stream_version, event_id, type_, version, subject, data, meta, at = row
    return RecordedEvent(
        position=position,
        stream_id=stream_id,
        stream_version=stream_version,
        event_id=event_id,
        type=type_,
        version=version,
        subject=subject,
        data=data,
        metadata=_metadata_from(meta),
        recorded_at=at,
    )


def _parse_json_with_pydantic(connection: psycopg.Connection[Any], _: object) -> None:
    set_json_loads(from_json, connection)


class EventStore:
    """Append to and read from one service's event store.

    ``max_event_bytes`` bounds each event (see `MAX_EVENT_BYTES`); ``reconnect_seconds``
    is how long an append waits for a lost database to come back before failing.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 512,
        max_event_bytes: int = MAX_EVENT_BYTES,
        reconnect_seconds: float = 10.0,
    ) -> None:
        self._listeners: list[Callable[[Sequence[RecordedEvent]], None]] = []
        self._engine = engine
        # Reading the log is mostly parsing its JSON columns: pydantic's parser does it in a
        # quarter of the time psycopg's default (json.loads) takes, with the same results.
        event.listen(engine, "connect", _parse_json_with_pydantic)
        self._max_batch = max_batch
        self.max_event_bytes = max_event_bytes
        self._reconnect_seconds = reconnect_seconds
        self._committer: GroupCommitter | None = None
        self._start_lock = threading.Lock()

    # --- schema ------------------------------------------------------------------------------

    def create_schema(self) -> None:
        with self._connect() as conn:
            conn.execute("select pg_advisory_xact_lock(hashtext('plimsoll_events_schema'))")
            conn.execute(SCHEMA)

    # --- writing -----------------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        """Append ``events`` to ``stream_id`` if it is still at ``expected_version``.

        Atomic: all of ``events`` are recorded, or none. With an ``idempotency``
        key seen before for the same stream and request, nothing new is written
        and the events recorded the first time are returned; seen for another,
        :class:`IdempotencyKeyReused`. Raises :class:`ConcurrencyError` when the
        stream has moved on, :class:`EventTooLarge` or :class:`UnstorableEvent`
        for an event the store will not or cannot hold (nothing written, and no
        other writer affected). Exactly once even when the connection is lost
        and replaced meanwhile.
        """
        if not events:
            raise ValueError("append needs at least one event")
        if expected_version < 0:
            raise ValueError("expected_version cannot be negative")
        span = _append_span({"plimsoll.stream.id": stream_id, "plimsoll.event.count": len(events)})
        if not span.is_recording():  # no tracing configured: spare the context switch
            recorded = self._append(stream_id, expected_version, events, idempotency)
        else:
            with trace.use_span(span, end_on_exit=True):  # the statements' spans nest under it
                recorded = self._append(stream_id, expected_version, events, idempotency)
        for listener in self._listeners:
            listener(recorded)
        return recorded

    def append_many(self, appends: Sequence[AppendTo]) -> list[list[RecordedEvent] | Exception]:
        """`append` for many streams at once, each atomic and judged on its own: for each, its
        recorded events or what `append` would have raised (`ConcurrencyError`, `EventTooLarge`,
        `UnstorableEvent`, `IdempotencyKeyReused`). One writer's wait for all of them, shared
        flushes: for a process that records many outcomes together (a dispatcher's round)."""
        if any(not a.events or a.expected_version < 0 for a in appends):
            raise ValueError("each append needs events and a non-negative expected_version")
        span = _append_span(
            {
                "plimsoll.append.count": len(appends),
                "plimsoll.event.count": sum(len(a.events) for a in appends),
            }
        )
        with trace.use_span(span, end_on_exit=True):
            outcomes: list[list[RecordedEvent] | Exception | None] = []
            requests: list[Append] = []
            for a in appends:
                try:  # encoded here: a bad event fails its own append only
                    data, metadata = encode_events(a.stream_id, a.events, self.max_event_bytes)
                except (EventTooLarge, UnstorableEvent) as exc:
                    outcomes.append(exc)
                    continue
                outcomes.append(None)
                requests.append(
                    Append(a.stream_id, a.expected_version, a.events, a.idempotency, data, metadata)
                )
            committed = iter(self._group_committer().submit_many(requests) if requests else [])
            done = [next(committed) if o is None else o for o in outcomes]
        recorded = [e for outcome in done if not isinstance(outcome, Exception) for e in outcome]
        if recorded:
            for listener in self._listeners:
                listener(recorded)
        return done

    def listen(self, stop: threading.Event, on_recorded: Callable[[], None]) -> None:
        """Call `on_recorded` whenever any process commits events here, until `stop` is set.

        On a connection of its own (LISTEN); once at each (re)connection too, for what was
        committed while nobody listened. A lost connection is made again after a second.
        """
        while not stop.is_set():
            try:
                with psycopg.connect(psycopg_url(self._engine), autocommit=True) as conn:
                    conn.execute(f"listen {RECORDED_CHANNEL}")
                    on_recorded()
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=LISTEN_RETRY_SECONDS, stop_after=1):
                            on_recorded()
            except psycopg.Error:
                log.warning("not listening for recorded events; again in a second", exc_info=True)
                stop.wait(LISTEN_RETRY_SECONDS)

    def on_append(self, listener: Callable[[Sequence[RecordedEvent]], None]) -> None:
        """Call `listener` with what was recorded after every append of this process (to wake
        a relay, or a process manager it concerns, at once instead of at its next poll); it
        must be quick and never raise."""
        self._listeners.append(listener)

    def _append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        idempotency: Idempotency | None,
    ) -> list[RecordedEvent]:
        # Encoded here, on the writer's own thread: a bad event fails its own writer.
        data, metadata = encode_events(stream_id, events, self.max_event_bytes)
        request = Append(stream_id, expected_version, events, idempotency, data, metadata)
        return self._group_committer().submit(request)

    def _group_committer(self) -> GroupCommitter:
        if self._committer is None:
            with self._start_lock:
                if self._committer is None:
                    self._committer = GroupCommitter(
                        connect=lambda: psycopg.connect(psycopg_url(self._engine), autocommit=True),
                        read_span=_read_span,
                        read_ids=_read_ids,
                        max_batch=self._max_batch,
                        reconnect_seconds=self._reconnect_seconds,
                    )
        return self._committer

    def close(self) -> None:
        if self._committer is not None:
            self._committer.close()
            self._committer = None

    def import_events(self, streams: Iterable[tuple[str, Sequence[NewEvent]]]) -> int:
        """Bulk-load whole new streams through COPY, in one transaction.

        For onboarding an existing workforce or replaying an archive: every
        stream must be new (a stream that already exists raises
        :class:`ConcurrencyError` and nothing is imported), and every event
        within ``max_event_bytes`` (else :class:`EventTooLarge`, nothing
        imported). Returns the number of events imported.
        """
        with self._connect() as conn, conn.transaction():
            row = conn.execute(
                "select last_position from event_log_head where id = 1 for update"
            ).fetchone()
            base = position = int(row[0]) if row else 0
            stream_id = ""
            try:
                with conn.cursor().copy(COPY_EVENTS) as copy:
                    copy.set_types(COPY_TYPES)
                    metadata: tuple[Metadata | None, bytes] = (None, b"")
                    for stream_id, events in streams:
                        for stream_version, event in enumerate(events, start=1):
                            position += 1
                            if metadata[0] is not event.metadata:  # events recorded together
                                text = _metadata_text(event.metadata).encode()
                                metadata = (event.metadata, JSONB_BINARY + text)
                            data = to_json(event.data)
                            if len(data) + len(metadata[1]) - 1 > self.max_event_bytes:
                                size = len(data) + len(metadata[1]) - 1
                                raise EventTooLarge(stream_id, size, self.max_event_bytes)
                            copy.write_row(
                                (
                                    position,
                                    stream_id,
                                    stream_version,
                                    event.event_id,
                                    event.type,
                                    event.version,
                                    event.subject,
                                    JSONB_BINARY + data,
                                    metadata[1],
                                )
                            )
            except psycopg.errors.UniqueViolation as exc:
                # Version 1 of a stream that exists already: the stream is not new.
                raise ConcurrencyError(_conflicting_stream(exc) or stream_id, 0) from exc
            conn.execute("update event_log_head set last_position = %s where id = 1", (position,))
            return position - base

    # --- reading -----------------------------------------------------------------------------

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        rows = self._read(lambda c: c.execute(READ_STREAM, (stream_id, after_version)).fetchall())
        return [_recorded(row) for row in rows]

    def read_streams(self, stream_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        """Several whole streams in one query (a team's practitioners, say)."""
        streams: dict[str, list[RecordedEvent]] = {stream_id: [] for stream_id in stream_ids}
        rows = self._read(lambda c: c.execute(READ_STREAMS, (list(stream_ids),)).fetchall())
        for row in rows:
            event = _recorded(row)
            streams[event.stream_id].append(event)
        return streams

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        """Events after ``after_position`` in position order (only ``types``, when given);
        never skips one."""
        query = READ_ALL if types is None else READ_TYPES
        params: tuple[Any, ...] = (
            (after_position, limit) if types is None else (after_position, list(types), limit)
        )
        rows = self._read(lambda c: c.execute(query, params).fetchall())
        return [_recorded(row) for row in rows]

    def recorded_for(self, stream_id: str, idempotency: Idempotency) -> list[RecordedEvent] | None:
        """The events this command recorded before; None if the key is new.

        Raises `IdempotencyKeyReused` when the key recorded a command on another
        stream or from another request.
        """

        def find(conn: psycopg.Connection[Any]) -> Any:
            row = conn.execute(FIND_KEYS, ([idempotency.digest],)).fetchone()
            return None if row is None else earlier_of(conn, row, _read_span)

        earlier = self._read(find)
        if earlier is None:
            return None
        if earlier.stream_id != stream_id or earlier.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(stream_id, earlier.stream_id)
        return list(earlier.events)

    def head_position(self) -> int:
        row = self._read(
            lambda c: c.execute("select last_position from event_log_head where id = 1").fetchone()
        )
        return int(row[0]) if row else 0

    # --- connections -------------------------------------------------------------------------

    def _read(self, query: Callable[[psycopg.Connection[Any]], T]) -> T:
        """Run a read; if its pooled connection was dead (a restart), once more on a new pool."""
        try:
            with self._reading() as conn:
                return query(conn)
        except psycopg.Error as exc:
            if not is_disconnect(exc):
                raise
            # Every connection pooled before the restart is dead too: drop them all.
            self._engine.dispose()
        with self._reading() as conn:
            return query(conn)

    @contextmanager
    def _reading(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection in autocommit for reads: the log is append-only, so a read
        needs no snapshot wider than its statements, and spares BEGIN and COMMIT."""
        with self._connect() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                if not conn.closed:
                    conn.autocommit = False

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection whose work is committed on success, rolled back on error."""
        raw = self._engine.raw_connection()
        try:
            conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
            yield conn
            raw.commit()
        except BaseException:
            if conn.closed or conn.broken:
                raw.invalidate()  # never back into the pool
            else:
                raw.rollback()
            raise
        finally:
            raw.close()


def psycopg_url(engine: Engine) -> str:
    """The engine's database as a plain libpq URL, for connections outside its pool."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _conflicting_stream(error: psycopg.errors.UniqueViolation) -> str | None:
    detail = error.diag.message_detail or ""
    found = re.search(r"\(stream_id, stream_version\)=\((.*), \d+\)", detail)
    return found.group(1) if found else None
