"""Where a practitioner works over time: the part of the practitioner aggregate
(`workforce`) that transfers them and changes their line manager.
`workforce.decide` and `workforce.evolve` hand those commands and events here.

A practitioner is registered in a team (of a region) with a line manager.
`TransferPractitioner` moves them to another team from a day (`effective_on`, on
or after their start), with the line manager they will have there:
`practitioner-transferred`, naming the team they leave (the one they are in the
day before). A transfer recorded later wins for every day from its own:
recording one drops those recorded for that day or later. The state keeps
recorded transfers in `transfers` (a fold knows no day); `on(day)` is the
practitioner as placed that day, which is how they are read. A transfer the same
as one recorded records nothing; one to the team they are in already is refused.
`ChangeLineManager` changes the line manager from today (`line-manager-changed`,
which carries no day); it is refused while a transfer to a later day is pending,
so that it always applies to the placement in force today (give the new team's
manager with the transfer instead).
"""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Final

from plimsoll_events import refusals as check
from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import LineManagerChanged, PractitionerTransferred

from plimsoll_allocation.domain.errors import Conflict, InvalidValue, supplied

if TYPE_CHECKING:
    from plimsoll_allocation.domain.workforce import Practitioner

_ONE_DAY: Final = timedelta(days=1)


# Commands.


@dataclass(frozen=True)
class KnownRegion:
    """The region a team is in, as the service knows it from who is placed there.

    `region_id` None: nobody is placed in the team yet, so it may be in any region.
    A team is in one region, which is what a head of service's scope rests on.
    """

    region_id: str | None


@dataclass(frozen=True)
class TransferPractitioner:
    """Move a practitioner to another team (and perhaps region) from `effective_on`.

    `line_manager_id` is their line manager in the new team, if known.
    """

    practitioner_id: str
    team_id: str
    region_id: str
    effective_on: date
    line_manager_id: str | None = None
    team_region: KnownRegion | None = None
    """Filled in by the application layer: the region the new team is in already."""


@dataclass(frozen=True)
class ChangeLineManager:
    """Change a practitioner's line manager from today (None: nobody); the same records nothing."""

    practitioner_id: str
    line_manager_id: str | None
    today: date | None = None
    """Filled in by the application layer: today, in the service's calendar."""


# State.


@dataclass(frozen=True)
class Transfer:
    """A recorded move: the team, region and line manager from `effective_on` on."""

    team_id: str
    region_id: str
    line_manager_id: str | None
    effective_on: date


# Deciding.


def check_placement(
    practitioner_id: str,
    team_id: str,
    region_id: str,
    line_manager_id: str | None,
    team_region: KnownRegion | None,
) -> None:
    """Check a team, region and line manager to place a practitioner in."""
    check.identifier(team_id, "team_id")
    check.identifier(region_id, "region_id")
    known = supplied(team_region, "team_region").region_id
    if known not in (None, region_id):
        raise Conflict(f"team {team_id} is in region {known}, not {region_id}", field="region_id")
    _line_manager(line_manager_id, practitioner_id)


def _line_manager(line_manager_id: str | None, practitioner_id: str) -> None:
    if line_manager_id is not None:
        check.identifier(line_manager_id, "line_manager_id")
        if line_manager_id == practitioner_id:
            raise InvalidValue("nobody is their own line manager", field="line_manager_id")


def transfer(command: TransferPractitioner, practitioner: "Practitioner") -> list[EventData]:
    check_placement(
        practitioner.practitioner_id,
        command.team_id,
        command.region_id,
        command.line_manager_id,
        command.team_region,
    )
    check.day(command.effective_on, "effective_on")
    if command.effective_on < practitioner.start_date:
        raise InvalidValue(f"before they started ({practitioner.start_date})", field="effective_on")
    move = Transfer(
        command.team_id, command.region_id, command.line_manager_id, command.effective_on
    )
    if move in practitioner.transfers:
        return []  # recorded already: a retry
    before = practitioner.on(command.effective_on - _ONE_DAY)
    if (before.team_id, before.region_id) == (command.team_id, command.region_id):
        raise Conflict(
            f"{practitioner.practitioner_id} is in team {command.team_id} already: "
            "change their line manager instead",
            field="team_id",
        )
    return [
        PractitionerTransferred(
            practitioner_id=practitioner.practitioner_id,
            team_id=command.team_id,
            region_id=command.region_id,
            previous_team_id=before.team_id,
            previous_region_id=before.region_id,
            line_manager_id=command.line_manager_id,
            effective_on=command.effective_on,
        )
    ]


def change_line_manager(
    command: ChangeLineManager, practitioner: "Practitioner"
) -> list[EventData]:
    today = supplied(command.today, "today")
    _line_manager(command.line_manager_id, practitioner.practitioner_id)
    pending = [t for t in practitioner.transfers if t.effective_on > today]
    if pending:
        raise Conflict(
            f"{practitioner.practitioner_id} moves to team {pending[0].team_id} on "
            f"{pending[0].effective_on}: give their line manager there with the transfer",
            field="line_manager_id",
        )
    now = practitioner.on(today)
    if command.line_manager_id == now.line_manager_id:
        return []
    return [
        LineManagerChanged(
            practitioner_id=practitioner.practitioner_id,
            line_manager_id=command.line_manager_id,
            previous_line_manager_id=now.line_manager_id,
        )
    ]


# Evolving.


def evolve(
    practitioner: "Practitioner", event: PractitionerTransferred | LineManagerChanged
) -> "Practitioner":
    """The practitioner after a transfer or a change of line manager."""
    if isinstance(event, PractitionerTransferred):
        # The later record wins from its day on: transfers for that day or later go.
        kept = tuple(t for t in practitioner.transfers if t.effective_on < event.effective_on)
        move = Transfer(event.team_id, event.region_id, event.line_manager_id, event.effective_on)
        return replace(practitioner, transfers=(*kept, move))
    # A line manager is changed only with no transfer pending after today (see
    # `change_line_manager`): the last placement recorded is the one in force.
    if practitioner.transfers:
        *earlier, last = practitioner.transfers
        moved = replace(last, line_manager_id=event.line_manager_id)
        return replace(practitioner, transfers=(*earlier, moved))
    return replace(practitioner, line_manager_id=event.line_manager_id)
