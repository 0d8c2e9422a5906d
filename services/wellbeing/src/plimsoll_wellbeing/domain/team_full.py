"""A team declared full, and lifted: so courts and partners know normal service cannot be given.

One stream per team (`team_full_stream`). A decider: `initial_state` (not full), `decide`,
`evolve`.

Rules:

* A head of service (their region) or an admin declares a team full, with a reason and how long
  it is expected to last (1 to 366 days); a team already declared full is refused.
* They lift it, with a reason; a team not declared full is refused.
* The team-full breach (capacity at the policy's threshold) and the declaration are separate
  facts: the breach says the threshold was reached, the declaration that someone acted on it.
  The declaration names the breach open at the time, if any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from plimsoll_events import refusals
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.wellbeing import TeamFullDeclared, TeamFullLifted

from plimsoll_wellbeing.domain.errors import Conflict, InvalidValue


class TeamAlreadyFull(Conflict):
    kind = "team-already-full"
    title = "The team is declared full already"


class TeamNotFull(Conflict):
    kind = "team-not-full"
    title = "The team is not declared full"


def team_full_stream(team_id: str) -> str:
    return f"team-full-{team_id}"


@dataclass(frozen=True)
class DeclareFull:
    team_id: str
    region_id: str
    declared_by: str
    reason: str
    today: date
    expected_duration_days: int
    breach_id: str | None = None


@dataclass(frozen=True)
class LiftFull:
    team_id: str
    region_id: str
    lifted_by: str
    reason: str
    today: date


TeamFullCommand = DeclareFull | LiftFull


@dataclass(frozen=True)
class TeamFullState:
    full: bool = False
    declared_on: date | None = None


initial_state: Final = TeamFullState()


def decide(command: TeamFullCommand, state: TeamFullState) -> list[EventData]:
    if isinstance(command, DeclareFull):
        if state.full:
            raise TeamAlreadyFull(
                f"{command.team_id} has been declared full since {state.declared_on}",
                field="team_id",
            )
        if not 1 <= command.expected_duration_days <= 366:
            raise InvalidValue("1 to 366 days", field="expected_duration_days")
        return [
            TeamFullDeclared(
                team_id=command.team_id,
                region_id=command.region_id,
                declared_by=command.declared_by,
                reason=refusals.text(command.reason, "reason"),
                declared_on=command.today,
                expected_duration_days=command.expected_duration_days,
                expected_until=command.today + timedelta(days=command.expected_duration_days),
                breach_id=command.breach_id,
            )
        ]
    if not state.full:
        raise TeamNotFull(f"{command.team_id} is not declared full", field="team_id")
    return [
        TeamFullLifted(
            team_id=command.team_id,
            region_id=command.region_id,
            lifted_by=command.lifted_by,
            reason=refusals.text(command.reason, "reason"),
            lifted_on=command.today,
        )
    ]


def evolve(state: TeamFullState, event: EventData) -> TeamFullState:
    if isinstance(event, TeamFullDeclared):
        return TeamFullState(True, event.declared_on)
    if isinstance(event, TeamFullLifted):
        return TeamFullState()
    raise TypeError(f"{event.type} is not an event of a team's fullness")


TEAM_FULL: Final = Decider[TeamFullCommand, TeamFullState](
    initial_state=initial_state, decide=decide, evolve=evolve
)
