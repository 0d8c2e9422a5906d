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
  weakening durability.
"""

from __future__ import annotations

import json
import queue
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from plimsoll_events.records import Metadata, NewEvent, RecordedEvent


class ConcurrencyError(Exception):
    """The stream is not at the version the writer expected (HTTP 409 at the edge)."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is no longer at version {expected_version}: "
            "reload it and decide again"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version


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
create table if not exists idempotency_keys (
    key            text primary key,
    stream_id      text not null,
    first_position bigint not null,
    last_position  bigint not null
);
-- Events are never updated or deleted: corrections are new events.
create or replace function events_are_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'events are immutable: record a correcting event instead';
end $$;
drop trigger if exists events_immutable on events;
create trigger events_immutable before update or delete on events
    for each statement execute function events_are_immutable();
"""

# The version check and the counter update share one statement: when the stream
# has moved on, the counter is not touched and nothing is written.
APPEND = """
with current_version as (
    select coalesce(max(stream_version), 0) as v from events where stream_id = %(stream_id)s
), head as (
    update event_log_head set last_position = last_position + %(count)s
    where id = 1 and (select v from current_version) = %(expected)s
    returning last_position - %(count)s as base
)
insert into events
    (position, stream_id, stream_version, event_id, type, version, subject, data, metadata)
select head.base + e.n, %(stream_id)s, %(expected)s + e.n,
       e.event_id, e.type, e.version, e.subject, e.data, e.metadata
from head,
     unnest(%(event_ids)s::uuid[], %(types)s::text[], %(versions)s::int[],
            %(subjects)s::text[], %(data)s::jsonb[], %(metadata)s::jsonb[])
         with ordinality as e(event_id, type, version, subject, data, metadata, n)
returning position, stream_version, recorded_at
"""

SELECT = """
select position, stream_id, stream_version, event_id, type, version, subject, data, metadata,
       recorded_at
