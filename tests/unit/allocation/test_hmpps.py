"""Allocation events as HMPPS domain events: each mapping, every message valid in the envelope.

The envelope's schema is docs/reference/hmpps-domain-event.schema.json, a copy of
../shared/reference/hmpps-domain-event.schema.json (the HMPPS domain event
envelope as the hmpps-domain-events catalogue publishes it, with two examples).
Every message is also held to its message's payload schema in the generated
AsyncAPI document, and the document's examples to what the translator writes.
"""

import dataclasses
import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import jsonschema
import pytest
from plimsoll_allocation.domain import practitioner_stream
from plimsoll_allocation.hmpps import HMPPS_TOPIC, HOURS_EVENTS, HmppsTranslator
from plimsoll_events import hmpps, schema
from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.types.allocation import (
    CaseAllocated,
    CaseClosed,
    CaseOpened,
    CaseReallocated,
    ContractedHoursChanged,
    PractitionerLeft,
    PractitionerRegistered,
    PractitionerTransferred,
    ReductionEnded,
    ReductionScheduled,
    ReductionStarted,
)

SCHEMA = json.loads(
    (Path(__file__).parents[3] / "docs/reference/hmpps-domain-event.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
ASYNCAPI = schema.asyncapi(CATALOGUE)
# Each message's payload schema, with the AsyncAPI document as the root its refs resolve in.
PUBLISHED = {
    key: jsonschema.Draft202012Validator(
        {**ASYNCAPI, "$schema": schema.JSON_SCHEMA_DIALECT, "$ref": f"#/components/schemas/{key}"},
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    for key in ("person.community.manager.allocated.v1", "staff.available.hours.changed.v1")
}
# RFC 3339 with an explicit offset (the schema's format is not checked without extras).
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
BASE = "https://plimsoll.example/allocation"
METADATA = Metadata(actor="mo.manager", correlation_id=uuid4())
# 15:41:03 UTC on a summer day is 16:41:03 in the UK.
RECORDED_AT = datetime(2025, 6, 11, 15, 41, 3, 930816, tzinfo=UTC)


class Streams:
    """Recorded events by stream, as the store would give them back."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []

    def record(self, stream_id: str, data: EventData) -> RecordedEvent:
        new = CATALOGUE.new_event(data, METADATA)
        event = RecordedEvent(
            position=len(self.events) + 1,
            stream_id=stream_id,
            stream_version=sum(1 for e in self.events if e.stream_id == stream_id) + 1,
            event_id=new.event_id,
            type=new.type,
            version=new.version,
            subject=new.subject,
            data=new.data,
            metadata=METADATA,
            recorded_at=RECORDED_AT,
        )
        self.events.append(event)
        return event

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        return [
            e for e in self.events if e.stream_id == stream_id and e.stream_version > after_version
        ]


def _registered(hours: str = "37") -> PractitionerRegistered:
    return PractitionerRegistered(
        practitioner_id="P-0001",
        name="Pat Practitioner",
        grade="PO",
        team_id="T-NORTH-1",
        region_id="R-NORTH",
        contracted_hours=Decimal(hours),
        line_manager_id=None,
        start_date=date(2024, 9, 2),
    )


def _reduction(cls: type[ReductionStarted | ReductionScheduled], rid: str, hours: str) -> Any:
    return cls(
        practitioner_id="P-0001",
        reduction_id=rid,
        reason="Trade Union Facility Time",
        hours=Decimal(hours),
        percent=None,
        effective_from=date(2025, 4, 1),
        effective_to=None,
    )


def _messages(streams: Streams, event: RecordedEvent) -> list[tuple[str, dict[str, Any]]]:
    translator = HmppsTranslator(streams, BASE + "/")
    messages = translator.translate(event)
    for _, message in messages:
        VALIDATOR.validate(message)
        PUBLISHED[f"{message['eventType']}.v{message['version']}"].validate(message)
        assert RFC3339.match(message["occurredAt"]), message["occurredAt"]
    # What the relay sends is the same, as compact JSON.
    sent = [(key, json.loads(value)) for key, value in translator.encode(event)]
    assert sent == [(key.encode(), message) for key, message in messages]
    return messages


def _hours_of(streams: Streams, event: RecordedEvent) -> float:
    [(key, message)] = _messages(streams, event)
    assert key == "P-0001"
    assert message["eventType"] == "staff.available.hours.changed"
    assert message["personReference"] == {
        "identifiers": [
            {"type": "staffCode", "value": "P-0001"},
            {"type": "teamCode", "value": "T-NORTH-1"},
        ]
    }
    hours = message["additionalInformation"]["availableHours"]
    assert isinstance(hours, float)
    return hours


def test_the_topic_is_the_services_hmpps_topic() -> None:
    assert HMPPS_TOPIC == hmpps.HMPPS_TOPIC == "plimsoll.allocation.hmpps"


def test_the_published_examples_are_what_the_translator_writes() -> None:
    # The events of the catalogue's examples, recorded at the examples' instant.
    streams = Streams()
    stream = practitioner_stream("P-0001")
    streams.record(
        stream, PractitionerRegistered.model_validate(PractitionerRegistered.examples[0])
    )
    started = streams.record(stream, ReductionStarted.model_validate(ReductionStarted.examples[0]))
    allocated = dataclasses.replace(
        streams.record("case-X777519", CaseAllocated.model_validate(CaseAllocated.examples[0])),
        event_id=UUID("00000000-0000-4000-8000-000000000001"),
    )
    translator = HmppsTranslator(streams, "https://plimsoll.example.org/allocation")

    for event, model in [
        (allocated, hmpps.PersonAllocated),
        (started, hmpps.StaffAvailableHoursChanged),
    ]:
        [(key, message)] = translator.translate(event)
        assert message == model.examples[0]
        assert key == model.model_validate(message).kafka_key()
        published = ASYNCAPI["components"]["messages"][f"{message['eventType']}.v1"]["examples"]
        assert [example["payload"] for example in published] == [message]


def test_the_reference_examples_are_valid_envelopes() -> None:
    for example in SCHEMA["examples"]:
        VALIDATOR.validate(example)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate({"eventType": "x", "version": 1})  # no occurredAt


def test_case_allocated_is_person_community_manager_allocated() -> None:
    streams = Streams()
    event = streams.record(
        "case-X777519",
        CaseAllocated(
            practitioner_id="P-0001",
            case_id="X777519",
            team_id="T-NORTH-1",
            tier="C1",
            case_type="community",
            points=50,
            allocated_by="P-0100",
            reason="INITIAL_ALLOCATION",
        ),
    )
    [(key, message)] = _messages(streams, event)
    assert key == "X777519"
    assert message == {
        "eventType": "person.community.manager.allocated",
        "version": 1,
        "description": "Person allocated event",
        "detailUrl": f"{BASE}/cases/X777519",
        "occurredAt": "2025-06-11T16:41:03.930816+01:00",
        "additionalInformation": {
            "allocationId": str(event.event_id),
            "staffCode": "P-0001",
            "teamCode": "T-NORTH-1",
        },
        "personReference": {"identifiers": [{"type": "CRN", "value": "X777519"}]},
    }


def test_case_reallocated_names_the_new_practitioner_and_team() -> None:
    streams = Streams()
    event = streams.record(
        "case-X777519",
        CaseReallocated(
            practitioner_id="P-0002",
            from_practitioner_id="P-0001",
            case_id="X777519",
            team_id="T-NORTH-2",
            from_team_id="T-NORTH-1",
            tier="C1",
            case_type="community",
            points=50,
            reason="CASELOAD_ADJUSTMENT",
            note=None,
            reallocated_by="P-0100",
        ),
    )
    [(key, message)] = _messages(streams, event)
    assert key == "X777519"
    assert message["eventType"] == "person.community.manager.allocated"
    assert message["additionalInformation"] == {
        "allocationId": str(event.event_id),
        "staffCode": "P-0002",
        "teamCode": "T-NORTH-2",
    }


def test_available_hours_follow_the_practitioners_stream_at_each_event() -> None:
    streams = Streams()
    stream = "practitioner-P-0001"
    registered = streams.record(stream, _registered("37"))
    scheduled = streams.record(stream, _reduction(ReductionScheduled, "R-1", "7.4"))
    started = streams.record(stream, _reduction(ReductionStarted, "R-1", "7.4"))
    fewer = streams.record(
        stream,
        ContractedHoursChanged(
            practitioner_id="P-0001",
            contracted_hours=Decimal("30"),
            previous_contracted_hours=Decimal("37"),
        ),
    )
    ended = streams.record(
        stream,
        ReductionEnded(
            practitioner_id="P-0001",
            reduction_id="R-1",
            hours=Decimal("7.4"),
            ended_on=date(2025, 10, 1),
            ended_because="ended-early",
        ),
    )
    left = streams.record(
        stream, PractitionerLeft(practitioner_id="P-0001", leaving_date=date(2025, 12, 31))
    )
    # Each event is translated as the stream stood then, whatever came after.
    assert _hours_of(streams, registered) == 37.0
    assert _messages(streams, scheduled) == []  # scheduled reductions change nothing yet
    assert _hours_of(streams, started) == 29.6
    assert _hours_of(streams, fewer) == 22.6
    assert _hours_of(streams, ended) == 30.0
    assert _hours_of(streams, left) == 0.0  # no new work from the leaving on
    [(_, message)] = _messages(streams, fewer)
    assert message["detailUrl"] == f"{BASE}/practitioners/P-0001"


def test_the_team_code_is_the_team_they_are_in_on_the_events_day() -> None:
    streams = Streams()
    stream = "practitioner-P-0001"
    streams.record(stream, _registered("37"))
    day = RECORDED_AT.date()
    for team_id, effective_on in (("T-SOUTH-1", day), ("T-SOUTH-2", day + timedelta(days=1))):
        streams.record(
            stream,
            PractitionerTransferred(
                practitioner_id="P-0001",
                team_id=team_id,
                region_id="R-SOUTH",
                previous_team_id="T-NORTH-1",
                previous_region_id="R-NORTH",
                line_manager_id=None,
                effective_on=effective_on,
            ),
        )
    fewer = streams.record(
        stream,
        ContractedHoursChanged(
            practitioner_id="P-0001",
            contracted_hours=Decimal("30"),
            previous_contracted_hours=Decimal("37"),
        ),
    )

    [(_, message)] = _messages(streams, fewer)

    team = {i["type"]: i["value"] for i in message["personReference"]["identifiers"]}["teamCode"]
    assert team == "T-SOUTH-1"  # moved that day; the move to T-SOUTH-2 is the next day's


def test_reductions_beyond_the_contracted_hours_leave_none_available() -> None:
    streams = Streams()
    stream = "practitioner-P-0001"
    streams.record(stream, _registered("37"))
    streams.record(stream, _reduction(ReductionStarted, "R-1", "37"))
    fewer = streams.record(
        stream,
        ContractedHoursChanged(
            practitioner_id="P-0001",
            contracted_hours=Decimal("20"),
            previous_contracted_hours=Decimal("37"),
        ),
    )
    assert _hours_of(streams, fewer) == 0.0


def test_other_events_publish_nothing() -> None:
    streams = Streams()
    opened = streams.record(
        "case-X1",
        CaseOpened(
            case_id="X1",
            team_id="T-NORTH-1",
            case_type="community",
            tier="C1",
            t2a=False,
            stage=None,
            points=50,
            scheme_name="wmt",
            scheme_version=1,
            opened_on=date(2025, 3, 3),
        ),
    )
    closed = streams.record(
        "case-X1",
        CaseClosed(
            case_id="X1",
            practitioner_id=None,
            team_id="T-NORTH-1",
            points=50,
            closed_on=date(2025, 3, 4),
        ),
    )
    for event in (opened, closed):
        assert HmppsTranslator(streams, BASE).translate(event) == []
        assert HmppsTranslator(streams, BASE).encode(event) == []
    # Every other allocation event type, from the catalogue's examples.
    translated = {"case-allocated", "case-reallocated", *HOURS_EVENTS}
    others = [
        m for m in CATALOGUE.models() if m.service == "allocation" and CATALOGUE.latest(m.type) is m
    ]
    assert {m.type for m in others} >= translated
    for model in others:
        if model.type in translated:
            continue
        for example in model.examples:
            event = Streams().record("s", model.model_validate(example))
            assert HmppsTranslator(streams, BASE).translate(event) == [], model.type
