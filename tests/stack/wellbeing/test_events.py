"""What wellbeing publishes on `plimsoll.wellbeing`: valid CloudEvents (checked with the
cloudevents SDK), keyed by and about the practitioner, their data valid in the catalogue."""

import json
import time

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_structured_event
from kafka import KafkaConsumer, TopicPartition
from plimsoll_events.catalogue import CATALOGUE, topic_for
from plimsoll_events.envelope import TYPE_PREFIX, cloudevent_type
from plimsoll_events.topics import ensure_event_topic

from .helpers import uk_today

pytestmark = pytest.mark.stack

TOPIC = topic_for("wellbeing")


def _end_offsets(kafka) -> dict[TopicPartition, int]:
    ensure_event_topic(kafka, TOPIC)
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or []]
        return dict(consumer.end_offsets(partitions))
    finally:
        consumer.close()


def _kind(record) -> str:
    """The event type of a CloudEvent on the topic."""
    attribute = json.loads(record.value)["type"]
    return str(attribute).removeprefix(f"{TYPE_PREFIX}.").rsplit(".v", 1)[0]


def _messages_about(
    kafka, offsets, key: str, count: int, timeout_s: float = 30.0, types: set[str] | None = None
) -> list:
    """Distinct messages keyed `key` (of `types` only, if given), until `count` are found."""
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    consumer.assign(list(offsets))
    for partition, offset in offsets.items():
        consumer.seek(partition, offset)
    found: dict[bytes, object] = {}  # at least once: a resend counts once
    deadline = time.monotonic() + timeout_s
    try:
        while len(found) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    if record.key == key.encode() and (types is None or _kind(record) in types):
                        found[record.value] = record
    finally:
        consumer.close()
    return list(found.values())


def test_wellbeing_events_are_cloudevents_about_the_practitioner(stack, wb):
    offsets = _end_offsets(stack.kafka)
    pid = wb.practitioner()
    case_id = wb.case_for(pid)
    held = wb.hold(pid, agreements=[{"kind": "suspend", "case_id": case_id, "reason": "Remand"}])
    assert held.status_code == 201, held.text
    wb.declare(pid)

    ours = {"supervision-held", "work-suspended", "workload-declared"}
    records = _messages_about(stack.kafka, offsets, pid, count=3, types=ours)

    types = set()
    for record in records:
        headers = {name: value for name, value in record.headers}
        event = from_structured_event(
            KafkaMessage(headers=headers, key=record.key, value=record.value)
        )
        assert event.get_specversion() == "1.0"
        assert event.get_subject() == pid
        assert event.get_source() == "/plimsoll/wellbeing"
        assert event.get_extension("actor") in {"mo.manager", "ada.admin"}
        kind, version = event.get_type().removeprefix(f"{TYPE_PREFIX}.").rsplit(".v", 1)
        assert event.get_type() == cloudevent_type(kind, int(version))
        data = CATALOGUE.decode(kind, int(version), event.get_data())
        assert data.subject == pid
        types.add(kind)
    assert types == {"supervision-held", "work-suspended", "workload-declared"}
    suspended = next(r for r in records if b"work-suspended" in r.value)
    assert str(uk_today()) in suspended.value.decode()
