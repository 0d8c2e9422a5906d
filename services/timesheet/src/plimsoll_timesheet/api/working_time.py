"""A practitioner's opt-out of the 48-hour average week: recorded and withdrawn by them alone.

Who may: the practitioner themself. Anyone else who reaches them (a manager, a head of
service, an admin) is refused by the domain with 403 `practitioner-only` on
`practitioner_id`: the opt-out is their own written decision, never a manager's. It
takes effect from `effective_from`, today or later (UK). Every write requires an
`Idempotency-Key`.
"""

from datetime import date

from fastapi import APIRouter, status
from plimsoll_events.types.fields import Day
from plimsoll_platform.api import StrictBody
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, ConfigDict

from plimsoll_timesheet.api.deps import (
    OPT_OUT_COMMAND,
    IdempotencyKeyRequired,
    OwnDecision,
    PlacementsDep,
    PractitionerId,
    TimesheetsDep,
    practitioner_reached,
)
from plimsoll_timesheet.domain import RecordOptOut, WithdrawOptOut

router = APIRouter(prefix="/practitioners/{practitioner_id}/working-time", tags=["working time"])


class OptOutChange(StrictBody):
    effective_from: Day


class OptOutView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    opted_out: bool
    effective_from: date | None


@router.post(
    "/opt-out",
    status_code=status.HTTP_201_CREATED,
    summary="Opt out of the 48-hour average week (the practitioner themself)",
    responses=OPT_OUT_COMMAND,
)
def record_opt_out(
    practitioner_id: PractitionerId,
    body: OptOutChange,
    caller: OwnDecision,
    metadata: CommandMetadata,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
    idempotency: IdempotencyKeyRequired,
) -> OptOutView:
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    command = RecordOptOut(practitioner_id, body.effective_from)
    done = timesheets.change_opt_out(command, practitioner, metadata, idempotency)
    return OptOutView.model_validate(done.state)


@router.post(
    "/opt-out/withdrawal",
    summary="Withdraw the opt-out: the 48-hour limit applies again (the practitioner themself)",
    responses=OPT_OUT_COMMAND,
)
def withdraw_opt_out(
    practitioner_id: PractitionerId,
    body: OptOutChange,
    caller: OwnDecision,
    metadata: CommandMetadata,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
    idempotency: IdempotencyKeyRequired,
) -> OptOutView:
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    command = WithdrawOptOut(practitioner_id, body.effective_from)
    done = timesheets.change_opt_out(command, practitioner, metadata, idempotency)
    return OptOutView.model_validate(done.state)
