"""``GET /me``: who the service believes the caller is, from their token."""

from fastapi import APIRouter
from pydantic import BaseModel

from plimsoll_platform.api import problem_responses
from plimsoll_platform.auth import CurrentPrincipal

router = APIRouter(tags=["identity"])


class Identity(BaseModel):
    subject: str
    username: str | None
    roles: list[str]
    practitioner_id: str | None
    team: str | None
    region: str | None


@router.get(
    "/me", summary="The caller as their token describes them", responses=problem_responses()
)
def me(principal: CurrentPrincipal) -> Identity:
    return Identity(
        subject=principal.subject,
        username=principal.username,
        roles=sorted(principal.roles),
        practitioner_id=principal.practitioner_id,
        team=principal.team,
        region=principal.region,
    )
