"""Group commit: many writers' appends in one statement, one transaction, one flush.

There is no committer thread. A writer queues its append and, if nobody is
committing, commits itself: everything queued at that moment (at most one
append per stream and per idempotency key, so no two in a batch contend), in a
single statement. Writers that arrive meanwhile wait; when the leader's own
append is done it hands over, and the next waiting writer commits the next
batch. A lone writer therefore pays no thread hand-off, and many writers share
each flush.

The statement checks each stream's expected version, gives the accepted appends
dense positions from the one-row counter, and inserts their events; a rejected
append takes no position.

Guarantees beyond the batch's own atomicity:

* **Per-writer isolation.** If a batch fails for any reason other than a lost
  connection (another process won a race: a unique violation; an event the
  database refuses: a NUL in JSON text, a value out of range), the batch wrote
  nothing and each append is retried alone in its own transaction, so only the
  culprits fail: a loser with `ConcurrencyError`, an event the database cannot
  hold with `UnstorableEvent` (naming the stream and the database's reason).
* **Exactly once across reconnection.** When the connection is lost (the
  server restarted, the session was terminated), the committer reconnects,
  retrying for up to ``reconnect_seconds``, and before writing anything again
  asks by event id which appends of the batch did commit (a commit may have
  succeeded just before its answer was lost): those writers get their recorded
  events, the others are written once. Nothing is written twice, since event
  ids are unique and every retry is checked against them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg

from plimsoll_events.faults import connection_lost, database_reason
from plimsoll_events.records import NewEvent, RecordedEvent
from plimsoll_events.refusals import InvalidValue

log = logging.getLogger(__name__)


class ConcurrencyError(Exception):
    """The stream is not at the version the writer expected (HTTP 409 at the edge)."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(
            f"stream {stream_id!r} is no longer at version {expected_version}: "
            "reload it and decide again"
        )
        self.stream_id = stream_id
        self.expected_version = expected_version


class UnstorableEvent(InvalidValue, ValueError):
    """An event the database cannot hold, whatever the stream's state: text PostgreSQL
    refuses (a NUL, ``\\u0000`` in JSON, an unpaired surrogate), a value out of range.

    The append wrote nothing; the writers batched with it are not affected. At the
    HTTP edge it is an `InvalidValue` (422) naming the field ``data``.
    """

    def __init__(self, stream_id: str, reason: str) -> None:
        super().__init__(f"cannot be stored on stream {stream_id!r}: {reason}", field="data")
        self.stream_id = stream_id


class EventTooLarge(InvalidValue, ValueError):
    """An event whose data and metadata, as JSON, exceed the store's limit per event.

    Refused before it reaches the database (nothing is written); at the HTTP edge
    an `InvalidValue` (422) naming the field ``data``.
    """

    def __init__(self, stream_id: str, size: int, limit: int) -> None:
        super().__init__(
            f"an event on stream {stream_id!r} takes {size} bytes as JSON (data and metadata); "
            f"at most {limit} are accepted",
            field="data",
        )
        self.stream_id = stream_id
        self.size = size
        self.limit = limit


APPEND_BATCH = """
with request as (
    select * from unnest(%(streams)b::text[], %(expected)b::int[], %(counts)b::int[])
        with ordinality as r(stream_id, expected, count, request_no)
), accepted as (
    select r.*, sum(r.count) over (order by r.request_no) - r.count as before
    from request r
    where r.expected = coalesce(
        (select max(e.stream_version) from events e where e.stream_id = r.stream_id), 0)
), head as (
    update event_log_head
    set last_position = last_position + (select coalesce(sum(count), 0) from accepted)
    where id = 1
    returning last_position - (select coalesce(sum(count), 0) from accepted) as base
)
insert into events
    (position, stream_id, stream_version, event_id, type, version, subject, data, metadata)
select head.base + a.before + e.n, a.stream_id, a.expected + e.n,
       e.event_id, e.type, e.version, e.subject, e.data, e.metadata
from head
cross join accepted a
join unnest(%(request_nos)b::int[], %(ns)b::int[], %(event_ids)b::uuid[], %(types)b::text[],
            %(versions)b::int[], %(subjects)b::text[], %(data)b::text[]::jsonb[],
            %(metadata)b::text[]::jsonb[])
     as e(request_no, n, event_id, type, version, subject, data, metadata)
  on e.request_no = a.request_no
returning stream_id, position, stream_version, recorded_at
"""

