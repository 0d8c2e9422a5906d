"""A team's wellbeing view: supervision, agreements, declarations and reviews per practitioner."""

from datetime import date
from typing import Literal

from fastapi import APIRouter, Response
from plimsoll_events.types.fields import Identifier
from plimsoll_platform.access import Place
from plimsoll_platform.api import problem_responses
from pydantic import BaseModel

from plimsoll_wellbeing.api.agreements import AgreementView
from plimsoll_wellbeing.api.deps import PlacementsDep, PolicyDep, QueriesDep, TeamViewer, TimeDep

router = APIRouter(tags=["teams"])


class DeclarationSummary(BaseModel):
    declaration_id: str
    declared_on: date
    answer_due_by: date
    status: Literal["awaiting-answer", "answered", "escalated", "closed"]


class PractitionerWellbeing(BaseModel):
    practitioner_id: str
    name: str
    grade: str
    last_supervision_on: date | None
    supervision_due_by: date
    """The policy's interval after the last supervision (or their start)."""
    supervision_overdue: bool
    next_supervision_on: date | None
    supervisions_last_12_months: int
    agreements_in_force: list[AgreementView]
    open_declarations: list[DeclarationSummary]
    next_review_on: date | None
    """The earliest stress risk assessment review due (not yet reviewed)."""


class TeamFigures(BaseModel):
    practitioners: int
    supervision_overdue: int
    agreements_in_force: int
    open_declarations: int
    escalated_declarations: int
    reviews_due: int
    """Reviews due today or earlier."""


class TeamWellbeing(BaseModel):
    team_id: str
    as_of: date
    policy_version: int
    figures: TeamFigures
    practitioners: list[PractitionerWellbeing] | None
    """One row per practitioner in post; null for ops (figures only)."""


@router.get(
    "/teams/{team_id}/wellbeing",
    response_model=TeamWellbeing,
    responses=problem_responses(),
    summary="A team's supervisions, agreements in force, open declarations and reviews due, "
    "per practitioner in post (ops: the figures only)",
)
def team_wellbeing(
    team_id: Identifier,
    caller: TeamViewer,
    placements: PlacementsDep,
    queries: QueriesDep,
    policy: PolicyDep,
    time: TimeDep,
) -> Response:
    today = time.today()
    members = placements.team_members(team_id, today)
    region = members[0].region_id if members else placements.team_region(team_id)
    named = caller.named_figures(Place(team_id, region))
    in_force, summaries = queries.team(members, today, policy, time.now())
    rows = [PractitionerWellbeing.model_validate(r) for r in summaries]
    figures = TeamFigures(
        practitioners=len(rows),
        supervision_overdue=sum(r.supervision_overdue for r in rows),
        agreements_in_force=sum(len(r.agreements_in_force) for r in rows),
        open_declarations=sum(len(r.open_declarations) for r in rows),
        escalated_declarations=sum(
            d.status == "escalated" for r in rows for d in r.open_declarations
        ),
        reviews_due=sum(r.next_review_on is not None and r.next_review_on <= today for r in rows),
    )
    view = TeamWellbeing(
        team_id=team_id,
        as_of=today,
        policy_version=in_force.policy_version,
        figures=figures,
        practitioners=rows if named else None,
    )
    # Built and validated above: serialised once, not validated again by FastAPI (the hot
    # path of a manager's dashboard; the OpenAPI document still shows the model).
    return Response(view.model_dump_json(), media_type="application/json")
