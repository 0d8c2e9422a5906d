"""What an event store takes in and gives back."""

import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


def new_event_id() -> UUID:
    """A UUIDv7 (RFC 9562): time-ordered, so the store's id index grows at one end.

    48 bits of Unix milliseconds, the version, 74 random bits and the variant.
    """
    milliseconds = time.time_ns() // 1_000_000
    random = int.from_bytes(os.urandom(10), "big")
    value = (
        (milliseconds & (2**48 - 1)) << 80
        | 0x7 << 76
        | (random >> 62 & 0xFFF) << 64
        | 0b10 << 62
        | random & (2**62 - 1)
    )
    return UUID(int=value)


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
    event_id: UUID = field(default_factory=new_event_id)


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
