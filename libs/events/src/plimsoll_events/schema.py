"""The published catalogue: JSON Schema per event type and version, and an AsyncAPI 3.0 document.

Both are generated from the models and committed under `docs/`, so consumers
outside Python read the same contract the code enforces. The committed files are
checked against the models in the unit tests and by `check`, so a model change
that was not regenerated fails the build instead of misleading a consumer.

    python -m plimsoll_events.schema write docs   # regenerate
    python -m plimsoll_events.schema check docs   # exit 1 naming the first stale file
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any
from uuid import UUID

import yaml

from plimsoll_events.catalogue import (
    CATALOGUE,
    Catalogue,
    EventData,
    dead_letter_topic,
    topic_for,
)
from plimsoll_events.envelope import (
    CONTENT_TYPE,
    CloudEvent,
    cloudevent_type,
    dataschema_uri,
    encode,
    source_for,
    to_cloudevent,
)
from plimsoll_events.records import Metadata, RecordedEvent

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
EVENTS_FILE = "EVENTS.md"
ASYNCAPI_FILE = "asyncapi.yaml"
SCHEMAS_DIR = "schemas"

_DESCRIPTION = f"""\
Every event Plimsoll's services publish, one message per event type and version.

Envelope: CloudEvents 1.0 in structured JSON mode. The Kafka message value is one
JSON object holding the CloudEvents attributes and the event data; its
`content-type` header is `{CONTENT_TYPE}`. The CloudEvents `type` is
`org.example.plimsoll.<event type>.v<version>`, `dataschema` the URI of the JSON
Schema of that type and version, and `subject` the practitioner the event
concerns. Extensions: `actor`, `correlationid`, `causationid`, `traceparent`,
`tracestate` (W3C trace context) and `plimsollstream`, `plimsollstreamver`,
`plimsollposition` (the event's place in the producer's event store).

Topics: one per service (`plimsoll.<service>`), keyed by practitioner id so that
one practitioner's events stay in order, and kept forever (the event store is
the source of truth, the topics its published log). Beside each topic,
`{dead_letter_topic("<topic>")}` holds messages a consumer could not process, with the reason.

Versions: events are never rewritten. A consumer reading an older version of a
type upcasts it to the latest before use; a consumer meeting a version newer
than it knows dead-letters it until it is upgraded.
"""


def json_schema(model: type[EventData]) -> dict[str, Any]:
    """The standalone JSON Schema 2020-12 of one type and version, as published."""
    generated = model.model_json_schema()
    schema: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": dataschema_uri(model.type, model.version),
        "title": f"{model.type} v{model.version}",
        "description": _docstring(model),
    }
    schema.update({k: v for k, v in generated.items() if k not in ("title", "description")})
    if model.examples:
        schema["examples"] = [dict(example) for example in model.examples]
    return schema


def asyncapi(catalogue: Catalogue) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of every type in the catalogue, in a stable order."""
    models = catalogue.models()
    services = sorted({model.service for model in models})
    schemas: dict[str, Any] = {"CloudEvent": _envelope_schema()}
    messages: dict[str, Any] = {}
    for model in models:
        schemas[_key(model)] = _component_schema(model, schemas)
        messages[_key(model)] = _message(model)
    channels = {service: _channel(service, models) for service in services}
    operations = {f"{service}.send": _operation(service, models) for service in services}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Plimsoll events",
            "version": package_version("plimsoll-events"),
            "description": _DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def generate(catalogue: Catalogue) -> dict[str, str]:
    """Every published file, by path relative to the docs folder, with its exact text."""
    files = {ASYNCAPI_FILE: _to_yaml(asyncapi(catalogue)), EVENTS_FILE: events_page(catalogue)}
    for model in catalogue.models():
        text = json.dumps(json_schema(model), indent=2, sort_keys=True, ensure_ascii=False)
        files[f"{SCHEMAS_DIR}/{model.type}/v{model.version}.json"] = text + "\n"
    return files


