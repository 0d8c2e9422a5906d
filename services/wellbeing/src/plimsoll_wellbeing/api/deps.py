"""What the wellbeing routes depend on: the app's components, who may call, and the facts a
command carries (gathered once, for the scope check and for the command)."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Final
from uuid import uuid4

from fastapi import Depends
from plimsoll_events.types.wellbeing import Side
from plimsoll_platform.access import SCOPED, Caller, Place, may
from plimsoll_platform.api import held
from plimsoll_platform.clock import Clock
from plimsoll_platform.placements import Placement, Placements
from plimsoll_platform.roles import Role

from plimsoll_wellbeing.deadlines import Deadlines
from plimsoll_wellbeing.domain.errors import NoConsent, NotFound
from plimsoll_wellbeing.domain.facts import PractitionerFacts
from plimsoll_wellbeing.duty_queries import DutyQueries
from plimsoll_wellbeing.handlers import WellbeingHandlers
from plimsoll_wellbeing.queries import PolicyBook, WellbeingQueries
from plimsoll_wellbeing.recorder import BreachRecorder


@dataclass(frozen=True)
class Time:
    """The service's clock (held by the app, so a test can hold another)."""

    clock: Clock

    def today(self) -> date:
        return self.clock.today()

    def now(self) -> datetime:
        return self.clock.now()


HandlersDep = Annotated[WellbeingHandlers, Depends(held(WellbeingHandlers))]
QueriesDep = Annotated[WellbeingQueries, Depends(held(WellbeingQueries))]
PlacementsDep = Annotated[Placements, Depends(held(Placements))]
PolicyDep = Annotated[PolicyBook, Depends(held(PolicyBook))]
DeadlinesDep = Annotated[Deadlines, Depends(held(Deadlines))]
TimeDep = Annotated[Time, Depends(held(Time))]
DutyDep = Annotated[DutyQueries, Depends(held(DutyQueries))]
RecorderDep = Annotated[BreachRecorder, Depends(held(BreachRecorder))]

AS_OF: Final = (
    "Answer as of this past instant: from the events known then, under the policy in force "
    "then (default: now). In the future, or before anything was known: 422."
)

# Who may call (each within their scope: a manager their team, a head of service their region).

TeamStaff = Annotated[Caller, Depends(may(*SCOPED))]
"""Managers, heads of service, admins and services: record supervisions, answer, assess."""
TeamReader = Annotated[Caller, Depends(may(*SCOPED, own_record=True))]
"""The same, and the practitioner themself."""
DeclarationReader = Annotated[Caller, Depends(may(*SCOPED, Role.UNION_REP, own_record=True))]
"""The same, and a union representative the practitioner has consented to."""
Themself = Annotated[Caller, Depends(may(Role.ADMIN, Role.SERVICE, own_record=True))]
"""The practitioner (declaring, accepting, consenting), or an admin or service for them."""
MeetingChair = Annotated[Caller, Depends(may(Role.HEAD_OF_SERVICE, Role.ADMIN, Role.SERVICE))]
"""A head of service (their region), admins and services: three-way meetings."""
TeamViewer = Annotated[Caller, Depends(may(*SCOPED, aggregates=True))]
"""A team's view: its manager, its region's head of service, admins, services; ops figures."""
PolicyMaker = Annotated[Caller, Depends(may(Role.UNION_REP, Role.EMPLOYER_REP))]
"""Union and employer representatives: propose, approve, reject."""
SignedIn = Annotated[Caller, Depends(may(*Role))]
"""Anyone with a token of the realm: the policy is no secret."""
SweepRunner = Annotated[Caller, Depends(may(Role.ADMIN, Role.SERVICE))]
"""Admins and services: run the deadline sweeps now."""
RegionViewer = Annotated[
    Caller, Depends(may(Role.HEAD_OF_SERVICE, Role.ADMIN, Role.SERVICE, aggregates=True))
]
"""A region's view: its head of service, admins, services; ops the figures only."""
BreachViewer = Annotated[Caller, Depends(may(*SCOPED, own_record=True, aggregates=True))]
"""Breaches: staff in their scope, the practitioner their own; ops the figures only."""
Decider = Annotated[Caller, Depends(may(Role.MANAGER, Role.HEAD_OF_SERVICE, Role.ADMIN))]
"""People who may resolve a breach by a recorded decision (in their scope)."""
FullDeclarer = Annotated[Caller, Depends(may(Role.HEAD_OF_SERVICE, Role.ADMIN))]
"""A head of service (their region) or an admin: declare a team full, lift it."""

