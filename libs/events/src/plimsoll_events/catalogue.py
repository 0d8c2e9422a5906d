"""The typed catalogue of event types: one pydantic model per type and version.

Events are kept forever and never rewritten, so the data of an old version stays
in the store as it was written. The catalogue is what lets code read it anyway:
each (type, version) has a model, each step from version N to N+1 has a pure
upcaster over the stored JSON, and `decode` walks the chain so that handlers
and projections only ever see the latest model of a type.

A consumer routes `UnknownEventType` and pydantic's `ValidationError` to the
dead-letter topic, so both name the type and version they failed on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from plimsoll_events.records import Metadata, NewEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns the stored JSON data of version N into the JSON data of version N+1."""

Model = TypeVar("Model", bound="type[EventData]")
Step = TypeVar("Step", bound=Upcaster)

TOPIC_PREFIX = "plimsoll."
DEAD_LETTER_SUFFIX = ".dlq"

_KEBAB = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
_SERVICE = re.compile(r"^[a-z]+$")


def topic_for(service: str) -> str:
    """The Kafka topic a service publishes its events to: one topic per service.

    Here rather than in `topics` because it is a fact of the catalogue: an event
    type belongs to one service (`EventData.service`), hence to one topic. Kept
    free of Kafka imports so that generating the docs needs no Kafka client.
    """
    return f"{TOPIC_PREFIX}{service}"


def dead_letter_topic(topic: str) -> str:
    """Where a consumer of `topic` puts the messages it cannot process, with the reason."""
    return f"{topic}{DEAD_LETTER_SUFFIX}"


class UnknownEventType(LookupError):
    """The catalogue cannot turn this (type, version) into a model of the latest version.

    Raised for a type nobody registered, a version newer than this code knows
    (a producer was deployed before this consumer), or a missing upcaster step.
    """

    def __init__(self, event_type: str, version: int, reason: str) -> None:
        super().__init__(f"{event_type} v{version}: {reason}")
        self.event_type = event_type
        self.version = version
        self.reason = reason


