"""The CloudEvents 1.0 envelope, in structured JSON mode, as Plimsoll puts events on Kafka.

A Kafka message's value is one JSON object holding the attributes and the data;
its `content-type` header is `application/cloudevents+json` (CONTENT_TYPE).

Type naming: the CloudEvents `type` is `org.example.plimsoll.<type>.v<version>`,
e.g. `org.example.plimsoll.case-allocated.v1`, rather than a clean type plus a
version extension. The CloudEvents primer asks that a backwards-incompatible
change of the data change the `type`, and that types be prefixed by the
reverse-DNS name of the producer; routing, filtering and subscriptions in
generic CloudEvents tooling then work on one standard attribute, with no
Plimsoll extension to know about. The prefix is the reverse of the domain the
schemas are published under (`plimsoll.example.org`), so `type` and
`dataschema` agree; a deployment owning a real domain changes both constants.
`event_type` and `event_version` parse it back.

Extensions (CloudEvents names are lowercase a-z0-9, at most 20 characters):
- `actor`, `correlationid`, `causationid`: the event's metadata; `actor` and
  `correlationid` are required in Plimsoll's profile because every recorded
  event has them.
- `traceparent`, `tracestate`: the CloudEvents distributed-tracing extension
  (W3C trace context), carried as given and never validated: a malformed trace
  header must not dead-letter a fact.
- `plimsollstream`, `plimsollstreamver`, `plimsollposition`: where the event
  sits in the producer's store (stream id, version within the stream, global
  position). `plimsollstreamver` is shortened from "stream version" to stay
  within the 20-character limit. CloudEvents Integers are 32-bit; a service
  would need over two billion events to pass that.

The profile is stricter than CloudEvents where consumers rely on it: `id`,
`correlationid` and `causationid` are UUIDs (consumers deduplicate on `id`),
`time` is required, and `data` is a JSON object. Unknown extensions are kept.

Reading: `decode` checks any envelope and upcasts its data; `TypedEnvelopes`
checks the common case (the latest version, no extension) in one pass of
pydantic's parser, and hands everything else to `decode`.
"""

from __future__ import annotations

import functools
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    create_model,
    model_validator,
)

from plimsoll_events.records import Metadata, RecordedEvent

if TYPE_CHECKING:
    from plimsoll_events.catalogue import Catalogue

CONTENT_TYPE = "application/cloudevents+json"
SPECVERSION = "1.0"
TYPE_PREFIX = "org.example.plimsoll"
SCHEMA_BASE_URI = "https://plimsoll.example.org/schemas/"

_TYPE = re.compile(rf"^{re.escape(TYPE_PREFIX)}\.([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\.v([1-9][0-9]*)$")
_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]+$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


class MalformedEnvelope(ValueError):
    """The bytes are not a Plimsoll CloudEvent; the message says exactly why."""


def cloudevent_type(event_type: str, version: int) -> str:
    """The CloudEvents `type` of a catalogue type and version."""
    return f"{TYPE_PREFIX}.{event_type}.v{version}"


def dataschema_uri(event_type: str, version: int) -> str:
    """Where the JSON Schema of a type and version is published."""
    return f"{SCHEMA_BASE_URI}{event_type}/v{version}.json"