def events_page(catalogue: Catalogue) -> str:
    """docs/EVENTS.md: what each event means, by owning service, for people."""
    lines = [
        "# Events",
        "",
        "Generated from the catalogue (`python -m plimsoll_events.schema write docs`); do not",
        "edit by hand. Each event travels as a CloudEvents 1.0 message on its service's topic,",
        "keyed by the practitioner it concerns; the machine-readable contract is",
        f"[`{ASYNCAPI_FILE}`]({ASYNCAPI_FILE}) and [`{SCHEMAS_DIR}/`]({SCHEMAS_DIR}/).",
    ]
    by_service: dict[str, list[type[EventData]]] = {}
    for model in catalogue.models():
        by_service.setdefault(model.service, []).append(model)
    for service in sorted(by_service):
        lines += ["", f"## {service} (`{topic_for(service)}`)"]
        for model in sorted(by_service[service], key=_key):
            latest = catalogue.latest(model.type) is model
            status = (
                ""
                if latest
                else f" (superseded, upcast to v{catalogue.latest(model.type).version})"
            )
            lines += ["", f"### `{model.type}` v{model.version}{status}", "", _docstring(model), ""]
            lines += ["| field | type | meaning |", "| --- | --- | --- |"]
            properties = model.model_json_schema()["properties"]
            for name, field in model.model_fields.items():
                kind = _kind(properties[name])
                meaning = (field.description or "").replace("|", "\\|")
                lines.append(f"| `{name}` | {kind} | {meaning} |")
    return "\n".join(lines) + "\n"


def _kind(schema: dict[str, Any]) -> str:
    """A field's JSON Schema in a few words, for the events page."""
    if "anyOf" in schema:
        return " or ".join(_kind(option) for option in schema["anyOf"])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "enum" in schema:
        return "one of " + ", ".join(f"`{value}`" for value in schema["enum"])
    kind = str(schema.get("type", "any"))
    if kind == "array":
        return f"list of {_kind(schema.get('items', {}))}"
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def write(docs: Path, catalogue: Catalogue = CATALOGUE) -> list[str]:
    """Regenerate the published files; schema files of types no longer registered go."""
    files = generate(catalogue)
    for stale in _published_schema_files(docs) - set(files):
        (docs / stale).unlink()
    for relative, text in files.items():
        path = docs / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)


def check(docs: Path, catalogue: Catalogue = CATALOGUE) -> str | None:
    """None when the committed files are what the models generate, else what is stale."""
    files = generate(catalogue)
    for relative, text in files.items():  # the AsyncAPI document first: it names everything
        path = docs / relative
        if not path.is_file():
            return f"{path} is missing"
        if path.read_text(encoding="utf-8") != text:
            return f"{path} is stale: it differs from what the event models generate"
    extras = sorted(_published_schema_files(docs) - set(files))
    if extras:
        return f"{docs / extras[0]} is stale: no registered event type and version generates it"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """The CLI: `write <docs-dir>` or `check <docs-dir>`."""
    parser = argparse.ArgumentParser(
        prog="python -m plimsoll_events.schema",
        description="Generate or check the published event catalogue (AsyncAPI, JSON Schema).",
    )
    parser.add_argument("command", choices=["write", "check"])
    parser.add_argument("docs", type=Path, help="the docs folder, e.g. docs")
    arguments = parser.parse_args(argv)
    if arguments.command == "write":
        written = write(arguments.docs)
        print(f"wrote {len(written)} files under {arguments.docs}")
        return 0
    problem = check(arguments.docs)
    if problem is not None:
        fix = f"python -m plimsoll_events.schema write {arguments.docs}"
        print(f"error: {problem}; regenerate with: {fix}", file=sys.stderr)
        return 1
    return 0


def _key(model: type[EventData]) -> str:
    """The component and message id of a type and version, e.g. case-allocated.v1."""
    return f"{model.type}.v{model.version}"


def _docstring(model: type[EventData]) -> str:
    return inspect.cleandoc(model.__doc__ or model.type)


def _envelope_schema() -> dict[str, Any]:
    schema = CloudEvent.model_json_schema(mode="serialization")
    schema["description"] = inspect.cleandoc(CloudEvent.__doc__ or "")
    return schema


