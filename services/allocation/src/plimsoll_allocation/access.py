"""Who reaches whose records: the scope a caller's token gives them.

The token places the caller (`plimsoll_platform.auth.Principal`):

* admins and service accounts reach everything;
* a head of service reaches their area, the region of their `region` claim:
  its teams, their practitioners and the cases those teams hold;
* a manager reaches their own team (`team` claim);
* a practitioner reads their own record (`practitioner_id` claim), and the
  cases they carry;
* operations staff reach aggregates only: the routes that serve them figures
  leave the names out.

A team's region is its practitioners', as they were registered: a team in which
nobody is registered yet has none, and only admins and service accounts reach it.
"""

from dataclasses import dataclass
from typing import Final

from plimsoll_platform.auth import Principal
from plimsoll_platform.problems import Problem

from plimsoll_allocation.domain import Actor, OutsideScope

# The domain's names for the roles that decide allocations, re-exported with the others.
from plimsoll_allocation.domain.rules import HEAD_OF_SERVICE as HEAD_OF_SERVICE
from plimsoll_allocation.domain.rules import MANAGER as MANAGER

PRACTITIONER: Final = "practitioner"
OPS: Final = "ops"
ADMIN: Final = "admin"
SERVICE: Final = "service"

EVERYWHERE: Final = (ADMIN, SERVICE)
"""Roles whose scope is the whole service."""


@dataclass(frozen=True)
class Place:
    """Where a record sits: its team, and that team's region (None: not known yet)."""

    team_id: str
    region_id: str | None


def reaches(principal: Principal, place: Place) -> bool:
    """The caller's scope includes this place."""
    if principal.has_any(*EVERYWHERE):
        return True
    if (
        HEAD_OF_SERVICE in principal.roles
        and principal.region is not None
        and place.region_id == principal.region
    ):
        return True
    return MANAGER in principal.roles and principal.team == place.team_id


def check_reaches(principal: Principal, place: Place, *, field: str | None = None) -> None:
    """`OutsideScope` (403, naming `field`) unless the caller's scope includes the place."""
    if reaches(principal, place):
        return
    if HEAD_OF_SERVICE in principal.roles:
        if principal.region is None:
            reason = "your account has no region: a head of service acts only in their region"
        elif place.region_id is None:
            reason = (
                f"nobody is registered in team {place.team_id} yet, so its region is not "
                "known: an admin acts there"
            )
        else:
            reason = (
                f"team {place.team_id} is in region {place.region_id}: a head of service acts "
                f"only in their own region ({principal.region})"
            )
    elif MANAGER in principal.roles:
        reason = f"a manager acts only in their own team ({principal.team})"
    else:
        raise forbidden("a manager, head of service or admin is needed")
    raise OutsideScope(reason, field=field)


def check_region(principal: Principal, region_id: str, *, field: str | None = None) -> None:
    """`OutsideScope` unless the caller reaches the whole region (admin, service, its head)."""
    if principal.has_any(*EVERYWHERE) or (
        HEAD_OF_SERVICE in principal.roles and principal.region == region_id
    ):
        return
    raise OutsideScope(
        f"region {region_id} is read by its head of service and admins "
        f"(your region: {principal.region})",
        field=field,
    )


def is_self(principal: Principal, practitioner_id: str) -> bool:
    """The caller is this practitioner."""
    return PRACTITIONER in principal.roles and principal.practitioner_id == practitioner_id


def actor(principal: Principal) -> Actor:
    """The caller as the allocation rules see them: name, roles, team and region."""
    return Actor(
        actor_id=principal.username or principal.subject,
        roles=principal.roles,
        team_id=principal.team,
        region_id=principal.region,
    )


def forbidden(detail: str) -> Problem:
    """A 403 for a caller whose role does not allow the request at all."""
    return Problem(403, "Forbidden", detail, kind="forbidden")
