"""The published catalogue (AsyncAPI 3.0, JSON Schema) is generated from the models, kept fresh."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from plimsoll_events import schema
from plimsoll_events.catalogue import CATALOGUE, Catalogue, EventData, topic_for
from plimsoll_events.hmpps import HMPPS_TOPIC
from plimsoll_events.types import CaseAllocated, HoursLogged

DOCS = Path(__file__).resolve().parents[2] / "docs"
KEYS = sorted(f"{model.type}.v{model.version}" for model in CATALOGUE)
HMPPS_KEYS = ["person.community.manager.allocated.v1", "staff.available.hours.changed.v1"]


def test_committed_docs_are_what_the_models_generate():
    problem = schema.check(DOCS)

    assert problem is None, f"{problem}; run: python -m plimsoll_events.schema write docs"


def test_a_model_added_without_regenerating_makes_the_committed_docs_stale():
    catalogue = Catalogue()
    for model in CATALOGUE:
        catalogue.register(model)

    @catalogue.register
    class CaseClosed(EventData):
        """A case was closed."""

        type = "case-misplaced"
        version = 1
        service = "allocation"
        practitioner_id: str

    problem = schema.check(DOCS, catalogue)

    assert problem is not None
    assert "asyncapi.yaml is stale" in problem


def test_check_names_the_stale_schema_file(tmp_path: Path):
    schema.write(tmp_path)
    stale = tmp_path / "schemas" / "hours-logged" / "v3.json"
    stale.write_text(stale.read_text().replace('"maximum": 1440', '"maximum": 1500'))

    problem = schema.check(tmp_path)

    assert problem == f"{stale} is stale: it differs from what the event models generate"


def test_check_names_a_missing_file(tmp_path: Path):
    schema.write(tmp_path)
    (tmp_path / "schemas" / "case-allocated" / "v1.json").unlink()

    assert schema.check(tmp_path) == f"{tmp_path}/schemas/case-allocated/v1.json is missing"


def test_check_names_a_schema_no_model_generates(tmp_path: Path):
    schema.write(tmp_path)
    orphan = tmp_path / "schemas" / "case-misplaced" / "v1.json"
    orphan.parent.mkdir()
    orphan.write_text("{}\n")

    problem = schema.check(tmp_path)

    assert problem == f"{orphan} is stale: no registered event type and version generates it"


def test_write_removes_schemas_no_model_generates(tmp_path: Path):
    orphan = tmp_path / "schemas" / "case-misplaced" / "v1.json"
    orphan.parent.mkdir(parents=True)
    orphan.write_text("{}\n")

    schema.write(tmp_path)

    assert not orphan.exists()
    assert schema.check(tmp_path) is None


def test_cli_write_then_check_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert schema.main(["write", str(tmp_path)]) == 0
    assert schema.main(["check", str(tmp_path)]) == 0
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == sorted(
        ["EVENTS.md", "asyncapi.yaml", *(f"schemas/{key.replace('.v', '/v')}.json" for key in KEYS)]
    )


def test_cli_check_exits_1_with_one_line_naming_the_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    schema.write(tmp_path)
    (tmp_path / "asyncapi.yaml").write_text("asyncapi: 2.6.0\n")

    exit_code = schema.main(["check", str(tmp_path)])

    error = capsys.readouterr().err
    assert exit_code == 1
    assert error.count("\n") == 1
    assert f"{tmp_path}/asyncapi.yaml is stale" in error
    assert "python -m plimsoll_events.schema write" in error


def test_generation_is_deterministic():
    assert schema.generate(CATALOGUE) == schema.generate(CATALOGUE)


def test_the_yaml_reads_back_as_the_document():
    text = schema.generate(CATALOGUE)["asyncapi.yaml"]

    assert yaml.safe_load(text) == schema.asyncapi(CATALOGUE)


def test_json_schema_is_2020_12_with_the_dataschema_id_and_the_docstring():
    generated = schema.json_schema(CaseAllocated)

    assert generated["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert generated["$id"] == "https://plimsoll.example.org/schemas/case-allocated/v1.json"
    assert generated["title"] == "case-allocated v1"
    assert generated["description"].startswith("A case was allocated to a practitioner")
    assert generated["additionalProperties"] is False
    assert set(generated["required"]) == {
        "practitioner_id",
        "case_id",
        "team_id",
        "tier",
        "case_type",
        "points",
        "allocated_by",
    }


def test_asyncapi_document_is_version_3_with_every_type_and_version():
    document = schema.asyncapi(CATALOGUE)

    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Plimsoll events"
    assert "<topic>.dlq" in document["info"]["description"]
    assert sorted(document["components"]["messages"]) == sorted(KEYS + HMPPS_KEYS)
    assert {
        "case-allocated.v1",
        "hours-logged.v1",
        "hours-logged.v2",
        "hours-logged.v3",
        "hours-corrected.v1",
        "toil-accrued.v1",
        "supervision-held.v1",
    } <= set(KEYS)


def test_each_service_topic_is_a_channel_carrying_its_own_types():
    document = schema.asyncapi(CATALOGUE)

    carried = {
        channel["address"]: sorted(channel["messages"]) for channel in document["channels"].values()
    }

    expected: dict[str, list[str]] = {}
    for model in CATALOGUE:
        expected.setdefault(topic_for(model.service), []).append(f"{model.type}.v{model.version}")
    expected[HMPPS_TOPIC] = HMPPS_KEYS  # beside the service topics, its own (test_hmpps_docs)
    assert carried == {topic: sorted(keys) for topic, keys in expected.items()}
    assert carried["plimsoll.timesheet"] == [
        "hours-corrected.v1",
        "hours-logged.v1",
        "hours-logged.v2",
        "hours-logged.v3",
        "hours-withdrawn.v1",
        "leave-cancelled.v1",
        "leave-recorded.v1",
        "overtime-recorded.v1",
        "toil-accrued.v1",
        "working-time-opt-out-recorded.v1",
        "working-time-opt-out-withdrawn.v1",
    ]


def test_each_channel_has_a_send_operation_for_its_messages():
    document = schema.asyncapi(CATALOGUE)

    for name, channel in document["channels"].items():
        operation = document["operations"][f"{name}.send"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{name}"}
        assert [ref["$ref"] for ref in operation["messages"]] == [
            f"#/channels/{name}/messages/{key}" for key in channel["messages"]
        ]


def test_messages_are_cloudevents_with_their_data_schema():
    message = schema.asyncapi(CATALOGUE)["components"]["messages"]["hours-logged.v3"]

    assert message["contentType"] == "application/cloudevents+json"
    envelope, specific = message["payload"]["allOf"]
    assert envelope == {"$ref": "#/components/schemas/CloudEvent"}
    assert specific["properties"]["type"] == {"const": "org.example.plimsoll.hours-logged.v3"}
    assert specific["properties"]["data"] == {"$ref": "#/components/schemas/hours-logged.v3"}


# Validation against the generated schemas, with a real JSON Schema validator.


def _validator(schema_document: dict[str, Any]) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    validator_class = jsonschema.validators.validator_for(schema_document)
    validator_class.check_schema(schema_document)
    return validator_class(schema_document, format_checker=validator_class.FORMAT_CHECKER)


@pytest.mark.parametrize("model", CATALOGUE.models(), ids=lambda m: f"{m.type}.v{m.version}")
def test_examples_satisfy_their_published_schema(model: type[EventData]):
    validator = _validator(schema.json_schema(model))

    for example in model.examples:
        assert list(validator.iter_errors(dict(example))) == []


@pytest.mark.parametrize(
    "change",
    [{"minutes": 2000}, {"category": "napping"}, {"day": "2025-02-30"}, {"extra": 1}],
)
def test_the_published_schema_rejects_what_the_model_rejects(change: dict[str, Any]):
    validator = _validator(schema.json_schema(HoursLogged))

    assert not validator.is_valid({**HoursLogged.examples[0], **change})


def _message_payload_validator(key: str) -> Any:
    # The AsyncAPI document is the root resource, so its '#/components/...' refs resolve.
    document = schema.asyncapi(CATALOGUE)
    root = {
        **document,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/messages/{key}/payload",
    }
    return _validator(root), document["components"]["messages"][key]


@pytest.mark.parametrize("key", KEYS)
def test_message_examples_are_whole_valid_envelopes(key: str):
    validator, message = _message_payload_validator(key)

    for example in message["examples"]:
        assert list(validator.iter_errors(example["payload"])) == []


def test_an_envelope_with_the_wrong_data_fails_its_message_schema():
    validator, message = _message_payload_validator("hours-logged.v3")
    example = message["examples"][0]["payload"]

    assert not validator.is_valid({**example, "data": {**example["data"], "minutes": 2000}})
    assert not validator.is_valid({**example, "type": "org.example.plimsoll.hours-logged.v1"})
    assert not validator.is_valid({k: v for k, v in example.items() if k != "id"})


def test_events_page_explains_every_type_and_marks_superseded_versions():
    page = schema.events_page(CATALOGUE)
    for model in CATALOGUE:
        assert f"### `{model.type}` v{model.version}" in page
    assert "### `hours-logged` v1 (superseded, upcast to v3)" in page
    assert "### `hours-logged` v2 (superseded, upcast to v3)" in page
    assert "| `minutes` | integer |" in page
