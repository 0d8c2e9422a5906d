"""A practitioner's leave and absence: record it, cancel it before it starts, list it.

Who may (see `deps`): record and cancel, the practitioner themself, a manager of their
team, admins and services; list, anyone who reads their record. Every write requires an
`Idempotency-Key` (a retried recording without a `leave_id` gets the id chosen the first
time). Whole days, or `minutes_per_day` of each working day; see `domain.leave` for the
rules and `plimsoll_platform.working_time` for what leave counts for.
"""

from datetime import date
from typing import Annotated
from uuid import uuid4

from fastapi import APIRouter, Path, status
from plimsoll_events.types.fields import Day, Identifier, Text
from plimsoll_events.types.timesheet import LeaveKind
from plimsoll_platform.api import StrictBody
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_timesheet.api.deps import (
    LEAVE_COMMAND,
    READ,
    IdempotencyKeyRequired,
    PlacementsDep,
    PractitionerId,
    Reader,
    TimesheetsDep,
    Writer,
    practitioner_reached,
)
from plimsoll_timesheet.domain import CancelLeave, LeaveBook, RecordLeave
from plimsoll_timesheet.handlers import Outcome

router = APIRouter(prefix="/practitioners/{practitioner_id}/leave", tags=["leave"])

LeaveId = Annotated[Identifier, Path(description="The leave, as recorded")]


class LeaveRequest(StrictBody):
    leave_id: Identifier | None = Field(default=None, description="Chosen if absent")
    kind: LeaveKind
    first_day: Day
    last_day: Day = Field(description="Inclusive; at most 366 days after first_day")
    minutes_per_day: int | None = Field(
        default=None, description="Minutes of each working day (a part day); absent: whole days"
    )
    note: Text | None = None


class Cancellation(StrictBody):
    reason: Text


class LeaveView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    leave_id: str
    kind: str
    first_day: date
    last_day: date
    minutes_per_day: int | None
    note: str | None
    cancelled: bool


def _view(done: Outcome[LeaveBook], leave_id: str) -> LeaveView:
    return LeaveView.model_validate(done.state.leaves[leave_id])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Record leave or absence, planned or taken",
    responses=LEAVE_COMMAND,
)
def record_leave(
    practitioner_id: PractitionerId,
    body: LeaveRequest,
    caller: Writer,
    metadata: CommandMetadata,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
    idempotency: IdempotencyKeyRequired,
) -> LeaveView:
    practitioner_reached(placements, caller, practitioner_id)
    fields = body.model_dump()
    fields["leave_id"] = body.leave_id or f"L-{uuid4().hex[:12]}"
    done = timesheets.record_leave(
        RecordLeave(practitioner_id=practitioner_id, **fields), metadata, idempotency
    )
    # A retry answers with the leave recorded the first time, whatever id it was given.
    return _view(done, done.recorded[0].data["leave_id"])


@router.post(
    "/{leave_id}/cancellation",
    summary="Cancel leave before it starts, saying why",
    responses=LEAVE_COMMAND,
)
def cancel_leave(
    practitioner_id: PractitionerId,
    leave_id: LeaveId,
    body: Cancellation,
    caller: Writer,
    metadata: CommandMetadata,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
    idempotency: IdempotencyKeyRequired,
) -> LeaveView:
    practitioner_reached(placements, caller, practitioner_id)
    command = CancelLeave(practitioner_id, leave_id, body.reason)
    return _view(timesheets.cancel_leave(command, metadata, idempotency), leave_id)


@router.get("", summary="Their leave, cancelled included, by first day", responses=READ)
def list_leave(
    practitioner_id: PractitionerId,
    caller: Reader,
    timesheets: TimesheetsDep,
    placements: PlacementsDep,
) -> list[LeaveView]:
    practitioner_reached(placements, caller, practitioner_id)
    book = timesheets.read_leave(practitioner_id)
    ordered = sorted(book.leaves.values(), key=lambda leave: leave.first_day)
    return [LeaveView.model_validate(leave) for leave in ordered]
