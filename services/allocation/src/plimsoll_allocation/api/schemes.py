"""Weighting schemes: read the ones in force, bring a new version into force.

Who may (see `deps`): read, anyone signed in (every capacity figure is
computed from them); change, admins only, as a scheme holds in every region.
The body of `PUT /weighting-schemes/{kind}` is the whole scheme as
`weighting-scheme-changed` carries it, with `version` the one in force plus one
(else 409). Every open case weighed under that kind is then re-weighed, one
`case-weighting-changed` per case whose points change, by a process manager
driven by the change (`plimsoll_allocation.schemes`); the route waits for it
and says what it did. The version in force sent again with the same content is
a retry: nothing is recorded, any re-weighing a crash left is finished, and the
answer is the same (200, `recorded` false). Numbers are bounded (points at most
2,147,483,647; hours 0 to 37.5): one beyond is a 422 naming its field.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from plimsoll_events.types.allocation import WeightingScheme
from plimsoll_events.types.fields import Identifier, Line
from plimsoll_platform.auth import CurrentPrincipal
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_allocation.api.deps import (
    SCHEME_CHANGE,
    SCHEMES,
    SchemeChanger,
    SchemeChangesDep,
    SchemesDep,
)
from plimsoll_allocation.domain import ChangeWeightingScheme, InvalidValue
from plimsoll_allocation.schemes import SchemesInForce

router = APIRouter(prefix="/weighting-schemes", tags=["oversight"])

Kind = Annotated[Identifier, Path(description="probation or cafcass")]


class SchemeView(BaseModel):
    kind: str
    stream_version: int = Field(description="Changes recorded so far; 0: the default in force")
    scheme: WeightingScheme


class SchemeChangeView(BaseModel):
    """A scheme version recorded, and what re-weighing did (`schemes.SchemeChanged`)."""

    model_config = ConfigDict(from_attributes=True)

    kind: str
    scheme: WeightingScheme
    cases_examined: int = Field(description="Open cases the new version may weigh otherwise")
    cases_reweighed: int = Field(description="Cases whose points changed (case-weighting-changed)")
    cases_refused: list[str] = Field(
        description="Cases the new version cannot weigh (e.g. a stage it dropped): unchanged"
    )
    recorded: bool = Field(
        description="True: this request recorded the version; false: it was in force already "
        "(a retry), and the counts are those of the re-weighing it brought"
    )


def _view(schemes: SchemesInForce, kind: str) -> SchemeView:
    scheme, stream_version = schemes.in_force(kind)
    return SchemeView(kind=kind, stream_version=stream_version, scheme=scheme)


@router.get("", summary="The weighting schemes in force", responses=SCHEMES)
def read_schemes(_: CurrentPrincipal, schemes: SchemesDep) -> list[SchemeView]:
    return [_view(schemes, scheme.kind) for scheme in schemes.current()]


@router.get(
    "/{kind}",
    summary="The weighting scheme of a kind in force (probation, cafcass)",
    responses=SCHEMES,
)
def read_scheme(kind: Kind, _: CurrentPrincipal, schemes: SchemesDep) -> SchemeView:
    return _view(schemes, kind)


@router.put(
    "/{kind}",
    summary="Bring a new version into force and re-weigh the open cases under it",
    responses=SCHEME_CHANGE,
)
def change_scheme(
    kind: Kind,
    body: WeightingScheme,
    caller: SchemeChanger,
    metadata: CommandMetadata,
    changes: SchemeChangesDep,
    reason: Annotated[Line | None, Query(description="Why, for the record")] = None,
) -> SchemeChangeView:
    if body.kind != kind:
        raise InvalidValue(f"this is the {kind} scheme, not {body.kind}", field="kind")
    command = ChangeWeightingScheme(scheme=body, changed_by=caller.actor_id, reason=reason)
    return SchemeChangeView.model_validate(changes.change_scheme(command, metadata))
