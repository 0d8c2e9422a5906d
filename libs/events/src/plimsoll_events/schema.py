"""The published catalogue: JSON Schema per event type and version, and an AsyncAPI 3.0 document.

Both are generated from the models and committed under `docs/`, so consumers
outside Python read the same contract the code enforces; the AsyncAPI document
and EVENTS.md also describe the HMPPS domain events (`hmpps`), on their own
channel. The committed files are checked against the models in the unit tests
and by `check`, so a model change that was not regenerated fails the build
instead of misleading a consumer.

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
from plimsoll_events.hmpps import CONTENT_TYPE as HMPPS_CONTENT_TYPE
from plimsoll_events.hmpps import HMPPS_EVENTS, HMPPS_TOPIC, HmppsDomainEvent
from plimsoll_events.records import Metadata, RecordedEvent

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"
EVENTS_FILE = "EVENTS.md"
ASYNCAPI_FILE = "asyncapi.yaml"
SCHEMAS_DIR = "schemas"
HMPPS_CHANNEL = "allocation-hmpps"

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

HMPPS domain events: the allocation service also publishes some of its facts as
HMPPS domain events, for HMPPS consumers unchanged, on `{HMPPS_TOPIC}` (channel
`{HMPPS_CHANNEL}`): plain JSON (`content-type` `{HMPPS_CONTENT_TYPE}`) in the HMPPS
envelope, not CloudEvents.
"""

_HMPPS_DESCRIPTION = f"""\
Besides its CloudEvents, the allocation service publishes some of its facts in the
HMPPS domain event envelope (`eventType`, `version`, `description`, `detailUrl`,
`occurredAt`, `additionalInformation`, `personReference`), as HMPPS services do,
so that HMPPS consumers read them unchanged. The Kafka value is the envelope as
plain JSON, with the header `content-type: {HMPPS_CONTENT_TYPE}` (and `traceparent`
when the request that recorded the event had one). Consumers filter on
`eventType` and `version`, and ignore fields they do not know: fields may be added
to a version. Every other allocation event publishes nothing here. A message may
be sent again (at least once); `detailUrl` gives the subject's current state.
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
    for hmpps in HMPPS_EVENTS:
        schemas[_hmpps_key(hmpps)] = _hmpps_component_schema(hmpps, schemas)
        messages[_hmpps_key(hmpps)] = _hmpps_message(hmpps)
    channels[HMPPS_CHANNEL] = _hmpps_channel()
    operations[f"{HMPPS_CHANNEL}.send"] = _hmpps_operation()
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
        "keyed by the practitioner it concerns (its subject), or by its stream when it",
        "concerns nobody yet (a case opened, a weighting scheme changed): one practitioner's",
        "events stay in order; a case's events before and after its allocation may not, so",
        "order them by `plimsollstreamver`. The machine-readable contract is",
        f"[`{ASYNCAPI_FILE}`]({ASYNCAPI_FILE}) and [`{SCHEMAS_DIR}/`]({SCHEMAS_DIR}/). Some",
        "allocation events are also published as HMPPS domain events (the last section).",
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
    return "\n".join([*lines, *_hmpps_section()]) + "\n"


def _hmpps_section() -> list[str]:
    """The HMPPS domain events, with where each field of the envelope comes from."""
    lines = ["", f"## allocation, as HMPPS domain events (`{HMPPS_TOPIC}`)", ""]
    lines += _HMPPS_DESCRIPTION.splitlines()
    for model in HMPPS_EVENTS:
        event_type, version = _hmpps_type(model)
        lines += ["", f"### `{event_type}` v{version}", "", _docstring(model), ""]
        lines += [f"Key: {model.key_description}", ""]
        lines += ["| field | type | meaning |", "| --- | --- | --- |"]
        generated = model.model_json_schema()
        for path, field in _leaves(generated, generated.get("$defs", {})):
            meaning = str(field.get("description", "")).replace("|", "\\|")
            lines.append(f"| `{path}` | {_kind(field)} | {meaning} |")
    return lines


def _leaves(
    schema: dict[str, Any], defs: dict[str, Any], path: str = ""
) -> list[tuple[str, dict[str, Any]]]:
    """The scalar fields of a JSON Schema by dotted path, nested objects and tuples opened."""
    if "$ref" in schema:
        return _leaves(defs[str(schema["$ref"]).rsplit("/", 1)[-1]], defs, path)
    if "properties" in schema:
        return [
            leaf
            for name, field in schema["properties"].items()
            for leaf in _leaves(field, defs, f"{path}.{name}" if path else name)
        ]
    if "prefixItems" in schema:
        return [
            leaf
            for index, item in enumerate(schema["prefixItems"])
            for leaf in _leaves(item, defs, f"{path}[{index}]")
        ]
    return [(path, schema)]


def _kind(schema: dict[str, Any]) -> str:
    """A field's JSON Schema in a few words, for the events page."""
    if "anyOf" in schema:
        return " or ".join(_kind(option) for option in schema["anyOf"])
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
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