def _component_schema(model: type[EventData], components: dict[str, Any]) -> dict[str, Any]:
    """The data schema inside the AsyncAPI document; nested models join its components."""
    generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in generated.pop("$defs", {}).items():
        components.setdefault(name, nested)
    generated["title"] = f"{model.type} v{model.version}"
    generated["description"] = _docstring(model)
    generated["externalDocs"] = {
        "description": "The standalone JSON Schema",
        "url": dataschema_uri(model.type, model.version),
    }
    return generated


def _message(model: type[EventData]) -> dict[str, Any]:
    description = _docstring(model)
    message: dict[str, Any] = {
        "name": _key(model),
        "title": f"{model.type} v{model.version}",
        "summary": description.splitlines()[0],
        "description": description,
        "contentType": CONTENT_TYPE,
        "headers": {
            "type": "object",
            "properties": {"content-type": {"type": "string", "const": CONTENT_TYPE}},
            "required": ["content-type"],
        },
        "payload": {
            "allOf": [
                {"$ref": "#/components/schemas/CloudEvent"},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": cloudevent_type(model.type, model.version)},
                        "dataschema": {"const": dataschema_uri(model.type, model.version)},
                        "data": {"$ref": f"#/components/schemas/{_key(model)}"},
                    },
                },
            ]
        },
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The practitioner id (the subject)."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    if model.examples:
        message["examples"] = [
            {
                "name": f"{_key(model)}-example",
                "headers": {"content-type": CONTENT_TYPE},
                "payload": _example_envelope(model, dict(model.examples[0])),
            }
        ]
    return message


def _example_envelope(model: type[EventData], data: dict[str, Any]) -> dict[str, Any]:
    """A whole envelope as the relay would publish it, with fixed ids so the doc is stable."""
    validated = model.model_validate(data)
    recorded = RecordedEvent(
        position=42,
        stream_id=f"practitioner-{validated.subject}",
        stream_version=3,
        event_id=UUID("00000000-0000-4000-8000-000000000001"),
        type=model.type,
        version=model.version,
        subject=validated.subject,
        data=validated.model_dump(mode="json"),
        metadata=Metadata(
            actor="P-0100",
            correlation_id=UUID("00000000-0000-4000-8000-000000000002"),
            traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        recorded_at=datetime(2025, 3, 4, 16, 30, tzinfo=UTC),
    )
    envelope: dict[str, Any] = json.loads(
        encode(to_cloudevent(recorded, source_for(model.service)))
    )
    return envelope


def _channel(service: str, models: list[type[EventData]]) -> dict[str, Any]:
    topic = topic_for(service)
    owned = [model for model in models if model.service == service]
    return {
        "address": topic,
        "title": f"{service} events",
        "description": (
            f"Events of the {service} service, keyed by practitioner id and kept forever. "
            f"Unprocessable messages go to {dead_letter_topic(topic)}."
        ),
        "messages": {
            _key(model): {"$ref": f"#/components/messages/{_key(model)}"} for model in owned
        },
        "bindings": {
            "kafka": {
                "topic": topic,
                "topicConfiguration": {
                    "cleanup.policy": ["delete"],
                    "retention.ms": -1,
                    "retention.bytes": -1,
                },
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _operation(service: str, models: list[type[EventData]]) -> dict[str, Any]:
    owned = [model for model in models if model.service == service]
    return {
        "action": "send",
        "title": f"The {service} service publishes its events",
        "summary": f"The outbox relay of the {service} service publishes each recorded event, "
        "in position order.",
        "channel": {"$ref": f"#/channels/{service}"},
        "messages": [{"$ref": f"#/channels/{service}/messages/{_key(model)}"} for model in owned],
    }


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line text, so the descriptions read as written."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def _to_yaml(document: dict[str, Any]) -> str:
    return str(yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100))


def _published_schema_files(docs: Path) -> set[str]:
    root = docs / SCHEMAS_DIR
    if not root.is_dir():
        return set()
    return {path.relative_to(docs).as_posix() for path in root.glob("*/v*.json")}


if __name__ == "__main__":
    raise SystemExit(main())
