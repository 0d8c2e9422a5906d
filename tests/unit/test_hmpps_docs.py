"""The HMPPS domain events in the published docs: their channel, payload schemas and examples.

The examples are checked against the generated AsyncAPI payload schemas and
against the HMPPS envelope's reference schema (../shared/reference, skipped when
it is not checked out); tests/unit/allocation/test_hmpps.py holds what the
service publishes equal to these examples.
"""

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from plimsoll_events import schema
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.hmpps import (
    HMPPS_EVENTS,
    HMPPS_TOPIC,
    PERSON_ALLOCATED,
    STAFF_HOURS_CHANGED,
    HmppsDomainEvent,
    PersonAllocated,
    StaffAvailableHoursChanged,
)

REFERENCE = Path(__file__).resolve().parents[3] / "shared/reference/hmpps-domain-event.schema.json"
PERSON = "person.community.manager.allocated.v1"
STAFF = "staff.available.hours.changed.v1"
DOCUMENT = schema.asyncapi(CATALOGUE)


def _payload_validator(key: str) -> jsonschema.Draft202012Validator:
    # The AsyncAPI document is the root resource, so its '#/components/...' refs resolve.
    root = {
        **DOCUMENT,
        "$schema": schema.JSON_SCHEMA_DIALECT,
        "$ref": f"#/components/messages/{key}/payload",
    }
    jsonschema.Draft202012Validator.check_schema(root)
    return jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _example(key: str) -> dict[str, Any]:
    payload: dict[str, Any] = DOCUMENT["components"]["messages"][key]["examples"][0]["payload"]
    return json.loads(json.dumps(payload))  # a copy to change


def test_the_topic_is_a_channel_with_both_messages_and_a_send_operation():
    channel = DOCUMENT["channels"]["allocation-hmpps"]

    assert channel["address"] == HMPPS_TOPIC == "plimsoll.allocation.hmpps"
    assert channel["bindings"]["kafka"]["topic"] == HMPPS_TOPIC
    assert "plimsoll.allocation.hmpps.dlq" in channel["description"]
    assert channel["messages"] == {
        key: {"$ref": f"#/components/messages/{key}"} for key in (PERSON, STAFF)
    }
    operation = DOCUMENT["operations"]["allocation-hmpps.send"]
    assert operation["action"] == "send"
    assert operation["channel"] == {"$ref": "#/channels/allocation-hmpps"}
    assert [ref["$ref"] for ref in operation["messages"]] == [
        f"#/channels/allocation-hmpps/messages/{key}" for key in (PERSON, STAFF)
    ]


@pytest.mark.parametrize(
    ("key", "event_type", "key_means"),
    [(PERSON, PERSON_ALLOCATED, "CRN"), (STAFF, STAFF_HOURS_CHANGED, "staff code")],
)
def test_each_message_is_plain_json_keyed_as_the_service_keys_it(
    key: str, event_type: str, key_means: str
):
    message = DOCUMENT["components"]["messages"][key]

    assert message["contentType"] == "application/json"
    assert message["headers"]["properties"]["content-type"]["const"] == "application/json"
    assert key_means in message["bindings"]["kafka"]["key"]["description"]
    assert message["payload"] == {"$ref": f"#/components/schemas/{key}"}
    payload_schema = DOCUMENT["components"]["schemas"][key]
    assert payload_schema["properties"]["eventType"]["const"] == event_type
    assert payload_schema["properties"]["version"]["const"] == 1
    assert [example["payload"]["eventType"] for example in message["examples"]] == [event_type]


@pytest.mark.parametrize("key", [PERSON, STAFF])
def test_the_examples_satisfy_their_payload_schema(key: str):
    validator = _payload_validator(key)

    for example in DOCUMENT["components"]["messages"][key]["examples"]:
        assert list(validator.iter_errors(example["payload"])) == []


@pytest.mark.parametrize("model", HMPPS_EVENTS, ids=lambda model: model.__name__)
def test_the_examples_are_valid_hmpps_envelopes(model: type[HmppsDomainEvent]):
    if not REFERENCE.is_file():
        pytest.skip(f"the reference schema is not checked out at {REFERENCE}")
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(
        reference, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )

    for example in model.examples:
        assert list(validator.iter_errors(dict(example))) == []


def _changed(key: str, path: str, value: Any) -> dict[str, Any]:
    """The example with one value at a dotted path replaced, or removed when `value` is ..."""
    example = _example(key)
    *parents, last = path.split(".")
    target: Any = example
    for part in parents:
        target = target[int(part) if part.isdigit() else part]
    index = int(last) if last.isdigit() else last
    if value is ...:
        del target[index]
    else:
        target[index] = value
    return example


@pytest.mark.parametrize(
    ("key", "path", "value"),
    [
        (PERSON, "eventType", STAFF_HOURS_CHANGED),
        (PERSON, "version", 2),
        (PERSON, "occurredAt", ...),
        (PERSON, "detailUrl", ...),
        (PERSON, "additionalInformation.allocationId", "A-1"),  # not a uuid
        (PERSON, "additionalInformation.staffCode", ...),
        (PERSON, "additionalInformation.teamCode", ""),
        (PERSON, "personReference.identifiers.0.type", "NOMS"),
        (PERSON, "personReference.identifiers", []),
        (STAFF, "eventType", PERSON_ALLOCATED),
        (STAFF, "additionalInformation.availableHours", -1),
        (STAFF, "additionalInformation.availableHours", "37"),
        (STAFF, "personReference.identifiers.0.type", "teamCode"),  # staff code first
        (STAFF, "personReference.identifiers.1", ...),
    ],
)
def test_the_payload_schemas_hold_each_event_to_its_own_shape(key: str, path: str, value: Any):
    assert _payload_validator(key).is_valid(_example(key))
    assert not _payload_validator(key).is_valid(_changed(key, path, value))


def test_each_payload_schema_refuses_the_other_event():
    assert not _payload_validator(PERSON).is_valid(_example(STAFF))
    assert not _payload_validator(STAFF).is_valid(_example(PERSON))


def test_the_payload_schemas_let_fields_be_added():
    allocated = _example(PERSON)
    allocated["additionalInformation"]["note"] = "a later addition"

    assert _payload_validator(PERSON).is_valid({**allocated, "publisher": "plimsoll"})


def test_the_models_read_the_examples_and_name_their_keys():
    [allocated] = PersonAllocated.examples
    [hours] = StaffAvailableHoursChanged.examples

    assert PersonAllocated.model_validate(allocated).kafka_key() == "X777519"
    assert StaffAvailableHoursChanged.model_validate(hours).kafka_key() == "P-0001"
    for model in HMPPS_EVENTS:
        for example in model.examples:
            dumped = model.model_validate(example).model_dump(mode="json", by_alias=True)
            assert dumped == example  # the models round-trip the wire form exactly


def test_the_events_page_maps_each_hmpps_field():
    page = schema.events_page(CATALOGUE)

    assert f"## allocation, as HMPPS domain events (`{HMPPS_TOPIC}`)" in page
    assert f"### `{PERSON_ALLOCATED}` v1" in page
    assert f"### `{STAFF_HOURS_CHANGED}` v1" in page
    assert "| `additionalInformation.staffCode` | string |" in page
    assert '| `personReference.identifiers[0].type` | `"CRN"` |' in page
    assert "| `additionalInformation.availableHours` | number |" in page
    assert '| `personReference.identifiers[1].type` | `"teamCode"` |' in page
