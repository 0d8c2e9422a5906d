"""A practitioner's timesheet as CSV: import `date,minutes,category[,start,end,note]`, export it.

Import (`POST`, a `text/csv` body; see `sheets` for the format): each row is its own
`LogHours` through the same rules as `POST /hours`; 200 with a report of rows accepted,
already imported and rejected (line, column, reason), even when rows are rejected; 422
only for a wrong header, naming the columns. Re-importing a sheet records nothing (see
`imports`). Who may: as for logging time; a manager, admin or service imports for
someone else with `on_behalf_reason`, which every row then carries.

Export (`GET`): the entries that count from `from` to `to` (default: the last 365 days),
in the order logged, as a CSV a spreadsheet opens as text (formula injection guarded).
"""

from datetime import timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Query
from fastapi.responses import Response
from plimsoll_events.types.fields import Day, Line
from plimsoll_platform.api import problem_responses
from plimsoll_platform.csv_upload import (
    CsvText,
    HeaderError,
    RejectedRow,
    csv_body,
    header_problem,
)
from plimsoll_platform.event_sourcing import CommandMetadata
from plimsoll_platform.problems import InvalidParam, Problem
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_timesheet.api.deps import (
    READ,
    IdempotencyKeyRequired,
    ImportsDep,
    PlacementsDep,
    PractitionerId,
    QueriesDep,
    Reader,
    Writer,
    practitioner_reached,
)
from plimsoll_timesheet.sheets import COLUMNS, REQUIRED, read_sheet, write_sheet

router = APIRouter(prefix="/practitioners/{practitioner_id}/timesheet", tags=["timesheet CSV"])

MAX_SPAN_DAYS: Final = 366 * 2
_EXAMPLE: Final = (
    "date,minutes,category,start,end,note\n"
    "2025-03-03,150,court,09:30,12:00,Sentencing hearing\n"
    "2025-03-03,240,casework,,,\n"
)


class ImportReportView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    accepted: int = Field(description="Rows recorded by this import")
    already_imported: int = Field(description="Rows already on their day: nothing written")
    rejected: list[RejectedRow] = Field(description="Rows not recorded, in line order")


_IMPORT_RESPONSES: Final = problem_responses(
    {
        403: "Outside the caller's team or region, or the caller's role does not log time",
        404: "No such practitioner in placements yet (to admins and services)",
        415: "The body is not text/csv",
        422: "The header is wrong (invalid-params names the columns), or not UTF-8",
    },
    command=True,
)


@router.post(
    "",
    summary="Import a timesheet from CSV (idempotent; a report of rejected rows)",
    responses=_IMPORT_RESPONSES,
    openapi_extra=csv_body(COLUMNS, frozenset(COLUMNS) - REQUIRED, _EXAMPLE),
)
def import_sheet(
    practitioner_id: PractitionerId,
    body: CsvText,
    caller: Writer,
    metadata: CommandMetadata,
    imports: ImportsDep,
    placements: PlacementsDep,
    idempotency: IdempotencyKeyRequired,
    on_behalf_reason: Annotated[
        Line | None, Query(description="Required when importing for someone else")
    ] = None,
) -> ImportReportView:
    try:
        rows, unreadable = read_sheet(body)
    except HeaderError as error:
        raise header_problem(error) from error
    practitioner = practitioner_reached(placements, caller, practitioner_id)
    report = imports.import_sheet(
        rows, unreadable, practitioner, on_behalf_reason, metadata, idempotency
    )
    return ImportReportView.model_validate(report)


@router.get(
    "",
    summary="Export a timesheet as CSV",
    responses={**READ, 200: {"content": {"text/csv": {"example": _EXAMPLE}}}},
    response_class=Response,
)
def export_sheet(
    practitioner_id: PractitionerId,
    caller: Reader,
    queries: QueriesDep,
    placements: PlacementsDep,
    first: Annotated[Day | None, Query(alias="from", description="Default: 365 days ago")] = None,
    last: Annotated[Day | None, Query(alias="to", description="Default: today")] = None,
) -> Response:
    practitioner_reached(placements, caller, practitioner_id)
    last = last or placements.clock.today()
    first = first or last - timedelta(days=365)
    if not timedelta(0) <= last - first <= timedelta(days=MAX_SPAN_DAYS):
        raise Problem(
            422,
            "The request is not valid",
            f"from must be on or before to, at most {MAX_SPAN_DAYS} days before it",
            kind="invalid-request",
            invalid_params=[InvalidParam(name="from", reason="not within range of to")],
        )
    sheet = write_sheet(queries.sheet(practitioner_id, first, last))
    name = f"timesheet-{practitioner_id}-{first}-{last}.csv"
    return Response(
        sheet,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