# One event on one stream, the common case: scalar parameters and a simpler plan.
APPEND_ONE = """
with head as (
    update event_log_head set last_position = last_position + 1
    where id = 1 and %(expected)s = coalesce(
        (select max(stream_version) from events where stream_id = %(stream_id)s), 0)
    returning last_position
)
insert into events
    (position, stream_id, stream_version, event_id, type, version, subject, data, metadata)
select head.last_position, %(stream_id)s, %(expected)s + 1, %(event_id)s, %(type)s,
       %(version)s, %(subject)s, %(data)s::jsonb, %(metadata)s::jsonb
from head
returning stream_id, position, stream_version, recorded_at
"""


class IdempotencyKeyReused(Exception):
    """An idempotency key already recorded another command: another stream, or another
    request (HTTP 422, as the IETF Idempotency-Key draft says)."""

    def __init__(self, stream_id: str, earlier_stream_id: str) -> None:
        where = "" if stream_id == earlier_stream_id else f" on stream {earlier_stream_id!r}"
        super().__init__(
            f"this idempotency key was used for a different command{where}: "
            "use a new key for a new command"
        )
        self.stream_id = stream_id
        self.earlier_stream_id = earlier_stream_id


@dataclass(frozen=True)
class Idempotency:
    """A command's idempotency key and a fingerprint of the request that carried it.

    A retry with the same key and fingerprint gets the first attempt's events back
    and records nothing; the same key with another fingerprint or for another stream
    is refused (`IdempotencyKeyReused`). The store keeps the key's SHA-256, so a key
    of any length costs the same.
    """

    key: str
    fingerprint: str = ""

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.key.encode("utf-8", "surrogatepass")).hexdigest()


FIND_KEYS = (
    "select key, stream_id, first_position, last_position, fingerprint "
    "from idempotency_keys where key = any(%s)"
)
SAVE_KEYS = """
insert into idempotency_keys (key, stream_id, first_position, last_position, fingerprint)
select * from unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::text[])
"""


FIND_EVENTS = "select event_id from events where event_id = any(%s)"


@dataclass(frozen=True)
class Append:
    """One writer's append, its events' JSON columns encoded by the writer itself."""

    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]
    idempotency: Idempotency | None
    data: Sequence[str]  # each event's data column, as JSON text
    metadata: Sequence[str]  # each event's metadata column, as JSON text

    @property
    def key(self) -> str | None:
        return None if self.idempotency is None else self.idempotency.digest


# Recorded events, or why not: ConcurrencyError, IdempotencyKeyReused, UnstorableEvent, or
# what the database said when it is none of those.
Outcome = list[RecordedEvent] | Exception