class EventData(BaseModel):
    """The payload of one event type at one version: a fact, immutable once recorded.

    Subclasses set the ClassVars `type` (a kebab-case past-tense fact such as
    `case-allocated`), `version` (from 1), `service` (the owning service, whose
    topic carries the event) and `examples` (stored JSON data, for the docs).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ClassVar[str]
    version: ClassVar[int]
    service: ClassVar[str]
    examples: ClassVar[tuple[Mapping[str, Any], ...]] = ()

    @property
    def subject(self) -> str | None:
        """The practitioner the event concerns: the Kafka key and the CloudEvents subject."""
        practitioner = getattr(self, "practitioner_id", None)
        return practitioner if isinstance(practitioner, str) else None


class Catalogue:
    """Event models keyed by (type, version), and the upcasters between versions."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[EventData]] = {}
        self._latest: dict[str, type[EventData]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: Model) -> Model:
        """Add a model; usable as a class decorator. A (type, version) is taken once."""
        _check_declared(model)
        key = (model.type, model.version)
        known = self._models.get(key)
        if known is not None and known is not model:
            raise ValueError(
                f"{model.type} v{model.version} is already registered as {known.__qualname__}"
            )
        self._models[key] = model
        latest = self._latest.get(model.type)
        if latest is None or latest.version < model.version:
            self._latest[model.type] = model
        return model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Step], Step]:
        """Register a pure function turning `from_version` data into `from_version + 1` data.

        It receives and returns stored JSON (dates as ISO strings), never models,
        so that it keeps working after the model of `from_version` is deleted.
        """

        def register(step: Step) -> Step:
            key = (event_type, from_version)
            if key in self._upcasters:
                raise ValueError(f"{event_type} v{from_version} already has an upcaster")
            self._upcasters[key] = step
            return step

        return register

    def latest(self, event_type: str) -> type[EventData]:
        """The model new events of this type are recorded with."""
        model = self._latest.get(event_type)
        if model is None:
            raise UnknownEventType(event_type, 0, "no such event type in the catalogue")
        return model

    def model(self, event_type: str, version: int) -> type[EventData]:
        """The model of exactly this version, without upcasting."""
        model = self._models.get((event_type, version))
        if model is None:
            raise UnknownEventType(event_type, version, "no model registered for this version")
        return model

    def decode(self, event_type: str, version: int, data: Mapping[str, Any]) -> EventData:
        """Validate stored data and upcast it step by step to the latest version's model.

        Each version with a model is validated before its upcaster runs, so bad
        legacy data is reported against the version it was written in.
        """
        latest = self.latest(event_type)
        if version < 1 or version > latest.version:
            raise UnknownEventType(
                event_type, version, f"the catalogue knows versions up to v{latest.version}"
            )
        current = dict(data)
        for step_version in range(version, latest.version + 1):
            model = self._models.get((event_type, step_version))
            if model is not None:
                validated = _validate(model, current, upcast_from=version)
                if step_version == latest.version:
                    return validated
                current = validated.model_dump(mode="json")
            step = self._upcasters.get((event_type, step_version))
            if step is None:
                raise UnknownEventType(
                    event_type,
                    version,
                    f"no upcaster from v{step_version} to v{step_version + 1}",
                )
            current = step(current)
        raise AssertionError("unreachable: the loop returns at the latest version")

    def new_event(self, data: EventData, metadata: Metadata) -> NewEvent:
        """The event a command decided on, ready for the store; always the latest version."""
        model = self.model(data.type, data.version)
        if model is not data.__class__:
            raise UnknownEventType(
                data.type, data.version, f"registered as {model.__qualname__}, not this class"
            )
        latest = self.latest(data.type)
        if latest is not model:
            raise ValueError(
                f"{data.type} v{data.version} is superseded by v{latest.version}: "
                "new facts are recorded with the latest version"
            )
        return NewEvent(
            type=data.type,
            version=data.version,
            data=data.model_dump(mode="json"),
            subject=data.subject,
            metadata=metadata,
        )

    def check(self) -> None:
        """Fail unless every registered version can be decoded to its type's latest version.

        Run in the unit tests: a new version without its upcaster is caught
        there, not by a consumer dead-lettering a production event.
        """
        for event_type, version in self._models:
            latest = self.latest(event_type).version
            for step_version in range(version, latest):
                if (event_type, step_version) not in self._upcasters:
                    raise UnknownEventType(
                        event_type,
                        version,
                        f"no upcaster from v{step_version} to v{step_version + 1}",
                    )

    def models(self) -> list[type[EventData]]:
        """Every registered model, ordered by type then version (the docs' order)."""
        return [self._models[key] for key in sorted(self._models)]

    def __iter__(self) -> Iterator[type[EventData]]:
        return iter(self.models())

    def __len__(self) -> int:
        return len(self._models)


def _check_declared(model: type[EventData]) -> None:
    """A model that forgot a ClassVar would otherwise fail far away, in a consumer."""
    missing = [name for name in ("type", "version", "service") if not hasattr(model, name)]
    if missing:
        raise TypeError(f"{model.__qualname__} does not set {', '.join(missing)}")
    if not _KEBAB.match(model.type):
        raise ValueError(f"event type {model.type!r} is not kebab-case (e.g. case-allocated)")
    if isinstance(model.version, bool) or not isinstance(model.version, int) or model.version < 1:
        raise ValueError(f"{model.type}: version must be an integer from 1, not {model.version!r}")
    if not _SERVICE.match(model.service):
        raise ValueError(f"{model.type}: service {model.service!r} is not a service name")


def _validate(model: type[EventData], data: dict[str, Any], upcast_from: int) -> EventData:
    """Validate, titling any error with the type and version rather than the class name."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        title = f"{model.type} v{model.version}"
        if upcast_from != model.version:
            title += f" (upcast from v{upcast_from})"
        raise ValidationError.from_exception_data(title, error.errors()) from error  # type: ignore[arg-type]


CATALOGUE = Catalogue()
"""The shipped event types; importing this module registers them all."""

# At the bottom on purpose: the type modules register into CATALOGUE, so it
# must exist first, and anyone holding CATALOGUE must see every shipped type.
from plimsoll_events import types as _shipped_types  # noqa: E402, F401