SIDES: Final[dict[Role, Side]] = {Role.EMPLOYER_REP: "employer", Role.UNION_REP: "union"}


def sides_of(caller: Caller) -> frozenset[Side]:
    """The policy sides the caller's roles let them act for."""
    return frozenset(side for role, side in SIDES.items() if role in caller.principal.roles)


def new_id(prefix: str) -> str:
    """A fresh id for a record the service numbers itself (a retry with the same
    Idempotency-Key gets the first attempt's id back, from its events)."""
    return f"{prefix}-{uuid4().hex[:16]}"


def place_of(placement: Placement | None) -> Place | None:
    return None if placement is None else Place(placement.team_id, placement.region_id)


def facts(placement: Placement, line_manager_id: str | None = None) -> PractitionerFacts:
    """The practitioner as the domain needs them; `line_manager_id` on another day if given."""
    return PractitionerFacts(
        practitioner_id=placement.practitioner_id,
        team_id=placement.team_id,
        region_id=placement.region_id,
        line_manager_id=line_manager_id
        if line_manager_id is not None
        else placement.line_manager_id,
        start_date=placement.start_date,
        leaving_date=placement.leaving_date,
    )


def reach_practitioner(
    caller: Caller, placements: Placements, practitioner_id: str, *, field: str | None = None
) -> Placement:
    """Their placement today, once the caller is known to reach them; refused otherwise.

    Someone wellbeing has not heard of yet (allocation's events travel by Kafka) is answered
    as the kit answers an unknown practitioner; the practitioner themself gets 404.
    """
    placement = placements.of(practitioner_id)
    caller.check_practitioner(practitioner_id, place_of(placement), field=field)
    if placement is None:
        raise NotFound(
            f"{practitioner_id} is not known to wellbeing (yet): allocation registers "
            "practitioners, and wellbeing hears of them from its events",
            field=field,
        )
    return placement


def reach_declarations(
    caller: Caller,
    placements: Placements,
    queries: WellbeingQueries,
    practitioner_id: str,
    *,
    field: str | None = None,
) -> None:
    """Refuse unless the caller reaches the practitioner, or is a union representative the
    practitioner has consented to (`NoConsent` otherwise, the same for someone unknown)."""
    principal = caller.principal
    if Role.UNION_REP in principal.roles and not (
        caller.is_practitioner(practitioner_id) or principal.has_any(*SCOPED)
    ):
        if caller.actor_id not in queries.representatives(practitioner_id):
            raise NoConsent(
                f"{practitioner_id} has not let {caller.actor_id} read their declarations",
                field=field,
            )
        return
    caller.check_practitioner(
        practitioner_id, place_of(placements.of(practitioner_id)), field=field
    )


def declaration_in_reach(
    caller: Caller,
    placements: Placements,
    queries: WellbeingQueries,
    declaration_id: str,
    *,
    union: bool = False,
) -> dict[str, Any]:
    """The declaration's view, once the caller is known to reach its practitioner (`union`:
    union representatives with consent too). Unknown: 404 for admins and services, the
    same refusal as one outside scope for everyone else."""
    view = queries.declaration(declaration_id)
    record = f"declaration {declaration_id}"
    if view is None:
        caller.check_record(record, None, field="declaration_id")
        raise NotFound(f"no {record}", field="declaration_id")  # the practitioner themself
    practitioner_id = str(view["practitioner_id"])
    if union:
        reach_declarations(caller, placements, queries, practitioner_id, field="declaration_id")
    elif not caller.is_practitioner(practitioner_id):
        place = place_of(placements.of(practitioner_id))
        caller.check_record(record, place, field="declaration_id")
    return view