class _Waiter:
    """One writer's append, and how the writer is woken: when it is done, or to lead. A
    writer with several appends waits on one event for all of them."""

    __slots__ = ("leads", "outcome", "request", "woken")

    def __init__(self, request: Append, woken: threading.Event) -> None:
        self.request = request
        self.outcome: Outcome | None = None
        self.woken = woken
        self.leads = False

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def settle(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.woken.set()

    def lead(self) -> None:
        self.leads = True
        self.woken.set()


ReadSpan = Callable[[psycopg.Connection[Any], int, int], list[RecordedEvent]]
ReadIds = Callable[[psycopg.Connection[Any], Sequence[UUID]], list[RecordedEvent]]


class GroupCommitter:
    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        read_span: ReadSpan,
        read_ids: ReadIds,
        max_batch: int,
        reconnect_seconds: float = 10.0,
    ) -> None:
        self._connect = connect
        self._read_span = read_span
        self._read_ids = read_ids
        self._max_batch = max_batch
        self._reconnect_seconds = reconnect_seconds
        self._waiting: list[_Waiter] = []
        self._leading = False
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    def submit(self, request: Append) -> list[RecordedEvent]:
        (outcome,) = self.submit_many([request])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def submit_many(self, requests: Sequence[Append]) -> list[Outcome]:
        """Several appends queued together, each with its own outcome (one writer's thread hop
        and wait for all of them)."""
        woken = threading.Event()
        mine = [_Waiter(request, woken) for request in requests]
        with self._lock:
            self._waiting.extend(mine)
            leading = not self._leading
            self._leading = True
        while not leading:
            woken.wait()  # some done by someone else's batch, or handed the lead
            woken.clear()  # then the state is read: a wake after this one is not lost
            if all(w.done for w in mine):
                return [w.outcome for w in mine if w.outcome is not None]
            leading = any(w.leads for w in mine)
        try:
            while not all(w.done for w in mine):
                self._commit_next_batch()
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting[0].lead()  # the lead passes to the next writer
                else:
                    self._leading = False
        return [w.outcome for w in mine if w.outcome is not None]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _commit_next_batch(self) -> None:
        with self._lock:
            batch, self._waiting = self._take_batch(self._waiting)
        outcomes = self._commit_across_reconnects([w.request for w in batch])
        for waiter, outcome in zip(batch, outcomes, strict=True):
            waiter.settle(outcome)

    def _commit_across_reconnects(self, requests: list[Append]) -> list[Outcome]:
        """`_commit`, surviving lost connections: reconnect, find what committed, finish once."""
        outcomes: list[Outcome | None] = [None] * len(requests)
        uncertain = False  # whether a lost connection may have committed some of them
        deadline: float | None = None
        pause = 0.05
        while True:
            pending = [i for i, outcome in enumerate(outcomes) if outcome is None]
            conn: psycopg.Connection[Any] | None = None
            try:
                conn = self._connection()
                if uncertain:
                    found = self._committed(conn, [requests[i] for i in pending])
                    for i, recorded in zip(pending, found, strict=True):
                        outcomes[i] = recorded
                    pending = [i for i in pending if outcomes[i] is None]
                done = self._commit(conn, [requests[i] for i in pending], uncertain=uncertain)
                for i, outcome in zip(pending, done, strict=True):
                    outcomes[i] = outcome
                settled = [o for o in outcomes if o is not None]
                assert len(settled) == len(requests)
                return settled
            except Exception as exc:
                lost = conn is None or connection_lost(conn, exc)
                self._discard_connection()
                uncertain = uncertain or conn is not None
                now = time.monotonic()
                deadline = now + self._reconnect_seconds if deadline is None else deadline
                if not lost or now >= deadline:
                    # Not a connection problem (`_commit` isolates everything else), or the
                    # database stayed away: every writer still waiting must hear of it.
                    return [exc if o is None else o for o in outcomes]
                log.warning("event store connection lost (%s); reconnecting", database_reason(exc))
                time.sleep(min(pause, max(0.0, deadline - now)))
                pause = min(pause * 2, 1.0)

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    def _discard_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # it is gone already; closing is only tidying up
                log.debug("closing a lost connection failed", exc_info=True)
        self._conn = None

    def _committed(
        self, conn: psycopg.Connection[Any], requests: list[Append]
    ) -> list[list[RecordedEvent] | None]:
        """For each append, its recorded events if they are in the store (by event id)."""
        ids = [e.event_id for r in requests for e in r.events]
        if not ids:
            return []
        present = {row[0] for row in conn.execute(FIND_EVENTS, (ids,)).fetchall()}
        found = [r for r in requests if r.events[0].event_id in present]
        if not found:
            return [None] * len(requests)
        recorded = self._read_ids(conn, [e.event_id for r in found for e in r.events])
        by_id = {e.event_id: e for e in recorded}
        return [
            [by_id[e.event_id] for e in r.events] if r.events[0].event_id in present else None
            for r in requests
        ]

    def _take_batch(self, waiting: list[_Waiter]) -> tuple[list[_Waiter], list[_Waiter]]:
        """What queued up while the last commit flushed, one append per stream and key."""
        batch: list[_Waiter] = []
        later: list[_Waiter] = []
        claimed: set[str] = set()
        for item in waiting:
            request = item.request
            names = {f"stream:{request.stream_id}"}
            if request.key is not None:
                names.add(f"key:{request.key}")
            if names & claimed or len(batch) >= self._max_batch:
                later.append(item)
            else:
                batch.append(item)
                claimed |= names
        return batch, later

    def _commit(
        self, conn: psycopg.Connection[Any], requests: list[Append], *, uncertain: bool = False
    ) -> list[Outcome]:
        """The batch in one transaction; if it fails, each append alone (see module docstring).

        Raises only when the connection is lost.
        """
        if not requests:
            return []
        try:
            if len(requests) == 1 and requests[0].key is None:
                # One statement is its own transaction: one round trip, one flush.
                return self._write(conn, requests)
            with conn.transaction():
                return self._write(conn, requests)
        except Exception as exc:
            if connection_lost(conn, exc):
                raise
        return [self._write_alone(conn, request, uncertain) for request in requests]

    def _write_alone(
        self, conn: psycopg.Connection[Any], request: Append, uncertain: bool
    ) -> Outcome:
        try:
            with conn.transaction():
                return self._write(conn, [request])[0]
        except psycopg.errors.UniqueViolation:
            if uncertain:
                # Written by an attempt whose answer was lost with its connection?
                (recorded,) = self._committed(conn, [request])
                if recorded is not None:
                    return recorded
            if request.key is not None:
                # A concurrent command with the same key got there first.
                earlier = self._earlier(conn, [request]).get(request.key)
                if earlier is not None:
                    return _answer_to(request, earlier)
            return ConcurrencyError(request.stream_id, request.expected_version)
        except Exception as exc:
            if connection_lost(conn, exc):
                raise
            return _refusal(request, exc)

    def _earlier(self, conn: psycopg.Connection[Any], requests: list[Append]) -> dict[str, Earlier]:
        keys = [r.key for r in requests if r.key is not None]
        if not keys:
            return {}
        rows = conn.execute(FIND_KEYS, (keys,)).fetchall()
        return {row[0]: earlier_of(conn, row, self._read_span) for row in rows}

    def _write(self, conn: psycopg.Connection[Any], requests: list[Append]) -> list[Outcome]:
        earlier = self._earlier(conn, requests)
        fresh = [r for r in requests if r.key not in earlier]
        if len(fresh) == 1 and len(fresh[0].events) == 1:
            rows = conn.execute(APPEND_ONE, self._one(fresh[0])).fetchall()
        else:
            rows = conn.execute(APPEND_BATCH, self._parameters(fresh)).fetchall() if fresh else []
        written: dict[str, list[tuple[int, int, datetime]]] = defaultdict(list)
        for stream_id, position, stream_version, recorded_at in rows:
            written[stream_id].append((position, stream_version, recorded_at))
        keyed = [r for r in fresh if r.idempotency is not None and r.stream_id in written]
        if keyed:
            spans = [sorted(written[r.stream_id]) for r in keyed]
            conn.execute(
                SAVE_KEYS,
                (
                    [r.key for r in keyed],
                    [r.stream_id for r in keyed],
                    [s[0][0] for s in spans],
                    [s[-1][0] for s in spans],
                    [r.idempotency.fingerprint for r in keyed if r.idempotency is not None],
                ),
            )
        outcomes: list[Outcome] = []
        for request in requests:
            if request.key in earlier:
                outcomes.append(_answer_to(request, earlier[request.key]))
            elif request.stream_id in written:
                outcomes.append(_recorded(request, sorted(written[request.stream_id])))
            else:
                outcomes.append(ConcurrencyError(request.stream_id, request.expected_version))
        return outcomes

    def _one(self, request: Append) -> dict[str, Any]:
        (event,) = request.events
        return {
            "stream_id": request.stream_id,
            "expected": request.expected_version,
            "event_id": event.event_id,
            "type": event.type,
            "version": event.version,
            "subject": event.subject,
            "data": request.data[0],
            "metadata": request.metadata[0],
        }

    def _parameters(self, requests: list[Append]) -> dict[str, Any]:
        events = [
            (number, n, e)
            for number, r in enumerate(requests, 1)
            for n, e in enumerate(r.events, 1)
        ]
        return {
            "streams": [r.stream_id for r in requests],
            "expected": [r.expected_version for r in requests],
            "counts": [len(r.events) for r in requests],
            "request_nos": [number for number, _, _ in events],
            "ns": [n for _, n, _ in events],
            "event_ids": [e.event_id for _, _, e in events],
            "types": [e.type for _, _, e in events],
            "versions": [e.version for _, _, e in events],
            "subjects": [e.subject for _, _, e in events],
            "data": [text for r in requests for text in r.data],
            "metadata": [text for r in requests for text in r.metadata],
        }