def _docstring(model: type[EventData] | type[HmppsDomainEvent]) -> str:
    if issubclass(model, HmppsDomainEvent):
        return inspect.cleandoc(model.__doc__ or _hmpps_key(model))
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
        "bindings": _topic_bindings(topic),
    }


def _topic_bindings(topic: str) -> dict[str, Any]:
    """Every topic's settings: kept forever (see `topics.FOREVER`)."""
    return {
        "kafka": {
            "topic": topic,
            "topicConfiguration": {
                "cleanup.policy": ["delete"],
                "retention.ms": -1,
                "retention.bytes": -1,
            },
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
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


def _hmpps_type(model: type[HmppsDomainEvent]) -> tuple[str, int]:
    """The eventType and version an HMPPS event model fixes (each a `Literal`)."""
    properties = model.model_json_schema()["properties"]
    return str(properties["eventType"]["const"]), int(properties["version"]["const"])


def _hmpps_key(model: type[HmppsDomainEvent]) -> str:
    """The component and message id, e.g. person.community.manager.allocated.v1."""
    event_type, version = _hmpps_type(model)
    return f"{event_type}.v{version}"


def _hmpps_component_schema(
    model: type[HmppsDomainEvent], components: dict[str, Any]
) -> dict[str, Any]:
    """The whole envelope's schema; its nested models join the components."""
    generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in generated.pop("$defs", {}).items():
        if components.setdefault(name, nested) != nested:
            raise ValueError(f"two schemas are named {name}")
    event_type, version = _hmpps_type(model)
    generated["title"] = f"{event_type} v{version}"
    generated["description"] = _docstring(model)
    return generated


def _hmpps_message(model: type[HmppsDomainEvent]) -> dict[str, Any]:
    event_type, version = _hmpps_type(model)
    description = _docstring(model)
    return {
        "name": _hmpps_key(model),
        "title": f"{event_type} v{version}",
        "summary": description.splitlines()[0],
        "description": description,
        "contentType": HMPPS_CONTENT_TYPE,
        "headers": {
            "type": "object",
            "properties": {
                "content-type": {"type": "string", "const": HMPPS_CONTENT_TYPE},
                "traceparent": {
                    "type": "string",
                    "description": "The W3C trace context of the request that recorded the "
                    "event, when it had one.",
                },
            },
            "required": ["content-type"],
        },
        "payload": {"$ref": f"#/components/schemas/{_hmpps_key(model)}"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": model.key_description},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {
                "name": f"{_hmpps_key(model)}-example",
                "summary": f"Keyed {model.model_validate(example).kafka_key()}",
                "headers": {"content-type": HMPPS_CONTENT_TYPE},
                "payload": dict(example),
            }
            for example in model.examples
        ],
    }


def _hmpps_channel() -> dict[str, Any]:
    return {
        "address": HMPPS_TOPIC,
        "title": "allocation events as HMPPS domain events",
        "description": _HMPPS_DESCRIPTION
        + f"\nKept forever. Unprocessable messages go to {dead_letter_topic(HMPPS_TOPIC)}.\n",
        "messages": {
            _hmpps_key(model): {"$ref": f"#/components/messages/{_hmpps_key(model)}"}
            for model in HMPPS_EVENTS
        },
        "bindings": _topic_bindings(HMPPS_TOPIC),
    }


def _hmpps_operation() -> dict[str, Any]:
    return {
        "action": "send",
        "title": "The allocation service publishes HMPPS domain events",
        "summary": "A relay of the allocation service's event store publishes the HMPPS domain "
        "event each recorded event becomes (most become none), in position order.",
        "channel": {"$ref": f"#/channels/{HMPPS_CHANNEL}"},
        "messages": [
            {"$ref": f"#/channels/{HMPPS_CHANNEL}/messages/{_hmpps_key(model)}"}
            for model in HMPPS_EVENTS
        ],
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
