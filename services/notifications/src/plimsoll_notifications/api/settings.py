"""A person's preferences, the rules in force, and the sweeps on demand."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from plimsoll_events.refusals import NotPermitted
from plimsoll_events.types.fields import Identifier, Instant, LocalTime
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from plimsoll_platform.roles import Role
from pydantic import BaseModel

from plimsoll_notifications.api.deps import (
    DispatcherDep,
    HandlersDep,
    Partners,
    QueriesDep,
    RulesDep,
    SignedIn,
    SweepsDep,
    TimeDep,
)
from plimsoll_notifications.domain.settings import SetPreferences

router = APIRouter(tags=["preferences and rules"])


class Preferences(StrictBody):
    email: bool = True
    """E-mail me what is not urgent (urgent notifications always come on every channel)."""
    quiet_hours_start: LocalTime | None = None
    """Quiet from (UK wall clock): what is not urgent waits until `quiet_hours_end`."""
    quiet_hours_end: LocalTime | None = None


@router.get("/preferences", responses=problem_responses(), summary="My preferences")
def read_preferences(caller: SignedIn, queries: QueriesDep) -> Preferences:
    row = queries.preferences(caller.actor_id)
    if row is None:
        return Preferences()
    return Preferences.model_validate({k: v for k, v in row.items() if k != "username"})


@router.put("/preferences", responses=problem_responses(command=True), summary="Set mine")
def set_preferences(
    body: Preferences,
    caller: SignedIn,
    handlers: HandlersDep,
    queries: QueriesDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> Preferences:
    command = SetPreferences(
        caller.actor_id, body.email, body.quiet_hours_start, body.quiet_hours_end
    )
    handlers.set_preferences(command, metadata, key)
    return read_preferences(caller, queries)


@router.get("/rules", responses=problem_responses(), summary="The notification rules in force")
def rules(caller: SignedIn, rules: RulesDep) -> dict[str, Any]:
    return rules.rules.model_dump(mode="json", by_alias=True)


class Swept(BaseModel):
    as_of: datetime
    reminded: list[str]
    escalated: list[str]
    digests: list[str]


@router.post(
    "/sweeps/run",
    responses=problem_responses(command=True),
    summary="Run the reminder and digest sweeps now (as_of: admins only)",
)
def run_sweeps(
    caller: Partners,
    sweeps: SweepsDep,
    dispatcher: DispatcherDep,
    time: TimeDep,
    as_of: Annotated[Instant | None, Query(description="Run as of this instant")] = None,
    digest: Annotated[bool, Query(description="Send the ops digests too")] = False,
    notification_id: Annotated[
        list[Identifier] | None,
        Query(description="Only these notifications (repeatable): an operator's, or a test's"),
    ] = None,
) -> Swept:
    if as_of is not None and Role.ADMIN not in caller.principal.roles:
        raise NotPermitted("only an admin runs the sweeps as of another instant", field="as_of")
    now = as_of or time.now()
    report = sweeps.remind(now, notification_id or ())
    digests = sweeps.digest(now) if digest else []
    dispatcher.wake()
    return Swept(as_of=now, digests=digests, **report)
