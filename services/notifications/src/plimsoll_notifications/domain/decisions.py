"""Who is to be told of an event: the rules applied to it and to what is known around it.

Pure: the event's data and the facts gathered for it (`Facts`: the practitioner's line manager
and region on the day, the union representatives they consented to, the partners subscribed)
in, `Intent`s out, one per audience member as a relationship (`Addressee`). Who that is in
the directory, and their address, is found when the intent is delivered.

A relationship the event does not settle (the practitioner's line manager, when the event
does not name one; the region, when it names none) is an intent for `Addressee(who, OF +
practitioner)`, looked up in placements when it is delivered: placements come from another
topic, and may arrive after the event. Nobody found then is a failed delivery with the reason,
as an event, rather than the duty to tell being dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from plimsoll_notifications.domain.rules import (
    Audience,
    Rule,
    RuleChannel,
    Rules,
    Who,
    audiences_for,
)

OF: Final = "of-"
"""Prefix of an addressee key naming the practitioner whose relationship is looked up later."""


@dataclass(frozen=True)
class Addressee:
    """Someone by their relationship: ("line-manager", "P-0100"), ("head-of-service",
    "R-NORTH"), ("union-representative", "uma.union"), ("partners", "WH-1"), ("ops", "")."""

    who: Who
    key: str

    def __str__(self) -> str:
        return f"{self.who}:{self.key}" if self.key else self.who


@dataclass(frozen=True)
class Cause:
    """The event told of."""

    event_id: str
    event_type: str
    source: str
    practitioner_id: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    event_types: frozenset[str]


@dataclass(frozen=True)
class Facts:
    """What the decision needs beyond the event, as known when it is taken."""

    representatives: Sequence[str] = ()
    subscriptions: Sequence[Subscription] = ()


@dataclass(frozen=True)
class Intent:
    """To tell `addressee` of `step` on `channels`, as `rule` of `rules_version` says."""

    rule: str
    rules_version: int
    step: str
    addressee: Addressee
    channels: tuple[RuleChannel, ...]
    urgent: bool
    acknowledge_within_hours: int | None
    escalate_to: Who | None
    identifiers: Mapping[str, str] = field(default_factory=dict)
    title_template: str = ""

    @property
    def dedupe_key(self) -> str:
        return f"{self.step}|{self.addressee}"


def decide(rules: Rules, cause: Cause, facts: Facts) -> list[Intent]:
    """Every intent the rules give for this event; `NotKnownToRules` for an unknown type."""
    intents: dict[str, Intent] = {}
    for rule in rules.for_event(cause.event_type, cause.data):
        step = rule.step_of(cause.event_id, cause.data)
        identifiers = rule.identifiers_of(cause.data)
        if cause.practitioner_id is not None:
            identifiers.setdefault("practitioner_id", cause.practitioner_id)
        for audience in audiences_for(rule, cause.data):
            for addressee in _addressees(audience, cause, facts):
                intent = _intent(rules, rule, audience, step, addressee, identifiers)
                intents.setdefault(intent.dedupe_key, intent)
    return list(intents.values())


def _intent(
    rules: Rules,
    rule: Rule,
    audience: Audience,
    step: str,
    addressee: Addressee,
    identifiers: Mapping[str, str],
) -> Intent:
    return Intent(
        rule=rule.id,
        rules_version=rules.version,
        step=step,
        addressee=addressee,
        channels=audience.channels,
        urgent=rule.urgent,
        acknowledge_within_hours=audience.acknowledge_within_hours,
        escalate_to=audience.escalate_to,
        identifiers=dict(identifiers),
        title_template=rule.title,
    )


def _addressees(audience: Audience, cause: Cause, facts: Facts) -> list[Addressee]:
    data, practitioner = cause.data, cause.practitioner_id
    match audience.who:
        case "practitioner":
            return [] if practitioner is None else [Addressee("practitioner", practitioner)]
        case "line-manager":
            if practitioner is None:
                return []
            manager = data.get("line_manager_id")
            return [Addressee("line-manager", str(manager or OF + practitioner))]
        case "team-manager":
            team = data.get("team_id")
            return [] if team is None else [Addressee("team-manager", str(team))]
        case "head-of-service":
            region = data.get("region_id")
            if region is None:
                return (
                    []
                    if practitioner is None
                    else [Addressee("head-of-service", OF + practitioner)]
                )
            return [Addressee("head-of-service", str(region))]
        case "union-representative":
            if practitioner is None:
                return []
            return [Addressee("union-representative", r) for r in sorted(facts.representatives)]
        case "partners":
            return [
                Addressee("partners", s.subscription_id)
                for s in facts.subscriptions
                if cause.event_type in s.event_types
            ]
        case "ops":
            return [Addressee("ops", "")]
    raise AssertionError(f"unhandled audience {audience.who}")  # pragma: no cover


def escalation(
    who: Who, practitioner_id: str | None, identifiers: Mapping[str, str], facts: Facts
) -> Addressee:
    """Who an unacknowledged notification goes to next (its audience's `escalate_to`)."""
    cause = Cause("", "", "", practitioner_id, identifiers)
    found = _addressees(Audience(who=who, channels=("email", "inbox")), cause, facts)
    return found[0] if found else Addressee(who, OF + str(practitioner_id))
