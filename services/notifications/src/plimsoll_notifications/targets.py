"""From a relationship to whom it is: the directory's people, or a partner's subscription.

`targets(who, key, ...)` turns an intent's addressee into the recipients to notify, each with
the address its channels need. Nobody found is not silence: it is a `Target` carrying the
`problem` (who was looked for, and why they were not found), whose delivery fails with it as
an event, so that the record shows a duty to tell that could not be met.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from plimsoll_platform.roles import Role

from plimsoll_notifications.directory import Directory, Person
from plimsoll_notifications.domain.decisions import OF

PEOPLE_LANE: Final = "people"


def webhook_lane(subscription_id: str) -> str:
    return f"webhook:{subscription_id}"


@dataclass(frozen=True)
class Target:
    recipient: str
    lane: str
    email: str | None = None
    url: str | None = None
    problem: str | None = None


class NotYetKnown(Exception):
    """Whose relationship it is cannot be told yet (no placement of the practitioner has
    arrived): the intent waits, and fails with the reason only once it has waited long."""


@dataclass(frozen=True)
class Placed:
    line_manager_id: str | None
    team_id: str
    region_id: str


PlacementOf = Callable[[str], Placed | None]


@dataclass(frozen=True)
class Partner:
    subscription_id: str
    url: str
    active: bool


def notification_id(step: str, recipient: str) -> str:
    """One recipient, one step, one notification: the id is derived from both."""
    digest = hashlib.sha256(f"{step}\n{recipient}".encode()).hexdigest()
    return f"N-{digest[:24]}"


def targets(
    who: str,
    key: str,
    directory: Directory,
    partners: Mapping[str, Partner],
    placement_of: PlacementOf,
    *,
    patient: bool = False,
) -> list[Target]:
    """The recipients an addressee stands for (see the module); raises `DirectoryUnavailable`
    when the directory cannot be asked, and, when `patient`, `NotYetKnown` for a practitioner
    placements have not heard of yet."""
    if who == "partners":
        partner = partners.get(key)
        if partner is None or not partner.active:
            return []  # unsubscribed since the decision: nothing to send
        return [Target(webhook_lane(key), webhook_lane(key), url=partner.url)]
    if key.startswith(OF):
        whose = key.removeprefix(OF)
        placed = placement_of(whose)
        if placed is None:
            if patient:
                raise NotYetKnown(whose)
            return [_problem(who, key, f"no placement of {whose} is known: no {who} to tell")]
        if who != "line-manager":
            key = placed.region_id
        elif placed.line_manager_id is not None:
            key = placed.line_manager_id
        else:
            # Nobody is named their line manager: whoever manages their team answers for them.
            who, key = "team-manager", placed.team_id
    found: list[Person]
    match who:
        case "practitioner" | "line-manager":
            person = directory.by_practitioner(key)
            found = [] if person is None else [person]
            missing = f"nobody in the directory has practitioner_id {key}"
        case "team-manager":
            found = directory.in_team(key, Role.MANAGER)
            missing = f"no manager of team {key} in the directory"
        case "head-of-service":
            found = directory.in_region(key, Role.HEAD_OF_SERVICE)
            missing = f"no head of service of region {key} in the directory"
        case "union-representative":
            person = directory.by_username(key)
            found = [] if person is None or Role.UNION_REP not in person.roles else [person]
            missing = f"{key} is not a union representative in the directory"
        case "ops":
            found = directory.with_role(Role.OPS)
            missing = "nobody in the directory has the ops role"
        case _:
            return [_problem(who, key, f"the rules name an unknown audience {who!r}")]
    if not found:
        return [_problem(who, key, missing)]
    return [Target(p.username, PEOPLE_LANE, email=p.email) for p in found]


def _problem(who: str, key: str, problem: str) -> Target:
    return Target(f"{who}:{key}" if key else who, PEOPLE_LANE, problem=problem)
