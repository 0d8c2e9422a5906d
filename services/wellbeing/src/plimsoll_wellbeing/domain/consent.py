"""Which union representatives a practitioner lets read their declarations.

One stream per practitioner (`consent_stream`). A decider: `initial_state`, `decide`,
`evolve`. Only the practitioner gives or withdraws consent (the edge sees to that); consent
is to a named representative's account, so another representative of the same union reads
nothing. Giving consent already given records nothing; withdrawing consent never given is
refused, naming `representative`.
"""

import re
from dataclasses import dataclass
from typing import Final

from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.fields import ACTOR_PATTERN
from plimsoll_events.types.wellbeing import UnionConsentGiven, UnionConsentWithdrawn

from plimsoll_wellbeing.domain.errors import InvalidValue, NotFound

_ACTOR = re.compile(ACTOR_PATTERN)


@dataclass(frozen=True)
class GiveConsent:
    practitioner_id: str
    representative: str


@dataclass(frozen=True)
class WithdrawConsent:
    practitioner_id: str
    representative: str


ConsentCommand = GiveConsent | WithdrawConsent
ConsentState = frozenset[str]
"""The representatives who may read the declarations now."""

initial_state: Final[ConsentState] = frozenset()


def consent_stream(practitioner_id: str) -> str:
    """The stream of a practitioner's union consent."""
    return f"union-consent-{practitioner_id}"


def decide(command: ConsentCommand, state: ConsentState) -> list[EventData]:
    if not _ACTOR.match(command.representative):
        raise InvalidValue(
            "must be the representative's username (no spaces)", field="representative"
        )
    if isinstance(command, GiveConsent):
        if command.representative in state:
            return []
        return [UnionConsentGiven(**_fields(command))]
    if command.representative not in state:
        raise NotFound(
            f"{command.representative} has no consent to withdraw", field="representative"
        )
    return [UnionConsentWithdrawn(**_fields(command))]


def _fields(command: ConsentCommand) -> dict[str, str]:
    return {"practitioner_id": command.practitioner_id, "representative": command.representative}


def evolve(state: ConsentState, event: EventData) -> ConsentState:
    if isinstance(event, UnionConsentGiven):
        return state | {event.representative}
    if isinstance(event, UnionConsentWithdrawn):
        return state - {event.representative}
    raise TypeError(f"{event.type} is not an event of union consent")


CONSENT: Final = Decider[ConsentCommand, ConsentState](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""A practitioner's union consent as a `Decider`."""
