"""The allocation service's events as HMPPS domain events, for HMPPS consumers unchanged.

HMPPS services publish domain events in one envelope (eventType, version,
description, detailUrl, occurredAt, additionalInformation, personReference;
docs/reference/hmpps-domain-event.schema.json). Plimsoll publishes two of
them, on a topic of their own (`HMPPS_TOPIC`) beside its CloudEvents; their
published contract (names, payload schemas, examples) is `plimsoll_events.hmpps`:

* `case-allocated` and `case-reallocated` become
  `person.community.manager.allocated` v1: the person is the case (CRN =
  case id); additionalInformation has allocationId (the Plimsoll event id),
  staffCode (the practitioner) and teamCode; detailUrl is this service's
  `GET /cases/{id}`. Keyed by the CRN, so a person's allocations stay in order.
* the events that change a practitioner's available hours
  (practitioner-registered, contracted-hours-changed, reduction-started,
  reduction-ended, practitioner-left) become `staff.available.hours.changed`
  v1: additionalInformation.availableHours is their contracted hours less the
  reductions in force, as the practitioner's stream says at that event (folded
  with the domain's decider), and 0 from the practitioner-left on (they are
  given no new work); the identifiers are staffCode and teamCode, detailUrl
  this service's `GET /practitioners/{id}`. Keyed by the staff code.

Every other event publishes nothing. occurredAt is when the event was recorded,
in UK time with its offset, as HMPPS services write it.
"""

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final, Protocol
from urllib.parse import quote

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.hmpps import HMPPS_TOPIC as HMPPS_TOPIC  # the service's topic, re-exported
from plimsoll_events.hmpps import PERSON_ALLOCATED, STAFF_HOURS_CHANGED
from plimsoll_events.records import RecordedEvent
from plimsoll_events.types.allocation import CaseAllocated, CaseReallocated
from plimsoll_platform.clock import UK, uk_day

from plimsoll_allocation.domain import PRACTITIONER, practitioner_stream

CASE_EVENTS: Final = frozenset({"case-allocated", "case-reallocated"})
HOURS_EVENTS: Final = frozenset(
    {
        "practitioner-registered",
        "contracted-hours-changed",
        "reduction-started",
        "reduction-ended",
        "practitioner-left",
    }
)


class StreamReader(Protocol):
    """What the translation reads of the event store."""

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]: ...


class HmppsTranslator:
    """Turns recorded allocation events into HMPPS domain events (see module)."""

    def __init__(self, store: StreamReader, public_base_url: str) -> None:
        self.store = store
        self.base_url = public_base_url.rstrip("/")

    def translate(self, event: RecordedEvent) -> list[tuple[str, dict[str, Any]]]:
        """The HMPPS messages (key, envelope) an event becomes: none, or one."""
        if event.type in CASE_EVENTS:
            return [self._allocated(event)]
        if event.type in HOURS_EVENTS:
            return [self._hours_changed(event)]
        return []

    def encode(self, event: RecordedEvent) -> list[tuple[bytes | None, bytes]]:
        """`translate`, as the relay sends it: UTF-8 key and compact JSON value."""
        return [
            (key.encode(), json.dumps(message, separators=(",", ":")).encode())
            for key, message in self.translate(event)
        ]

    def _allocated(self, event: RecordedEvent) -> tuple[str, dict[str, Any]]:
        data = CATALOGUE.decode(event.type, event.version, event.data)
        assert isinstance(data, CaseAllocated | CaseReallocated)
        return data.case_id, _envelope(
            event,
            PERSON_ALLOCATED,
            "Person allocated event",
            detail_url=f"{self.base_url}/cases/{quote(data.case_id, safe='')}",
            additional={
                "allocationId": str(event.event_id),
                "staffCode": data.practitioner_id,
                "teamCode": data.team_id,
            },
            identifiers=[("CRN", data.case_id)],
        )

    def _hours_changed(self, event: RecordedEvent) -> tuple[str, dict[str, Any]]:
        history = [
            CATALOGUE.decode(e.type, e.version, e.data)
            for e in self.store.read_stream(event.stream_id)
            if e.stream_version <= event.stream_version
        ]
        folded = PRACTITIONER.fold(history)
        if folded is None or practitioner_stream(folded.practitioner_id) != event.stream_id:
            raise ValueError(f"{event.stream_id} is not a registered practitioner's stream")
        practitioner = folded.on(uk_day(event.recorded_at))  # their team on the event's day
        hours = max(practitioner.contracted_hours - practitioner.active_reduction_hours, Decimal(0))
        if practitioner.has_left:
            hours = Decimal(0)
        staff_code = practitioner.practitioner_id
        return staff_code, _envelope(
            event,
            STAFF_HOURS_CHANGED,
            "Staff Available hours changed",
            detail_url=f"{self.base_url}/practitioners/{quote(staff_code, safe='')}",
            additional={"availableHours": float(hours)},
            identifiers=[("staffCode", staff_code), ("teamCode", practitioner.team_id)],
        )


def _envelope(
    event: RecordedEvent,
    event_type: str,
    description: str,
    *,
    detail_url: str,
    additional: dict[str, Any],
    identifiers: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    if event.recorded_at.tzinfo is None:
        raise ValueError("recorded_at must carry its offset")
    return {
        "eventType": event_type,
        "version": 1,
        "description": description,
        "detailUrl": detail_url,
        "occurredAt": event.recorded_at.astimezone(UK).isoformat(),
        "additionalInformation": additional,
        "personReference": {
            "identifiers": [{"type": kind, "value": value} for kind, value in identifiers]
        },
    }
