"""Events travel on Kafka as CloudEvents 1.0 in structured JSON mode, and come back intact."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.envelope import (
    CONTENT_TYPE,
    CloudEvent,
    MalformedEnvelope,
    decode,
    encode,
    to_cloudevent,
    to_recorded,
)
from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.types import HoursLogged

EVENT_ID = UUID("5b0b0d3e-1c1a-4d53-9d8c-2f1f0f7b9a11")
CORRELATION = UUID("0f6b3c8e-7d0e-4a8e-9b7c-1d2e3f405162")
CAUSATION = UUID("9a8b7c6d-5e4f-4321-8765-0fedcba98765")


def _recorded(**changes: Any) -> RecordedEvent:
    fields: dict[str, Any] = {
        "position": 1042,
        "stream_id": "practitioner-P-0001",
        "stream_version": 7,
        "event_id": EVENT_ID,
        "type": "hours-logged",
        "version": 3,
        "subject": "P-0001",
        "data": {
            "practitioner_id": "P-0001",
            "day": "2025-03-03",
            "minutes": 450,
            "category": "casework",
            "started_at": "09:00:00",
            "ended_at": "16:30:00",
            "note": None,
            "on_behalf_reason": None,
        },
        "metadata": Metadata(
            actor="P-0001",
            correlation_id=CORRELATION,
            causation_id=CAUSATION,
            traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            tracestate="plimsoll=1",
        ),
        "recorded_at": datetime(2025, 3, 3, 17, 45, 12, 123456, tzinfo=UTC),
    }
    return RecordedEvent(**{**fields, **changes})


def _wire(**changes: Any) -> bytes:
    """A valid encoded envelope with some attributes replaced (None removes one)."""
    attributes = json.loads(encode(to_cloudevent(_recorded(), "/plimsoll/timesheet")))
    for name, value in changes.items():
        if value is None:
            attributes.pop(name)
        else:
            attributes[name] = value
    return json.dumps(attributes).encode()


def test_a_recorded_event_becomes_a_cloudevent_with_plimsoll_attributes():
    event = to_cloudevent(_recorded(), "/plimsoll/timesheet")

    assert event.specversion == "1.0"
    assert event.id == EVENT_ID
    assert event.source == "/plimsoll/timesheet"
    assert event.type == "org.example.plimsoll.hours-logged.v3"
    assert event.subject == "P-0001"
    assert event.datacontenttype == "application/json"
    assert event.dataschema == "https://plimsoll.example.org/schemas/hours-logged/v3.json"
    assert (event.actor, event.correlationid, event.causationid) == (
        "P-0001",
        CORRELATION,
        CAUSATION,
    )
    assert (event.plimsollstream, event.plimsollstreamver, event.plimsollposition) == (
        "practitioner-P-0001",
        7,
        1042,
    )


def test_round_trip_through_bytes_preserves_everything():
    recorded = _recorded()
    event = to_cloudevent(recorded, "/plimsoll/timesheet")

    received = decode(encode(event))

    assert received == event
    assert to_recorded(received) == recorded


def test_round_trip_without_optional_metadata_or_subject():
    recorded = _recorded(
        subject=None,
        metadata=Metadata(actor="system:relay", correlation_id=CORRELATION),
        recorded_at=datetime(2025, 3, 3, 18, 45, tzinfo=timezone(timedelta(hours=1))),
    )

    received = to_recorded(decode(encode(to_cloudevent(recorded, "/plimsoll/timesheet"))))

    assert received == recorded
    assert received.recorded_at.utcoffset() == timedelta(hours=1)


def test_encoding_is_compact_json_leaving_absent_attributes_out():
    recorded = _recorded(metadata=Metadata(actor="P-0001", correlation_id=CORRELATION))

    raw = encode(to_cloudevent(recorded, "/plimsoll/timesheet"))

    assert raw.startswith(b'{"specversion":"1.0","id":"5b0b0d3e-')
    assert b" " not in raw
    assert set(json.loads(raw)).isdisjoint({"causationid", "traceparent", "tracestate"})


def test_nulls_inside_data_are_facts_and_are_kept():
    recorded = _recorded(type="case-allocated", version=1, data={"tier": None, "reason": None})

    raw = encode(to_cloudevent(recorded, "/plimsoll/allocation"))

    assert json.loads(raw)["data"] == {"tier": None, "reason": None}


def test_unknown_extensions_survive_a_round_trip():
    raw = _wire(partitionkey="P-0001", sampled=True)

    received = decode(raw)

    assert received.model_extra == {"partitionkey": "P-0001", "sampled": True}
    assert json.loads(encode(received)) == json.loads(raw)


def test_a_consumer_gets_type_version_data_metadata_id_and_subject_back():
    received = decode(_wire())

    assert (received.event_type, received.event_version) == ("hours-logged", 3)
    assert received.id == EVENT_ID
    assert received.subject == "P-0001"
    assert received.metadata == _recorded().metadata
    assert received.data["minutes"] == 450


def test_a_v1_event_off_the_wire_reaches_a_consumer_as_the_latest_version():
    legacy = _recorded(
        version=1, data={"practitioner_id": "P-0001", "day": "2025-03-03", "hours": 2}
    )

    received = decode(encode(to_cloudevent(legacy, "/plimsoll/timesheet")))
    data = CATALOGUE.decode(received.event_type, received.event_version, received.data)

    assert received.type == "org.example.plimsoll.hours-logged.v1"
    assert isinstance(data, HoursLogged)
    assert (data.minutes, data.category) == (120, "casework")


def test_the_kafka_content_type_is_structured_cloudevents_json():
    assert CONTENT_TYPE == "application/cloudevents+json"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all", "not a CloudEvent: the message is not UTF-8 JSON"),
        (b"\xff\xfe", "not a CloudEvent: the message is not UTF-8 JSON"),
        (b'[{"specversion": "1.0"}]', "structured mode needs a JSON object, got an array"),
        (b'"hello"', "structured mode needs a JSON object, got a string"),
        (_wire(specversion="0.3"), 'not a CloudEvents 1.0 event: specversion "0.3"'),
        (_wire(specversion=None), "not a CloudEvents 1.0 event: no specversion"),
        (_wire(id=None), "malformed CloudEvent: id: required attribute missing"),
        (_wire(id="abc"), 'id: Input should be a valid UUID, invalid length: found 3, got "abc"'),
        (_wire(source=None), "source: required attribute missing"),
        (_wire(type="hours-logged"), "type 'hours-logged' is not org.example.plimsoll.<event"),
        (_wire(time="yesterday"), "time 'yesterday' is not an RFC 3339 timestamp with an offset"),
        (_wire(time="2025-03-03T17:45:12"), "is not an RFC 3339 timestamp with an offset"),
        (_wire(time="2025-13-03T17:45:12Z"), "time: Input should be a valid datetime"),
        (_wire(time=1741023912), "time 1741023912 is not an RFC 3339 timestamp"),
        (_wire(data=[1, 2]), "data: Input should be a valid dictionary"),
        (
            _wire(datacontenttype="text/plain"),
            "datacontenttype: Input should be 'application/json'",
        ),
        (_wire(data_base64="AAAA"), "data_base64 is not accepted"),
        (_wire(Actor="P-0001"), "attribute name 'Actor' is not lowercase a-z and 0-9"),
        (_wire(extra={"nested": 1}), "extension 'extra' must be a string, integer or boolean"),
        (_wire(actor=None), "actor: required attribute missing"),
        (_wire(correlationid=None), "correlationid: required attribute missing"),
        (
            _wire(plimsollposition="1042"),
            'plimsollposition: Input should be a valid integer, got "1042"',
        ),
    ],
)
def test_malformed_envelopes_say_what_is_wrong(raw: bytes, reason: str):
    with pytest.raises(MalformedEnvelope) as raised:
        decode(raw)

    assert reason in str(raised.value)


def test_a_malformed_envelope_names_the_event_when_it_has_an_id():
    with pytest.raises(MalformedEnvelope) as raised:
        decode(_wire(time="yesterday"))

    assert str(raised.value).startswith(f"malformed CloudEvent (id {EVENT_ID}): ")


def test_every_problem_is_listed_at_once():
    with pytest.raises(MalformedEnvelope) as raised:
        decode(_wire(source=None, actor=None))

    assert "source: required attribute missing; actor: required attribute missing" in str(
        raised.value
    )


def test_an_event_needs_an_offset_on_its_time():
    with pytest.raises(ValueError, match="timezone"):
        to_cloudevent(_recorded(recorded_at=datetime(2025, 3, 3, 17, 45)), "/plimsoll/timesheet")


def test_cloudevent_is_immutable():
    event = decode(_wire())

    with pytest.raises(ValueError, match="frozen"):
        event.subject = "P-0002"  # type: ignore[misc]

    assert isinstance(event, CloudEvent)
