"""The timesheet's events on `plimsoll.timesheet`: valid CloudEvents (read with the CloudEvents
SDK), keyed and subjected by the practitioner, one per recorded event."""

import json
import time
from uuid import UUID

import pytest
from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from kafka import KafkaConsumer, TopicPartition

from .sheet import a_working_day, key, logged, register

pytestmark = pytest.mark.stack

LOOK_BACK = 2000  # messages per partition: the test's events are among the last ones


def _messages(kafka, wanted: set[UUID], timeout: float = 30.0) -> dict[UUID, object]:
    """The topic's messages whose CloudEvents id is in `wanted`, by id."""
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    topic = "plimsoll.timesheet"
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(partitions)
    for partition, end in consumer.end_offsets(partitions).items():
        consumer.seek(partition, max(0, end - LOOK_BACK))
    found: dict[UUID, object] = {}
    deadline = time.monotonic() + timeout
    while wanted - found.keys() and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            for record in batch:
                event_id = UUID(json.loads(record.value)["id"])
                if event_id in wanted:
                    found[event_id] = record
    consumer.close()
    return found


def test_each_event_is_a_valid_cloudevent_about_the_practitioner(
    service_api, stack, timesheet_store
):
    practitioner = register(service_api)
    mo = service_api("timesheet", "mo.manager")
    day = a_working_day(8)
    entry = logged(
        mo,
        practitioner,
        day=str(day),
        minutes=500,
        category="casework",
        on_behalf_reason="From the diary",
    )["entry_id"]
    mo.post(
        f"/practitioners/{practitioner}/leave",
        json={
            "kind": "training",
            "first_day": str(a_working_day(7)),
            "last_day": str(a_working_day(7)),
        },
        headers=key(),
    )
    recorded = [
        *timesheet_store.read_stream(f"timesheet-{practitioner}-{day}"),
        *timesheet_store.read_stream(f"leave-{practitioner}"),
    ]
    assert [e.type for e in recorded] == ["hours-logged", "toil-accrued", "leave-recorded"]

    found = _messages(stack.kafka, {e.event_id for e in recorded})

    assert found.keys() == {e.event_id for e in recorded}
    for event in recorded:
        record = found[event.event_id]
        message = KafkaMessage(
            headers={name: value for name, value in record.headers},
            key=record.key,
            value=record.value,
        )
        cloud = from_kafka(message, JSONFormat(), CloudEvent)
        assert isinstance(cloud, CloudEvent)
        assert record.key == practitioner.encode()
        assert cloud.get_subject() == practitioner
        assert cloud.get_source() == "/plimsoll/timesheet"
        assert cloud.get_type() == f"org.example.plimsoll.{event.type}.v{event.version}"
        assert cloud.get_data()["practitioner_id"] == practitioner
    logged_event = found[UUID(entry)]
    assert json.loads(logged_event.value)["data"]["on_behalf_reason"] == "From the diary"
