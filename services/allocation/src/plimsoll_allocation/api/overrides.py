"""Overrides: the allocations recorded above the override threshold, and who decided why.

Who may (see `deps`): admins read every team's and region's; a head of
service their region's; a manager their team's. A filter naming a team or
region outside the caller's scope is refused (403, naming it); without one,
the list holds what is within their scope. Each override is the event
`allocation-override-recorded` as recorded, with its id and time.
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from plimsoll_events.types.fields import Day, Identifier
from plimsoll_platform.access import Place
from pydantic import BaseModel, ConfigDict

from plimsoll_allocation.api.deps import READ, OverrideReader, QueriesDep
from plimsoll_allocation.queries import RecordedOverride

router = APIRouter(tags=["oversight"])


class OverrideView(RecordedOverride):
    """An `allocation-override-recorded`: its fields, its event id and when it was recorded."""

    model_config = ConfigDict(from_attributes=True)


class OverridesView(BaseModel):
    since: date | None
    team_id: str | None
    region_id: str | None
    overrides: list[OverrideView]


@router.get(
    "/overrides",
    summary="Allocations above the override threshold: who decided, why, and the capacity",
    responses=READ,
)
def read_overrides(
    caller: OverrideReader,
    queries: QueriesDep,
    since: Annotated[Day | None, Query(description="Recorded on or after this day")] = None,
    team_id: Annotated[Identifier | None, Query(description="Only this team's")] = None,
    region_id: Annotated[
        Identifier | None, Query(description="Only those given to practitioners of this region")
    ] = None,
) -> OverridesView:
    if region_id is not None:
        caller.check_region(region_id, field="region_id")
    if team_id is not None:
        caller.check_place(Place(team_id, queries.team_region(team_id)), field="team_id")
    found = queries.overrides(since=since, team_id=team_id, region_id=region_id)
    within = [
        OverrideView.model_validate(override, from_attributes=True)
        for override, region in found
        if caller.reaches(Place(override.team_id, region))
    ]
    return OverridesView(since=since, team_id=team_id, region_id=region_id, overrides=within)
