"""Onboarding: an existing workforce and caseload from CSV.

`POST /onboarding/practitioners`, then `POST /onboarding/cases`, each a
`text/csv` body (UTF-8, header row first; `?file_name=` names the file in the
audit trail; at most `MAX_CSV_BYTES`, which `main` lets through the gate).
Admins and heads of service upload (see `deps`), each row within their scope;
managers do not (a bulk load spans teams). Recording a case's current holder
is an allocation, so only a head of service may upload cases with holders: an
admin's such rows are refused as the allocation routes would refuse them.

Each row is its own atomic command (see `plimsoll_allocation.onboarding`): the
answer is 200 with a report of rows accepted, already imported and rejected
(line, column, reason), even when rows are rejected; 422 only when the header
is wrong, naming the missing, unknown or repeated columns.
"""

from typing import Annotated, Final

from fastapi import APIRouter, Query
from plimsoll_events.types.fields import LINE_PATTERN
from plimsoll_platform.api import problem_responses
from plimsoll_platform.csv_upload import CsvText, HeaderError, RejectedRow, csv_body, header_problem
from plimsoll_platform.event_sourcing import CommandMetadata
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_allocation import onboarding
from plimsoll_allocation.api.deps import CasesDep, QueriesDep, Uploader, WorkforceDep, actor_of

router = APIRouter(prefix="/onboarding", tags=["onboarding"])

MAX_CSV_BYTES: Final = 20 * 1024 * 1024

FileName = Annotated[
    str,
    Query(
        min_length=1,
        max_length=200,
        pattern=LINE_PATTERN,
        description="The uploaded file's name, quoted in override reasons and the audit trail",
    ),
]


class OnboardingReport(BaseModel):
    """What an upload did (`onboarding.Report`), and the correlation id of its events."""

    model_config = ConfigDict(from_attributes=True)

    accepted: int = Field(description="Rows recorded by this upload")
    already_imported: int = Field(description="Rows an earlier upload recorded: nothing written")
    rejected: list[RejectedRow] = Field(description="Rows not recorded, in line order")
    overrides_recorded: list[int] = Field(
        default_factory=list,
        description="Lines whose existing allocation took the holder above the override "
        "threshold: recorded as allocation-override-recorded",
    )
    correlation_id: str = Field(description="Correlation id of every event this upload recorded")


_PRACTITIONERS_EXAMPLE = (
    "practitioner_id,name,grade,team_id,region_id,contracted_hours,start_date,line_manager_id\n"
    "P-0001,Pat Practitioner,PO,T-NORTH-1,R-NORTH,37,2024-09-02,P-0100\n"
)
_CASES_EXAMPLE = (
    "case_id,team_id,case_type,tier,t2a,stage,practitioner_id,opened_on\n"
    "X123456,T-NORTH-1,community,C1,false,,P-0001,2024-10-01\n"
)
_REPORT_RESPONSES: Final = {
    **problem_responses(
        {
            415: "The body is not text/csv",
            422: "The header is wrong: invalid-params names the columns",
        },
        command=True,
    ),
    200: {"description": "The report, also when some rows were rejected"},
}


def _parse(
    text: str, columns: tuple[str, ...], optional: frozenset[str], id_column: str
) -> onboarding.Parsed:
    try:
        return onboarding.read_csv(text, columns, optional, id_column)
    except HeaderError as error:
        raise header_problem(error) from error


def _answer(report: onboarding.Report, metadata: CommandMetadata) -> OnboardingReport:
    correlation_id = str(metadata.correlation_id)
    return OnboardingReport.model_validate({**vars(report), "correlation_id": correlation_id})


@router.post(
    "/practitioners",
    summary="Onboard practitioners from CSV (idempotent; a report of rejected rows)",
    responses=_REPORT_RESPONSES,
    openapi_extra=csv_body(
        onboarding.PRACTITIONER_COLUMNS, onboarding.PRACTITIONER_OPTIONAL, _PRACTITIONERS_EXAMPLE
    ),
)
def onboard_practitioners(
    text: CsvText, caller: Uploader, metadata: CommandMetadata, workforce: WorkforceDep
) -> OnboardingReport:
    parsed = _parse(
        text, onboarding.PRACTITIONER_COLUMNS, onboarding.PRACTITIONER_OPTIONAL, "practitioner_id"
    )
    report = onboarding.import_practitioners(workforce, parsed, caller.check_place, metadata)
    return _answer(report, metadata)


@router.post(
    "/cases",
    summary="Onboard cases, and who holds them, from CSV (idempotent; a report of rejected rows)",
    responses=_REPORT_RESPONSES,
    openapi_extra=csv_body(onboarding.CASE_COLUMNS, onboarding.CASE_OPTIONAL, _CASES_EXAMPLE),
)
def onboard_cases(
    text: CsvText,
    caller: Uploader,
    metadata: CommandMetadata,
    cases: CasesDep,
    queries: QueriesDep,
    file_name: FileName = "upload.csv",
) -> OnboardingReport:
    parsed = _parse(text, onboarding.CASE_COLUMNS, onboarding.CASE_OPTIONAL, "case_id")
    report = onboarding.import_cases(
        cases, queries, parsed, actor_of(caller), caller.check_place, file_name, metadata
    )
    return _answer(report, metadata)