# Errors that say an event cannot be stored, whatever the state of its stream: data
# exceptions (class 22: NUL in JSON text, out of range), integrity other than uniqueness
# (class 23), program limits (class 54: a value too big), and what the driver refuses to
# send (a NUL in text, an unpaired surrogate).
_UNSTORABLE = (psycopg.DataError, psycopg.IntegrityError, psycopg.errors.ProgramLimitExceeded)


def _refusal(request: Append, error: Exception) -> Exception:
    """The append's own failure, as the writer should hear it."""
    if isinstance(error, (*_UNSTORABLE, UnicodeError)):
        refusal = UnstorableEvent(request.stream_id, database_reason(error))
        refusal.__cause__ = error
        return refusal
    return error


def _recorded(request: Append, rows: list[tuple[int, int, datetime]]) -> list[RecordedEvent]:
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
        for (position, stream_version, recorded_at), event in zip(rows, request.events, strict=True)
    ]


@dataclass(frozen=True)
class Earlier:
    """What an idempotency key recorded: on which stream, from which request, which events."""

    stream_id: str
    fingerprint: str
    events: list[RecordedEvent]


def earlier_of(conn: psycopg.Connection[Any], row: tuple[Any, ...], read_span: ReadSpan) -> Earlier:
    """A `FIND_KEYS` row, with the events it points at."""
    _, stream_id, first, last, fingerprint = row
    return Earlier(stream_id, fingerprint, read_span(conn, first, last))


def _answer_to(request: Append, earlier: Earlier) -> list[RecordedEvent] | IdempotencyKeyReused:
    """The first attempt's events for a retry of the same command; a refusal for another."""
    assert request.idempotency is not None
    if earlier.stream_id != request.stream_id or (
        earlier.fingerprint != request.idempotency.fingerprint
    ):
        return IdempotencyKeyReused(request.stream_id, earlier.stream_id)
    return earlier.events