def source_for(service: str) -> str:
    """The CloudEvents `source` of a service's events."""
    return f"/plimsoll/{service}"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event as Plimsoll publishes it: attributes, extensions and data."""

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = Field(description="CloudEvents version: always 1.0.")
    id: UUID = Field(description="The event id; unique within the source, stable on redelivery.")
    source: str = Field(
        min_length=1,
        pattern=r"^\S+$",
        description="URI-reference of the producing service, e.g. /plimsoll/allocation.",
    )
    type: str = Field(
        pattern=_TYPE.pattern,
        description="org.example.plimsoll.<event type>.v<version>, e.g. "
        "org.example.plimsoll.case-allocated.v1.",
    )
    subject: str | None = Field(
        default=None, min_length=1, description="The practitioner the event concerns."
    )
    time: AwareDatetime = Field(description="When the event was recorded (RFC 3339).")
    datacontenttype: Literal["application/json"] = Field(
        default="application/json", description="Data is always a JSON object."
    )
    dataschema: str | None = Field(
        default=None, description="URI of the JSON Schema of the data's type and version."
    )
    data: dict[str, Any] = Field(description="The event data, as its type and version define.")
    actor: str = Field(min_length=1, description="Who or what caused the event.")
    correlationid: UUID = Field(description="Shared by every event of one piece of work.")
    causationid: UUID | None = Field(
        default=None, description="The id of the event or command that caused this one."
    )
    traceparent: str | None = Field(default=None, description="W3C trace context.")
    tracestate: str | None = Field(default=None, description="W3C trace context, vendor part.")
    plimsollstream: str = Field(min_length=1, description="The producer's stream id.")
    plimsollstreamver: int = Field(
        strict=True, ge=0, description="The event's version within its stream."
    )
    plimsollposition: int = Field(
        strict=True, ge=0, description="The event's global position at the source."
    )

    @model_validator(mode="before")
    @classmethod
    def _attribute_rules(cls, raw: Any) -> Any:
        """Apply the CloudEvents rules pydantic's types cannot express."""
        if not isinstance(raw, dict):
            return raw
        # Only extensions need looking at: the declared attributes are checked by their types.
        for name in raw.keys() - _DECLARED:
            if name == "data_base64":
                raise ValueError("data_base64 is not accepted: Plimsoll data is a JSON object")
            if not isinstance(name, str) or not _ATTRIBUTE_NAME.match(name):
                raise ValueError(f"attribute name {name!r} is not lowercase a-z and 0-9")
            value = raw[name]
            if not (value is None or isinstance(value, str | int | bool)):
                raise ValueError(f"extension {name!r} must be a string, integer or boolean")
        kind = raw.get("type")
        if isinstance(kind, str) and not _TYPE.match(kind):
            raise ValueError(f"type {kind!r} is not {TYPE_PREFIX}.<event type>.v<version>")
        time = raw.get("time")
        if not isinstance(time, datetime | None) and not (
            isinstance(time, str) and _RFC3339.match(time)
        ):
            raise ValueError(f"time {time!r} is not an RFC 3339 timestamp with an offset")
        return raw

    @property
    def event_type(self) -> str:
        """The catalogue type, e.g. case-allocated."""
        return self._parsed_type()[0]

    @property
    def event_version(self) -> int:
        """The catalogue version of the data."""
        return self._parsed_type()[1]

    @property
    def metadata(self) -> Metadata:
        """Why and by whom the event was recorded, as the store keeps it."""
        return Metadata(
            actor=self.actor,
            correlation_id=self.correlationid,
            causation_id=self.causationid,
            traceparent=self.traceparent,
            tracestate=self.tracestate,
        )

    def _parsed_type(self) -> tuple[str, int]:
        return _parse_type(self.type)


_DECLARED = frozenset(CloudEvent.model_fields)


@functools.lru_cache(maxsize=1024)
def _parse_type(cloudevent_type: str) -> tuple[str, int]:
    """(event type, version) of a CloudEvents type; there are few, so they are cached."""
    match = _TYPE.match(cloudevent_type)
    if match is None:  # the field's pattern makes this unreachable
        raise MalformedEnvelope(f"type {cloudevent_type!r} is not a Plimsoll event type")
    return match.group(1), int(match.group(2))


def to_cloudevent(recorded: RecordedEvent, source: str) -> CloudEvent:
    """The envelope of a recorded event, as the relay publishes it."""
    metadata = recorded.metadata
    return CloudEvent(
        specversion="1.0",
        id=recorded.event_id,
        source=source,
        type=cloudevent_type(recorded.type, recorded.version),
        subject=recorded.subject,
        time=recorded.recorded_at,
        datacontenttype="application/json",
        dataschema=dataschema_uri(recorded.type, recorded.version),
        data=recorded.data,
        actor=metadata.actor,
        correlationid=metadata.correlation_id,
        causationid=metadata.causation_id,
        traceparent=metadata.traceparent,
        tracestate=metadata.tracestate,
        plimsollstream=recorded.stream_id,
        plimsollstreamver=recorded.stream_version,
        plimsollposition=recorded.position,
    )


def to_recorded(event: CloudEvent) -> RecordedEvent:
    """The recorded event an envelope carries: what a consumer hands to a projection."""
    return RecordedEvent(
        position=event.plimsollposition,
        stream_id=event.plimsollstream,
        stream_version=event.plimsollstreamver,
        event_id=event.id,
        type=event.event_type,
        version=event.event_version,
        subject=event.subject,
        data=event.data,
        metadata=event.metadata,
        recorded_at=event.time,
    )


