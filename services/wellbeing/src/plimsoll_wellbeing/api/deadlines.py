"""The deadline sweeps on demand: for tests, the demo, and an operator who will not wait."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from plimsoll_events.types.fields import Instant
from plimsoll_platform.api import problem_responses
from plimsoll_platform.roles import Role
from pydantic import BaseModel

from plimsoll_wellbeing.api.deps import DeadlinesDep, SweepRunner, TimeDep
from plimsoll_wellbeing.domain.errors import NotPermitted

router = APIRouter(tags=["deadlines"])

AS_OF = (
    "Run as of this instant instead of now (admins only: for tests and the demo on a local "
    "stack; what it records is dated that day)."
)


class Swept(BaseModel):
    as_of: datetime
    escalated: list[str]
    """Declarations escalated for a missed deadline."""
    resumed: list[str]
    """Agreements ended (their `until` passed, or their case left the practitioner)."""


@router.post(
    "/deadlines/run",
    responses=problem_responses(command=True),
    summary="Run the deadline sweeps now (escalate overdue declarations, end agreements due)",
)
def run_deadlines(
    caller: SweepRunner,
    deadlines: DeadlinesDep,
    time: TimeDep,
    as_of: Annotated[Instant | None, Query(description=AS_OF)] = None,
) -> Swept:
    if as_of is not None and Role.ADMIN not in caller.principal.roles:
        raise NotPermitted("only an admin runs the sweeps as of another instant", field="as_of")
    now = as_of or time.now()
    report = deadlines.run(now)
    return Swept(as_of=now, escalated=report.escalated, resumed=report.resumed)
