"""The allocation service's HMPPS domain events, end to end: real API, real store, real Kafka.

A practitioner registered, given a reduction and a case through the API shows
up on `plimsoll.allocation.hmpps` as HMPPS envelopes, read from the offsets the
topic had before the test.
"""

import json
import time
import uuid
from pathlib import Path

import jsonschema
import pytest
from kafka import KafkaConsumer, TopicPartition
from plimsoll_events.kafka import KafkaAccess
from plimsoll_events.topics import ensure_event_topic

pytestmark = pytest.mark.stack

TOPIC = "plimsoll.allocation.hmpps"
TEAM = "T-NORTH-1"
SCHEMA = json.loads(
    (Path(__file__).parents[3] / "docs/reference/hmpps-domain-event.schema.json").read_text()
)


@pytest.fixture(scope="module")
def headers(stack):
    return {"Authorization": f"Bearer {stack.token('mo.manager')}"}


def _end_offsets(kafka: KafkaAccess) -> dict[TopicPartition, int]:
    ensure_event_topic(kafka, TOPIC)  # the service creates it too; either may be first
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or []]
        return dict(consumer.end_offsets(partitions))
    finally:
        consumer.close()


def _read_until(
    kafka: KafkaAccess, offsets, done, timeout_s: float = 30.0
) -> list[tuple[bytes, dict]]:
    """Messages after `offsets` until `done(messages)` or the timeout."""
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    consumer.assign(list(offsets))
    for partition, offset in offsets.items():
        consumer.seek(partition, offset)
    messages: list[tuple[bytes, dict]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while not done(messages) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend((r.key, json.loads(r.value)) for r in batch)
    finally:
        consumer.close()
    return messages


def test_registering_reducing_and_allocating_publish_hmpps_events(stack, api, headers):
    offsets = _end_offsets(stack.kafka)
    suffix = uuid.uuid4().hex[:10]
    practitioner_id = f"P-H-{suffix}"
    case_id = f"X{suffix}"

    registered = api.post(
        "/practitioners",
        json={
            "practitioner_id": practitioner_id,
            "name": f"Hmpps Tester {practitioner_id}",
            "grade": "PO",
            "team_id": TEAM,
            "region_id": "R-NORTH",
            "contracted_hours": "37",
            "start_date": "2024-09-02",
        },
        headers=headers,
    )
    assert registered.status_code == 201, registered.text
    reduced = api.post(
        f"/practitioners/{practitioner_id}/reductions",
        json={
            "reason": "Trade Union Facility Time",
            "hours": "7.4",
            "effective_from": "2024-09-02",
        },
        headers=headers,
    )
    assert reduced.status_code == 201, reduced.text
    opened = api.post(
        "/cases",
        json={"case_id": case_id, "team_id": TEAM, "case_type": "community", "tier": "C1"},
        headers=headers,
    )
    assert opened.status_code == 201, opened.text
    allocated = api.post(
        f"/cases/{case_id}/allocation",
        json={"practitioner_id": practitioner_id},
        headers=headers,
    )
    assert allocated.status_code == 201, allocated.text

    def ours(messages):
        return [
            (key, m) for key, m in messages if key in (case_id.encode(), practitioner_id.encode())
        ]

    def done(messages):
        return len(ours(messages)) >= 3

    # At least once: a resent message is the same message again; count each once.
    found = []
    for key, message in ours(_read_until(stack.kafka, offsets, done)):
        if (key, message) not in found:
            found.append((key, message))
    for _, message in found:
        jsonschema.validate(message, SCHEMA)

    [(_, allocation)] = [
        (k, m) for k, m in found if m["eventType"] == "person.community.manager.allocated"
    ]
    assert allocation["personReference"]["identifiers"] == [{"type": "CRN", "value": case_id}]
    assert allocation["additionalInformation"]["staffCode"] == practitioner_id
    assert allocation["additionalInformation"]["teamCode"] == TEAM
    assert allocation["detailUrl"].endswith(f"/cases/{case_id}")
    assert api.get(f"/cases/{case_id}", headers=headers).status_code == 200

    hours = [
        m["additionalInformation"]["availableHours"]
        for k, m in found
        if m["eventType"] == "staff.available.hours.changed"
    ]
    assert hours == [37.0, 29.6]
    assert all(k == practitioner_id.encode() for k, m in found if m is not allocation)
