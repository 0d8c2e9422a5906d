"""The notification rules: which events are told to whom, on which channels. Data, versioned.

The rules are a document (`rules/v<N>.toml`), read into these models. For an event they say:

* nothing, when its type is `ignored` (a fact nobody needs telling of: an hour logged);
* which audiences to tell, when a rule is `on` its type and the event's data has the values
  its `when` names (a rule's audience may have a `when` of its own);
* and otherwise refuse it (`NotKnownToRules`): a type the rules have never heard of is
  dead-lettered with that reason rather than silently dropped, so a new event type is a
  decision someone takes, in the rules, not an accident.

Each audience is a relationship to the event (`Who`), the channels to tell them on, and, for
what must be acknowledged, the hours allowed and who is told next when nobody does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from plimsoll_events.refusals import InvalidValue
from pydantic import BaseModel, ConfigDict, Field, model_validator

Who = Literal[
    "practitioner",
    "line-manager",
    "team-manager",
    "head-of-service",
    "union-representative",
    "partners",
    "ops",
]
"""A relationship to the event: whom an audience is."""

RuleChannel = Literal["email", "inbox", "webhook", "digest"]
"""How an audience is told: e-mail, inbox, a signed webhook (partners only), or a digest
e-mail that gathers many events (ops)."""

STEP_EVENT_ID = "event_id"
"""In a rule's `step`: the event's own id (every event its own step)."""


class NotKnownToRules(LookupError):
    """The rules neither tell of nor ignore this event type: it is dead-lettered with this."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Audience(_Strict):
    who: Who
    channels: tuple[RuleChannel, ...] = Field(min_length=1)
    when: Mapping[str, str] = Field(default_factory=dict)
    acknowledge_within_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    escalate_to: Who | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Audience:
        if (self.who == "partners") != (self.channels == ("webhook",)):
            raise ValueError("partners are told by webhook, and only they are")
        if "digest" in self.channels and (self.who != "ops" or len(self.channels) != 1):
            raise ValueError("a digest is for ops alone")
        if self.escalate_to is not None and self.acknowledge_within_hours is None:
            raise ValueError("escalate_to needs acknowledge_within_hours")
        if self.acknowledge_within_hours is not None and "inbox" not in self.channels:
            raise ValueError("what must be acknowledged goes to the inbox, where it is")
        return self

    @property
    def needs_acknowledgement(self) -> bool:
        return self.acknowledge_within_hours is not None


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9-]{0,99}$")
    on: str = Field(pattern=r"^[a-z][a-z0-9-]{0,99}$")
    when: Mapping[str, str] = Field(default_factory=dict)
    step: tuple[str, ...] = Field(min_length=1)
    identifiers: tuple[str, ...]
    title: str = Field(min_length=1, max_length=300)
    urgent: bool
    audiences: tuple[Audience, ...] = Field(min_length=1)

    def applies(self, data: Mapping[str, Any]) -> bool:
        return _matches(self.when, data)

    def step_of(self, event_id: str, data: Mapping[str, Any]) -> str:
        """The dedupe key: the type and the step's values (`breach-escalated:BR-1:manager`)."""
        values = [event_id if f == STEP_EVENT_ID else _text(data.get(f)) for f in self.step]
        return ":".join([self.on, *values])

    def identifiers_of(self, data: Mapping[str, Any]) -> dict[str, str]:
        """The identifiers the event has (absent or null ones left out)."""
        return {f: _text(data[f]) for f in self.identifiers if data.get(f) is not None}


class Rules(_Strict):
    version: int = Field(ge=1)
    ignored: frozenset[str]
    rules: tuple[Rule, ...] = Field(alias="rule", min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Rules:
        ids = [rule.id for rule in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError(f"rule ids must be unique: {ids}")
        both = self.ignored & {rule.on for rule in self.rules}
        if both:
            raise ValueError(f"types both ignored and told of: {sorted(both)}")
        return self

    def known(self) -> frozenset[str]:
        return self.ignored | {rule.on for rule in self.rules}

    def for_event(self, event_type: str, data: Mapping[str, Any]) -> list[Rule]:
        """The rules telling of this event (none for an ignored type or no `when` matching);
        `NotKnownToRules` for a type the rules do not know."""
        if event_type in self.ignored:
            return []
        on_type = [rule for rule in self.rules if rule.on == event_type]
        if not on_type:
            raise NotKnownToRules(
                f"notification rules v{self.version} neither tell of nor ignore "
                f"{event_type!r}: add it to a rule or to `ignored`"
            )
        return [rule for rule in on_type if rule.applies(data)]


def parse_rules(document: Mapping[str, Any]) -> Rules:
    """The rules of a document; `InvalidValue` naming what is wrong."""
    try:
        return Rules.model_validate(document)
    except ValueError as exc:
        raise InvalidValue(f"the notification rules are not valid: {exc}", field="rules") from exc


def audiences_for(rule: Rule, data: Mapping[str, Any]) -> Sequence[Audience]:
    return [audience for audience in rule.audiences if _matches(audience.when, data)]


@dataclass(frozen=True)
class _Missing:
    pass


def _matches(when: Mapping[str, str], data: Mapping[str, Any]) -> bool:
    return all(_text(data.get(field, _Missing())) == value for field, value in when.items())


def _text(value: Any) -> str:
    if isinstance(value, _Missing):
        return "\x00missing"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
