"""The runner's one-pass decoding accepts only what the general path accepts, and agrees with it."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.envelope import TypedEnvelopes, decode, encode, to_cloudevent
from plimsoll_events.records import Metadata, RecordedEvent

TYPED = TypedEnvelopes(CATALOGUE)


def _wire(**changes) -> bytes:
    recorded = RecordedEvent(
        position=7,
        stream_id="timesheet-P-1",
        stream_version=3,
        event_id=uuid.uuid4(),
        type="hours-logged",
        version=3,
        subject="P-1",
        data={
            "practitioner_id": "P-1",
            "day": "2026-11-30",
            "minutes": 90,
            "category": "travel",
            "started_at": "08:00:00",
            "ended_at": "09:30:00",
            "note": "To Wakefield",
            "on_behalf_reason": None,
        },
        metadata=Metadata(actor="pat.practitioner", correlation_id=uuid.uuid4()),
        recorded_at=datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
    )
    attributes = json.loads(encode(to_cloudevent(recorded, "/plimsoll/timesheet")))
    attributes.update(changes)
    return json.dumps(attributes, separators=(",", ":")).encode()


def test_a_latest_version_event_is_read_in_one_pass_exactly_as_the_general_path_reads_it():
    raw = _wire()
    typed = TYPED.decode(raw)
    general = decode(raw)
    assert typed is not None
    for name in (
        "id",
        "source",
        "type",
        "subject",
        "time",
        "actor",
        "correlationid",
        "plimsollstream",
        "plimsollstreamver",
        "plimsollposition",
    ):
        assert getattr(typed, name) == getattr(general, name), name
    expected = CATALOGUE.decode(general.event_type, general.event_version, general.data)
    assert typed.data == expected


@pytest.mark.parametrize(
    "changes",
    [
        {
            "type": "org.example.plimsoll.hours-logged.v1",
            "data": {"practitioner_id": "P-1", "day": "2026-11-30", "hours": 1.5},
        },
        {
            "type": "org.example.plimsoll.hours-logged.v2",
            "data": {
                "practitioner_id": "P-1",
                "day": "2026-11-30",
                "minutes": 90,
                "category": "travel",
            },
        },
        {"extrathing": "x"},
        {"time": 1764493200},
        {
            "data": {
                "practitioner_id": "P-1",
                "day": "2026-11-30",
                "minutes": 5000,
                "category": "travel",
            }
        },
        {"type": "org.example.plimsoll.unheard-of.v1"},
        {"specversion": "0.3"},
    ],
    ids=[
        "oldest-version",
        "previous-version",
        "extension",
        "numeric-time",
        "invalid-data",
        "unknown-type",
        "specversion",
    ],
)
def test_anything_unusual_takes_the_general_path(changes):
    assert TYPED.decode(_wire(**changes)) is None


def test_not_json_takes_the_general_path():
    assert TYPED.decode(b"not json") is None
