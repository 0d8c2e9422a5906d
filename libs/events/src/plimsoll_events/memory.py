"""An event store in memory: the contract of `plimsoll_events.store.EventStore`, no I/O.

For unit tests of handlers and deciders. It keeps the store's guarantees
(tests/stack/test_event_store.py runs one contract suite against both):
appends at an expected version or `ConcurrencyError`, atomic and thread-safe;
dense positions; idempotency keys with a request fingerprint
(`IdempotencyKeyReused`); the same refusals of events too large
(`EventTooLarge`) or that PostgreSQL could not hold (`UnstorableEvent`: a NUL
or an unpaired surrogate in text); `import_events` of whole new streams only.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime

from plimsoll_events.committer import ConcurrencyError, Idempotency, IdempotencyKeyReused
from plimsoll_events.records import NewEvent, RecordedEvent
from plimsoll_events.store import MAX_EVENT_BYTES, AppendTo, UnstorableEvent, encode_events

__all__ = ["MemoryStore"]


class MemoryStore:
    """Every recorded event in a list (``events``, in position order), guarded by one lock."""

    def __init__(self, *, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self.events: list[RecordedEvent] = []
        self.max_event_bytes = max_event_bytes
        self._streams: dict[str, list[RecordedEvent]] = {}
        # By the key's digest, as the database keeps it: (stream, fingerprint, events).
        self._keys: dict[str, tuple[str, str, list[RecordedEvent]]] = {}
        self._lock = threading.RLock()

    # --- writing -----------------------------------------------------------------------------

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        """`EventStore.append`: all of ``events`` at ``expected_version`` + 1, or nothing."""
        if not events:
            raise ValueError("append needs at least one event")
        if expected_version < 0:
            raise ValueError("expected_version cannot be negative")
        self._check_storable(stream_id, events)
        with self._lock:
            if idempotency is not None:
                earlier = self.recorded_for(stream_id, idempotency)
                if earlier is not None:
                    return earlier
            if len(self._streams.get(stream_id, ())) != expected_version:
                raise ConcurrencyError(stream_id, expected_version)
            recorded = self._record(stream_id, events)
            if idempotency is not None:
                self._keys[idempotency.digest] = (stream_id, idempotency.fingerprint, recorded)
            return recorded

    def append_many(self, appends: Sequence[AppendTo]) -> list[list[RecordedEvent] | Exception]:
        """`EventStore.append_many`: each append on its own, its events or its refusal."""
        if any(not a.events or a.expected_version < 0 for a in appends):
            raise ValueError("each append needs events and a non-negative expected_version")
        done: list[list[RecordedEvent] | Exception] = []
        for a in appends:
            try:
                done.append(
                    self.append(
                        a.stream_id, a.expected_version, a.events, idempotency=a.idempotency
                    )
                )
            except (ConcurrencyError, IdempotencyKeyReused, ValueError) as exc:
                done.append(exc)  # ValueError: EventTooLarge, UnstorableEvent
        return done

    def import_events(self, streams: Iterable[tuple[str, Sequence[NewEvent]]]) -> int:
        """`EventStore.import_events`: whole new streams, all or nothing."""
        loaded = [(stream_id, list(events)) for stream_id, events in streams]
        for stream_id, events in loaded:
            self._check_storable(stream_id, events)
        with self._lock:
            seen: set[str] = set()
            for stream_id, _ in loaded:
                if stream_id in self._streams or stream_id in seen:
                    raise ConcurrencyError(stream_id, 0)
                seen.add(stream_id)
            for stream_id, events in loaded:
                if events:
                    self._record(stream_id, events)
            return sum(len(events) for _, events in loaded)

    def _record(self, stream_id: str, events: Sequence[NewEvent]) -> list[RecordedEvent]:
        stream = self._streams.setdefault(stream_id, [])
        now = datetime.now(UTC)
        recorded = [
            RecordedEvent(
                position=len(self.events) + n,
                stream_id=stream_id,
                stream_version=len(stream) + n,
                event_id=e.event_id,
                type=e.type,
                version=e.version,
                subject=e.subject,
                data=e.data,
                metadata=e.metadata,
                recorded_at=now,
            )
            for n, e in enumerate(events, start=1)
        ]
        self.events.extend(recorded)
        stream.extend(recorded)
        return recorded

    def _check_storable(self, stream_id: str, events: Sequence[NewEvent]) -> None:
        """Refuse what PostgreSQL would: too large, a NUL in text or JSON, bad UTF-8."""
        data, metadata = encode_events(stream_id, events, self.max_event_bytes)
        texts = [stream_id, *(t for e in events for t in (e.type, e.subject or ""))]
        for text in texts:
            if "\x00" in text:
                raise UnstorableEvent(stream_id, "text fields cannot contain NUL (0x00) bytes")
            try:
                text.encode()
            except UnicodeEncodeError as exc:
                raise UnstorableEvent(stream_id, str(exc)) from exc
        if any("\\u0000" in json for json in (*data, *metadata)):
            raise UnstorableEvent(stream_id, "unsupported Unicode escape sequence (\\u0000)")

    # --- reading -----------------------------------------------------------------------------

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        with self._lock:
            return list(self._streams.get(stream_id, [])[after_version:])

    def read_streams(self, stream_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        with self._lock:
            return {stream_id: self.read_stream(stream_id) for stream_id in stream_ids}

    def read_all(
        self, after_position: int = 0, limit: int = 1000, types: Collection[str] | None = None
    ) -> list[RecordedEvent]:
        """Events after ``after_position`` in position order (positions are 1, 2, 3...),
        only ``types`` when given."""
        start = max(after_position, 0)
        with self._lock:
            if types is None:
                return self.events[start : start + limit]
            after = self.events[start:]
        return [event for event in after if event.type in types][:limit]

    def recorded_for(self, stream_id: str, idempotency: Idempotency) -> list[RecordedEvent] | None:
        with self._lock:
            earlier = self._keys.get(idempotency.digest)
        if earlier is None:
            return None
        earlier_stream, fingerprint, recorded = earlier
        if earlier_stream != stream_id or fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(stream_id, earlier_stream)
        return list(recorded)

    def head_position(self) -> int:
        with self._lock:
            return len(self.events)
