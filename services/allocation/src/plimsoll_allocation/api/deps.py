"""What the allocation routes share: what the app holds, who may call what, the ids in
paths, and the problems each resource may answer, in allocation's words.

Who may call a route is declared once, at the route, by one of the rules below
(`plimsoll_platform.access.may`): a role the rule does not name is refused
before anything is read. The route then reads the record it is about and has
the `Caller` check where it is (`place_of`, `case_place`): a manager reaches
their team, a head of service their region, admins and services everything,
a practitioner their own record where the rule says so. Anyone but admins and
services is answered alike for a record outside their scope and for one that
does not exist (403 `outside-scope`).
"""

from typing import Annotated, Any, Final

from fastapi import Depends, Path
from plimsoll_events.types.fields import Identifier
from plimsoll_platform.access import SCOPED, Caller, Place, may
from plimsoll_platform.api import held, problem_responses
from plimsoll_platform.roles import EVERYWHERE, Role
from pydantic import AliasPath, Field

from plimsoll_allocation.domain import Actor, Case
from plimsoll_allocation.handlers import Cases, Workforce
from plimsoll_allocation.queries import PractitionerReading, Queries
from plimsoll_allocation.schemes import SchemeChanges, SchemesInForce

# What the app holds (`main` attaches them).

WorkforceDep = Annotated[Workforce, Depends(held(Workforce))]
CasesDep = Annotated[Cases, Depends(held(Cases))]
QueriesDep = Annotated[Queries, Depends(held(Queries))]
SchemesDep = Annotated[SchemesInForce, Depends(held(SchemesInForce))]
SchemeChangesDep = Annotated[SchemeChanges, Depends(held(SchemeChanges))]

# Who may call what.

_CHANGERS: Final = (Role.MANAGER, Role.HEAD_OF_SERVICE, Role.ADMIN)

Reader = Annotated[Caller, Depends(may(*SCOPED, own_record=True))]
"""A practitioner's record, caseload and capacity, and a case: whoever reaches it, and the
practitioner themself (the cases they carry)."""
CaseChanger = Annotated[Caller, Depends(may(*SCOPED))]
"""Open, re-tier, re-stage and close cases, and preview an allocation: a manager of the
team, the head of service of its region, admins, services (a case-management system)."""
Changer = Annotated[Caller, Depends(may(*_CHANGERS))]
"""Register, transfer and change practitioners: a manager of their team, the head of
service of their region, admins."""
Allocator = Annotated[Caller, Depends(may(Role.MANAGER, Role.HEAD_OF_SERVICE))]
"""Allocate and reallocate cases: a manager in their team, a head of service in their region."""
TeamReader = Annotated[Caller, Depends(may(*SCOPED, aggregates=True))]
"""A team's capacity: with names within scope, as figures only to ops."""
RegionReader = Annotated[Caller, Depends(may(Role.HEAD_OF_SERVICE, *EVERYWHERE, aggregates=True))]
"""A region's capacity: its head of service, admins and services; ops as figures only."""
OverrideReader = Annotated[Caller, Depends(may(*_CHANGERS))]
"""The recorded overrides: admins all, a head of service their region's, a manager their
team's."""
SchemeChanger = Annotated[Caller, Depends(may(Role.ADMIN))]
"""A weighting scheme holds in every region, beyond any head of service's area."""
Reconciler = Annotated[Caller, Depends(may(*EVERYWHERE))]
Uploader = Annotated[Caller, Depends(may(Role.ADMIN, Role.HEAD_OF_SERVICE))]
"""Onboarding spans teams: admins and heads of service (each row within their scope)."""

# Ids in paths: a malformed one is a 422 naming it, never a 500.

PractitionerId = Annotated[Identifier, Path(description="The practitioner, e.g. P-0001")]
CaseId = Annotated[Identifier, Path(description="The case: for probation, the CRN")]
TeamId = Annotated[Identifier, Path(description="The team, e.g. T-NORTH-1")]
RegionId = Annotated[Identifier, Path(description="The region (Cafcass: area), e.g. R-NORTH")]

# The problems each resource may answer, in allocation's words.

_NOBODY: Final = "No such practitioner (to admins and services; to anyone else, 403)"
_NO_CASE: Final = "No such case (to admins and services; to anyone else, 403)"
PRACTITIONER_READ: Final = problem_responses({404: _NOBODY})
PRACTITIONER_COMMAND: Final = problem_responses(
    {404: f"{_NOBODY}, or no such reduction", 409: "They have left, or it is recorded already"},
    command=True,
)
CASE_READ: Final = problem_responses({404: _NO_CASE})
IMPACT_READ: Final = problem_responses({404: f"{_NOBODY}; or {_NO_CASE[0].lower()}{_NO_CASE[1:]}"})
CASE_COMMAND: Final = problem_responses(
    {404: _NO_CASE, 409: "The case is closed, allocated already, or recorded already"},
    command=True,
)
ALLOCATION: Final = problem_responses(
    {
        403: "Outside the caller's team or region (an unknown case or practitioner too), "
        "or above the hard ceiling without a head of service",
        409: "The case is allocated already (or not yet), or the practitioner cannot "
        "take work (left, on a full reduction)",
        422: "A value is not valid, or a written reason is needed above the threshold",
    },
    command=True,
)
READ: Final = problem_responses()
SCHEMES: Final = problem_responses({404: "No such kind of weighting scheme"})
SCHEME_CHANGE: Final = problem_responses(
    {
        404: "No such kind of weighting scheme",
        409: "Not the next version after the one in force (nor that version again with the "
        "same content), or a case kept changing while being re-weighed: send it again",
    },
    command=True,
)


def place_of(reading: PractitionerReading | None) -> Place | None:
    """Where a practitioner works today; None for nobody registered."""
    if reading is None:
        return None
    return Place(reading.practitioner.team_id, reading.practitioner.region_id)


def practitioner_reached(
    queries: Queries, caller: Caller, practitioner_id: str
) -> PractitionerReading:
    """The practitioner today, once the caller is found to reach them (404 or 403 if not)."""
    reading = queries.practitioner(practitioner_id)
    caller.check_practitioner(practitioner_id, place_of(reading), field="practitioner_id")
    assert reading is not None  # checked: nobody registered is a 404 or a 403
    return reading


def team_place(queries: Queries, team_id: str, region_id: str) -> Place:
    """Where a command places someone: the team, in the region it is known to be in (the
    one the command names for a team nobody is placed in yet). A caller outside that region
    is refused naming only their own scope, never the team's real region."""
    return Place(team_id, queries.team_region(team_id) or region_id)


def case_place(queries: Queries, case: Case | None) -> Place | None:
    """Where a case is held: its team, and that team's region; None for no such case."""
    return None if case is None else Place(case.team_id, queries.team_region(case.team_id))


def actor_of(caller: Caller) -> Actor:
    """The caller as the allocation rules see them: name, roles, team and region."""
    principal = caller.principal
    return Actor(caller.actor_id, principal.roles, principal.team, principal.region)


def read_from(*path: str, description: str | None = None) -> Any:
    """A view's field read from a nested attribute of what the view is validated from:
    `read_from("practitioner", "name")` is the reading's `practitioner.name`."""
    return Field(validation_alias=AliasPath(*path), description=description)
