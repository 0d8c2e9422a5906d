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
append takes no position. If another process wins a race inside the batch (a
unique violation), each append is retried alone, so only the losers fail.
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from pydantic_core import to_json

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


@dataclass(frozen=True)
class Append:
    stream_id: str
    expected_version: int
    events: Sequence[NewEvent]
    idempotency: Idempotency | None

    @property
    def key(self) -> str | None:
        return None if self.idempotency is None else self.idempotency.digest


Outcome = list[RecordedEvent] | ConcurrencyError | IdempotencyKeyReused


class _Waiter:
    """One writer's append, and how the writer is woken: when it is done, or to lead."""

    __slots__ = ("outcome", "request", "woken")

    def __init__(self, request: Append) -> None:
        self.request = request
        self.outcome: Outcome | BaseException | None = None
        self.woken = threading.Event()

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def settle(self, outcome: Outcome | BaseException) -> None:
        self.outcome = outcome
        self.woken.set()

    def result(self) -> list[RecordedEvent]:
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        assert self.outcome is not None
        return self.outcome


MetadataText = Callable[[Metadata], str]
ReadSpan = Callable[[psycopg.Connection[Any], int, int], list[RecordedEvent]]


class GroupCommitter:
    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        metadata_text: MetadataText,
        read_span: ReadSpan,
        max_batch: int,
    ) -> None:
        self._connect = connect
        self._metadata_text = metadata_text
        self._read_span = read_span
        self._max_batch = max_batch
        self._waiting: list[_Waiter] = []
        self._leading = False
        self._lock = threading.Lock()
        self._conn: psycopg.Connection[Any] | None = None

    def submit(self, request: Append) -> list[RecordedEvent]:
        me = _Waiter(request)
        with self._lock:
            self._waiting.append(me)
            leading = not self._leading
            self._leading = True
        if not leading:
            me.woken.wait()  # done by someone else's batch, or handed the lead
            if me.done:
                return me.result()
        try:
            while not me.done:
                self._commit_next_batch()
        finally:
            with self._lock:
                if self._waiting:
                    self._waiting[0].woken.set()  # the lead passes to the next writer
                else:
                    self._leading = False
        return me.result()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _commit_next_batch(self) -> None:
        with self._lock:
            batch, self._waiting = self._take_batch(self._waiting)
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            outcomes: list[Outcome | Exception] = list(
                self._commit(self._conn, [w.request for w in batch])
            )
        except Exception as exc:  # every writer in the batch must hear of it
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            outcomes = [exc] * len(batch)
        for waiter, outcome in zip(batch, outcomes, strict=True):
            waiter.settle(outcome)

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

    def _commit(self, conn: psycopg.Connection[Any], requests: list[Append]) -> list[Outcome]:
        try:
            if len(requests) == 1 and requests[0].key is None:
                # One statement is its own transaction: one round trip, one flush.
                return self._write(conn, requests)
            with conn.transaction():
                return self._write(conn, requests)
        except psycopg.errors.UniqueViolation:
            return [self._write_alone(conn, request) for request in requests]

    def _write_alone(self, conn: psycopg.Connection[Any], request: Append) -> Outcome:
        try:
            with conn.transaction():
                return self._write(conn, [request])[0]
        except psycopg.errors.UniqueViolation:
            if request.key is not None:
                # A concurrent command with the same key got there first.
                earlier = self._earlier(conn, [request]).get(request.key)
                if earlier is not None:
                    return _answer_to(request, earlier)
            return ConcurrencyError(request.stream_id, request.expected_version)

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
            "data": to_json(event.data).decode(),
            "metadata": self._metadata_text(event.metadata),
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
            "data": [to_json(e.data).decode() for _, _, e in events],
            "metadata": [self._metadata_text(e.metadata) for _, _, e in events],
        }


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
