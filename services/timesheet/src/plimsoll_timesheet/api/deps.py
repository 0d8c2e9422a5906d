"""What the timesheet routes share: what the app holds, who may call what, the ids in paths,
the required idempotency key, and the problems each resource may answer, in its words.

Who may call a route is declared at the route with one of the rules below
(`plimsoll_platform.access.may`); a role the rule does not name is refused
before anything is read. The route then finds the practitioner in placements
(`practitioner_reached`) and has the `Caller` check where they are: a manager
reaches their team, a head of service their region, admins and services
everyone, a practitioner themself. Anyone but admins and services gets the same
403 for a practitioner outside their scope as for one placements has not seen.
"""

from typing import Annotated, Final

from fastapi import Depends, Path
from plimsoll_events.types.fields import Day, Identifier
from plimsoll_platform.access import SCOPED, Caller, Place, may
from plimsoll_platform.api import RequiredIdempotencyKey, held, problem_responses
from plimsoll_platform.placements import Placements
from plimsoll_platform.roles import Role

from plimsoll_timesheet.handlers import Practitioner, Timesheets
from plimsoll_timesheet.imports import SheetImports
from plimsoll_timesheet.queries import Queries

# What the app holds (`main` attaches them).

TimesheetsDep = Annotated[Timesheets, Depends(held(Timesheets))]
PlacementsDep = Annotated[Placements, Depends(held(Placements))]
QueriesDep = Annotated[Queries, Depends(held(Queries))]
ImportsDep = Annotated[SheetImports, Depends(held(SheetImports))]

# Who may call what.

Reader = Annotated[Caller, Depends(may(*SCOPED, own_record=True))]
"""A practitioner's days, weeks, figures, leave and sheet: the practitioner themself, a
manager of their team, the head of service of their region, admins, services."""
Writer = Annotated[Caller, Depends(may(Role.MANAGER, Role.ADMIN, Role.SERVICE, own_record=True))]
"""Log, correct and withdraw time, record and cancel leave, import a sheet: the practitioner
themself; a manager of their team, admins and services on their behalf (time logged for
someone else needs a reason). Heads of service read only."""
OwnDecision = Annotated[Caller, Depends(may(*SCOPED, own_record=True))]
"""Overtime and the 48-hour opt-out are the practitioner's own decisions: anyone else who
reaches them is refused by the domain, naming `practitioner_id` (403 practitioner-only)."""
TeamReader = Annotated[Caller, Depends(may(*SCOPED, aggregates=True))]
"""A team's figures: with names within scope, as aggregates only to ops."""

# Ids in paths: a malformed one is a 422 naming it, never a 500.

PractitionerId = Annotated[Identifier, Path(description="The practitioner, e.g. P-0001")]
TeamId = Annotated[Identifier, Path(description="The team, e.g. T-NORTH-1")]
DayInPath = Annotated[Day, Path(description="The day, YYYY-MM-DD (UK calendar)")]


IdempotencyKeyRequired = RequiredIdempotencyKey

# The problems each resource may answer, in the timesheet's words.

_NOBODY: Final = (
    "No such practitioner in placements yet (to admins and services; to anyone else, 403)"
)
READ: Final = problem_responses({404: _NOBODY})
DAY_COMMAND: Final = problem_responses(
    {
        403: "Outside the caller's team or region (an unknown practitioner too), or overtime "
        "by anyone but the practitioner",
        404: f"{_NOBODY}, or no such entry on that day of that practitioner",
        409: "More than 24 hours in the day, time overlapping another entry, the entry was "
        "withdrawn, or the day changed at the same time",
        422: "A value is not valid (minutes, category, interval, time in the future, an "
        "on-behalf reason missing, a day not in post); invalid-params names it",
    },
    command=True,
)
LEAVE_COMMAND: Final = problem_responses(
    {
        404: f"{_NOBODY}, or no such leave",
        409: "Overlaps other leave, the leave id is taken, or the leave has started or was "
        "cancelled already",
    },
    command=True,
)
OPT_OUT_COMMAND: Final = problem_responses(
    {
        403: "Anyone but the practitioner themself (practitioner-only), or outside scope",
        404: _NOBODY,
        409: "Already opted out, or no opt-out to withdraw",
        422: "effective_from is before today",
    },
    command=True,
)
TEAM_READ: Final = problem_responses({404: "No such team (to admins, services and ops)"})


def practitioner_reached(
    placements: Placements, caller: Caller, practitioner_id: str
) -> Practitioner:
    """The practitioner, once the caller is found to reach them where they are placed today
    (404 to admins and services, else 403, for someone placements does not know)."""
    history = placements.history(practitioner_id)
    place = None
    if history is not None:
        today = history.current(placements.clock.today())
        place = Place(today.team_id, today.region_id)
    caller.check_practitioner(practitioner_id, place, field="practitioner_id")
    return Practitioner(practitioner_id, history, caller.is_practitioner(practitioner_id))
