"""An event store in memory, for unit tests of handlers: no I/O, same contract."""

from collections.abc import Sequence
from datetime import UTC, datetime

from plimsoll_events.records import NewEvent, RecordedEvent
from plimsoll_events.store import ConcurrencyError, Idempotency, IdempotencyKeyReused


class MemoryStore:
    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.keys: dict[str, tuple[str, list[RecordedEvent]]] = {}

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        return [
            e for e in self.events if e.stream_id == stream_id and e.stream_version > after_version
        ]

    def read_streams(self, stream_ids) -> dict[str, list[RecordedEvent]]:
        return {stream_id: self.read_stream(stream_id) for stream_id in stream_ids}

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        if idempotency is not None:
            earlier = self.recorded_for(stream_id, idempotency)
            if earlier is not None:
                return earlier
        if len(self.read_stream(stream_id)) != expected_version:
            raise ConcurrencyError(stream_id, expected_version)
        recorded = [
            RecordedEvent(
                position=len(self.events) + n,
                stream_id=stream_id,
                stream_version=expected_version + n,
                event_id=e.event_id,
                type=e.type,
                version=e.version,
                subject=e.subject,
                data=e.data,
                metadata=e.metadata,
                recorded_at=datetime.now(UTC),
            )
            for n, e in enumerate(events, start=1)
        ]
        self.events.extend(recorded)
        if idempotency is not None:
            self.keys[idempotency.key] = (idempotency.fingerprint, recorded)
        return recorded

    def recorded_for(self, stream_id: str, idempotency: Idempotency) -> list[RecordedEvent] | None:
        earlier = self.keys.get(idempotency.key)
        if earlier is None:
            return None
        fingerprint, recorded = earlier
        if recorded[0].stream_id != stream_id or fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused(stream_id, recorded[0].stream_id)
        return recorded