from events
"""
READ_SPAN = SELECT + "where position between %s and %s order by position"
READ_STREAM = SELECT + "where stream_id = %s and stream_version > %s order by stream_version"
READ_ALL = SELECT + "where position > %s order by position limit %s"
COPY_EVENTS = (
    "copy events (position, stream_id, stream_version, event_id, type, version, subject, data, "
    "metadata) from stdin"
)


def _metadata_json(metadata: Metadata) -> dict[str, Any]:
    return {
        "actor": metadata.actor,
        "correlation_id": str(metadata.correlation_id),
        "causation_id": str(metadata.causation_id) if metadata.causation_id else None,
        "traceparent": metadata.traceparent,
        "tracestate": metadata.tracestate,
    }


def _metadata_from(raw: dict[str, Any]) -> Metadata:
    return Metadata(
        actor=raw["actor"],
        correlation_id=UUID(raw["correlation_id"]),
        causation_id=UUID(raw["causation_id"]) if raw.get("causation_id") else None,
        traceparent=raw.get("traceparent"),
        tracestate=raw.get("tracestate"),
    )


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


@dataclass(frozen=True)
class _Append:
    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]
    idempotency_key: str | None


_Pending = tuple[_Append, "Future[list[RecordedEvent]]"]


class EventStore:
    """Append to and read from one service's event store."""

    def __init__(self, engine: Engine, *, max_batch: int = 256) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._committer: threading.Thread | None = None
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
        idempotency_key: str | None = None,
    ) -> list[RecordedEvent]:
        """Append ``events`` to ``stream_id`` if it is still at ``expected_version``.

        Atomic: all of ``events`` are recorded, or none. With an
        ``idempotency_key`` seen before, nothing new is written and the events
        recorded the first time are returned.
        """
        if not events:
            raise ValueError("append needs at least one event")
        if expected_version < 0:
            raise ValueError("expected_version cannot be negative")
        future: Future[list[RecordedEvent]] = Future()
        self._ensure_committer()
        self._queue.put((_Append(stream_id, expected_version, events, idempotency_key), future))
        return future.result()

    def _ensure_committer(self) -> None:
        if self._committer is None:
            with self._start_lock:
                if self._committer is None:
                    self._committer = threading.Thread(
                        target=self._commit_loop, name="event-store-committer", daemon=True
                    )
                    self._committer.start()

    def close(self) -> None:
        if self._committer is not None:
            self._queue.put(None)
            self._committer.join()
            self._committer = None

    def _commit_loop(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        while True:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            # Whatever queued up while the last commit was flushing rides along now.
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            try:
                if conn is None or conn.closed:
                    conn = self._new_connection()
                self._commit_batch(conn, batch)
            except Exception as exc:
                if conn is not None:
                    conn.close()
                conn = None
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
        if conn is not None:
            conn.close()

    def _commit_batch(self, conn: psycopg.Connection[Any], batch: list[_Pending]) -> None:
        try:
            with conn.transaction():
                results = [self._write(conn, request) for request, _ in batch]
        except psycopg.errors.UniqueViolation:
            # Another process won a race inside this batch; settle each append alone
            # so that only the losers fail.
            for request, future in batch:
                try:
                    with conn.transaction():
                        outcome = self._write(conn, request)
                except psycopg.errors.UniqueViolation:
                    outcome = ConcurrencyError(request.stream_id, request.expected_version)
                _settle(future, outcome)
            return
        for (_, future), outcome in zip(batch, results, strict=True):
            _settle(future, outcome)

    def _write(
        self, conn: psycopg.Connection[Any], request: _Append
    ) -> list[RecordedEvent] | ConcurrencyError:
        if request.idempotency_key is not None:
            earlier = self._recorded_under(conn, request.idempotency_key)
            if earlier is not None:
                return earlier
        events = request.events
        rows = conn.execute(
            APPEND,
            {
                "stream_id": request.stream_id,
                "expected": request.expected_version,
                "count": len(events),
                "event_ids": [e.event_id for e in events],
                "types": [e.type for e in events],
                "versions": [e.version for e in events],
                "subjects": [e.subject for e in events],
                "data": [Jsonb(e.data) for e in events],
                "metadata": [Jsonb(_metadata_json(e.metadata)) for e in events],
            },
        ).fetchall()
        if not rows:
            return ConcurrencyError(request.stream_id, request.expected_version)
        if request.idempotency_key is not None:
            conn.execute(
                "insert into idempotency_keys values (%s, %s, %s, %s)",
                (request.idempotency_key, request.stream_id, rows[0][0], rows[-1][0]),
            )
        return [
            RecordedEvent(
                position=position,
                stream_id=request.stream_id,
                stream_version=stream_version,
                event_id=event.event_id,
                type=event.type,
                version=event.version,
                subject=event.subject,
                data=event.data,
                metadata=event.metadata,
                recorded_at=recorded_at,
            )
            for (position, stream_version, recorded_at), event in zip(rows, events, strict=True)
        ]

    def _recorded_under(
        self, conn: psycopg.Connection[Any], key: str
    ) -> list[RecordedEvent] | None:
        span = conn.execute(
            "select first_position, last_position from idempotency_keys where key = %s", (key,)
        ).fetchone()
        if span is None:
            return None
        rows = conn.execute(READ_SPAN, span).fetchall()
        return [_recorded(row) for row in rows]

    def import_events(self, streams: Iterable[tuple[str, Sequence[NewEvent]]]) -> int:
        """Bulk-load whole new streams through COPY, in one transaction.

        For onboarding an existing workforce or replaying an archive: every
        stream must be new (a stream that already exists raises
        :class:`ConcurrencyError` and nothing is imported). Returns the number
        of events imported.
        """
        with self._connect() as conn, conn.transaction():
            row = conn.execute(
                "select last_position from event_log_head where id = 1 for update"
            ).fetchone()
            base = position = int(row[0]) if row else 0
            stream_id = ""
            try:
                with conn.cursor().copy(COPY_EVENTS) as copy:
                    for stream_id, events in streams:
                        for stream_version, event in enumerate(events, start=1):
                            position += 1
                            copy.write(_copy_line(position, stream_id, stream_version, event))
            except psycopg.errors.UniqueViolation as exc:
                # Version 1 of a stream that exists already: the stream is not new.
                raise ConcurrencyError(_conflicting_stream(exc) or stream_id, 0) from exc
            conn.execute("update event_log_head set last_position = %s where id = 1", (position,))
            return position - base

    # --- reading -----------------------------------------------------------------------------

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        with self._connect() as conn:
            rows = conn.execute(READ_STREAM, (stream_id, after_version)).fetchall()
        return [_recorded(row) for row in rows]

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        """Events after ``after_position`` in position order; never skips one."""
        with self._connect() as conn:
            rows = conn.execute(READ_ALL, (after_position, limit)).fetchall()
        return [_recorded(row) for row in rows]

    def head_position(self) -> int:
        with self._connect() as conn:
            row = conn.execute("select last_position from event_log_head where id = 1").fetchone()
        return int(row[0]) if row else 0

    # --- connections -------------------------------------------------------------------------

    def _new_connection(self) -> psycopg.Connection[Any]:
        return psycopg.connect(psycopg_url(self._engine), autocommit=True)

    @contextmanager
    def _connect(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection whose work is committed on success, rolled back on error."""
        raw = self._engine.raw_connection()
        try:
            conn: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
            yield conn
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()


def psycopg_url(engine: Engine) -> str:
    """The engine's database as a plain libpq URL, for connections outside its pool."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _settle(
    future: Future[list[RecordedEvent]], outcome: list[RecordedEvent] | ConcurrencyError
) -> None:
    if isinstance(outcome, ConcurrencyError):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _conflicting_stream(error: psycopg.errors.UniqueViolation) -> str | None:
    detail = error.diag.message_detail or ""
    found = re.search(r"\(stream_id, stream_version\)=\((.*), \d+\)", detail)
    return found.group(1) if found else None


def _copy_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def _copy_line(position: int, stream_id: str, stream_version: int, event: NewEvent) -> str:
    subject = _copy_text(event.subject) if event.subject is not None else "\\N"
    return (
        f"{position}\t{_copy_text(stream_id)}\t{stream_version}\t{event.event_id}\t"
        f"{_copy_text(event.type)}\t{event.version}\t{subject}\t"
        f"{_copy_text(json.dumps(event.data, separators=(',', ':')))}\t"
        f"{_copy_text(json.dumps(_metadata_json(event.metadata), separators=(',', ':')))}\n"
    )
