"""What an event store takes in and gives back."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4


@dataclass(frozen=True)
class Metadata:
    """Why and by whom an event was recorded, and where it sits in a trace."""

    actor: str
    correlation_id: UUID
    causation_id: UUID | None = None
    traceparent: str | None = None
    tracestate: str | None = None


@dataclass(frozen=True)
class NewEvent:
    """An event a command decided on, not yet in the store."""

    type: str
    version: int
    data: dict[str, Any]
    subject: str | None
    metadata: Metadata
    event_id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as the store holds it: immutable, with its place in the stream and the log."""

    position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    type: str
    version: int
    subject: str | None
    data: dict[str, Any]
    metadata: Metadata
    recorded_at: datetime