def encode(event: CloudEvent) -> bytes:
    """Compact UTF-8 JSON; absent optional attributes are left out rather than null."""
    attributes = event.model_dump(mode="json", exclude_none=True)
    # exclude_none leaves nulls inside data alone (a null tier is a fact); restore data exactly.
    attributes["data"] = event.model_dump(mode="json", include={"data"})["data"]
    return json.dumps(
        attributes, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def decode(raw: bytes) -> CloudEvent:
    """Parse a structured-mode CloudEvent, or raise MalformedEnvelope saying why."""
    try:
        # The common case in one pass of pydantic's own JSON parser.
        return CloudEvent.model_validate_json(raw)
    except ValidationError:
        pass
    # Something is wrong: parse step by step to say exactly what.
    try:
        parsed = json.loads(raw)
    except ValueError as error:
        raise MalformedEnvelope(
            f"not a CloudEvent: the message is not UTF-8 JSON ({error})"
        ) from None
    if not isinstance(parsed, dict):
        raise MalformedEnvelope(
            f"not a CloudEvent: structured mode needs a JSON object, got {_json_kind(parsed)}"
        )
    specversion = parsed.get("specversion")
    if specversion != SPECVERSION:
        found = "no specversion" if specversion is None else f"specversion {_show(specversion)}"
        raise MalformedEnvelope(f"not a CloudEvents {SPECVERSION} event: {found}")
    try:
        return CloudEvent.model_validate(parsed)
    except ValidationError as error:
        raise MalformedEnvelope(_describe(error, parsed)) from None


def _describe(error: ValidationError, parsed: dict[str, Any]) -> str:
    """One line naming the event (when it has an id) and every attribute at fault."""
    problems = []
    for detail in error.errors(include_url=False):
        where = ".".join(str(part) for part in detail["loc"])
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "missing":
            message = "required attribute missing"
        elif where:
            message += f", got {_show(detail['input'])}"
        problems.append(f"{where}: {message}" if where else message)
    event_id = parsed.get("id")
    named = f" (id {event_id})" if isinstance(event_id, str) else ""
    return f"malformed CloudEvent{named}: {'; '.join(problems)}"


def _show(value: object) -> str:
    """A value as it appeared in the JSON, cut short: enough to find it, never a whole payload."""
    shown = json.dumps(value, ensure_ascii=False, default=str)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _json_kind(value: object) -> str:
    kinds: dict[type, str] = {list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return kinds.get(value.__class__, value.__class__.__name__)


__all__ = [
    "CONTENT_TYPE",
    "SCHEMA_BASE_URI",
    "SPECVERSION",
    "TYPE_PREFIX",
    "CloudEvent",
    "MalformedEnvelope",
    "cloudevent_type",
    "dataschema_uri",
    "decode",
    "encode",
    "source_for",
    "to_cloudevent",
    "to_recorded",
]


class TypedEnvelopes:
    """The envelope and the data of an event checked in one pass of pydantic's JSON parser.

    One model per type at its latest version, with the data typed and no Python
    validator: the common case costs a fraction of decoding the envelope and
    then the data. Each is stricter than the general path (no extensions, the
    exact type, time as an RFC 3339 string), so whatever it accepts the general
    path would too. Anything else (an older version to upcast, an extension, a
    malformed message) returns None and takes the general path, which also
    explains what is wrong.
    """

    def __init__(self, catalogue: Catalogue) -> None:
        fields: dict[str, Any] = {
            name: (field.annotation, field) for name, field in CloudEvent.model_fields.items()
        }
        fields["time"] = (Annotated[AwareDatetime, Strict()], CloudEvent.model_fields["time"])
        self._models: dict[bytes, type[BaseModel]] = {}
        for model in catalogue.models():
            if catalogue.latest(model.type) is model:
                name = cloudevent_type(model.type, model.version)
                self._models[name.encode()] = create_model(
                    f"{model.__name__}Envelope",
                    __config__=ConfigDict(frozen=True, extra="forbid"),
                    **{
                        **fields,
                        "type": (Literal[name], ...),
                        "data": (model, ...),
                    },
                )

    def decode(self, raw: bytes) -> Any | None:
        start = raw.find(b'"type":"')
        if start < 0:
            return None
        start += len(b'"type":"')
        # A wrong guess (a "type" inside data, say) fails the model's literal type: no harm.
        model = self._models.get(raw[start : raw.find(b'"', start)])
        if model is None:
            return None
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            return None
