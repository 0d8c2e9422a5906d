"""The event every benchmark writes: one practitioner's hours logged, as the
timesheet service records it (the latest version of `hours-logged`: the projection
benchmark's one-pass decoding is for the latest version only), in Plimsoll's shape and
in eventsourcing's.

Both shapes carry the same JSON (data, metadata, type, subject), encoded once
per append inside the timed loop, so neither side is spared serialisation.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import StoredEvent
from plimsoll_events.records import Metadata, NewEvent

EVENT_TYPE = "hours-logged"
EVENT_VERSION = 3
TOPIC = "plimsoll_timesheet.events:HoursLogged"


def _data(practitioner: str, minutes: int) -> dict[str, Any]:
    return {
        "practitioner_id": practitioner,
        "day": "2026-11-30",
        "minutes": minutes,
        "category": "casework",
        "started_at": None,
        "ended_at": None,
        "note": None,
        "on_behalf_reason": None,
    }


def _metadata() -> Metadata:
    return Metadata(actor="mo.manager", correlation_id=uuid4())


def hours_logged(practitioner: str, minutes: int = 60) -> NewEvent:
    """A Plimsoll event, as a command handler would hand it to the store."""
    return NewEvent(
        type=EVENT_TYPE,
        version=EVENT_VERSION,
        data=_data(practitioner, minutes),
        subject=practitioner,
        metadata=_metadata(),
    )


def stored_hours_logged(
    originator_id: UUID, originator_version: int, practitioner: str, minutes: int = 60
) -> StoredEvent:
    """The same event as eventsourcing's mapper would hand it to a recorder."""
    meta = _metadata()
    state = {
        "type": EVENT_TYPE,
        "version": EVENT_VERSION,
        "subject": practitioner,
        "data": _data(practitioner, minutes),
        "metadata": {
            "actor": meta.actor,
            "correlation_id": str(meta.correlation_id),
            "causation_id": None,
            "traceparent": None,
            "tracestate": None,
        },
    }
    return StoredEvent(
        originator_id=originator_id,
        originator_version=originator_version,
        topic=TOPIC,
        state=json.dumps(state, separators=(",", ":")).encode(),
    )
