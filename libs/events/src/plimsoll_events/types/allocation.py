"""Events of the allocation service: who carries which case, and at what weight.

Three kinds of stream produce them: a practitioner's (registration, contracted
hours, reductions, leaving), a case's (opened, allocated, reallocated,
re-weighted, closed, and the overrides recorded when an allocation went above
the agreed capacity), and a weighting scheme's (each new version, whole).

Hours and percentages are exact decimals (at most 2 places) in the code and
plain JSON numbers on the wire, so a consumer in any language reads `37.5`, and
the producer never computes with binary floating point.
"""

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Final, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.refusals import EARLIEST_DAY, LARGEST_WHOLE_NUMBER, LATEST_DAY
from plimsoll_events.types.fields import ActorName, Identifier, Name, Text

WmtTier = Annotated[str, StringConstraints(pattern=r"^[A-D][0-3]S?$")]
"""A WMT tier, A3 (highest risk and need) to D0, with S for the unsupervised variant."""

GradeCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,29}$")]
"""A grade as the weighting scheme's grade table names it: PO, PSO, SPO, PQiP, TPO, FCA..."""

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=50)]
"""A kebab-case code: a case type (community, private-law) or a Cafcass stage."""


ProbationCaseType = Literal["community", "custody", "licence"]
"""The WMT case types that are weighted by tier."""

CourtReportType = Literal["standard", "fast"]
"""The WMT court reports: a standard (full) pre-sentence report, or a fast one."""

AllocationReason = Literal[
    "INITIAL_ALLOCATION",
    "ALLOCATED_TO_RESPONSIBLE_OFFICER",
    "CASELOAD_ADJUSTMENT",
    "CHANGE_IN_TIER_OR_RISK",
    "CHANGE_OF_ADDRESS",
    "OFFICER_LEFT",
    "RISK_TO_STAFF",
    "TRANSFER_IN",
    "PROBATION_RESET",
    "LOSS_OF_CONFIDENCE",
    "OTHER",
]
"""Why a case went to a practitioner.

The HMPPS allocation reasons as seeded in the published workload service, plus
LOSS_OF_CONFIDENCE (the working relationship between the person and the
practitioner has broken down), which Plimsoll adds because reallocations for it
are common and otherwise hide under OTHER.
"""

ReallocationReason = Literal[
    "ALLOCATED_TO_RESPONSIBLE_OFFICER",
    "CASELOAD_ADJUSTMENT",
    "CHANGE_IN_TIER_OR_RISK",
    "CHANGE_OF_ADDRESS",
    "OFFICER_LEFT",
    "RISK_TO_STAFF",
    "TRANSFER_IN",
    "PROBATION_RESET",
    "LOSS_OF_CONFIDENCE",
    "OTHER",
]
"""Why a case moved from one practitioner to another: any allocation reason but the first."""

_AS_NUMBER = PlainSerializer(float, return_type=float, when_used="json")

Hours = Annotated[
    Decimal,
    Field(ge=0, le=Decimal("37.5"), decimal_places=2),
    _AS_NUMBER,
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 37.5}),
]
"""Hours a week, 0 to 37.5, at most 2 decimal places."""

Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, decimal_places=2),
    _AS_NUMBER,
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": 100}),
]
"""A share of something, 0 to 100, at most 2 decimal places."""

CapacityPercent = Annotated[
    Decimal,
    Field(ge=0, decimal_places=1),
    _AS_NUMBER,
    WithJsonSchema({"type": "number", "minimum": 0}),
]
"""A capacity as WMT shows it: workload over available points, to 0.1% (e.g. 60.4)."""

Points = Annotated[int, Field(ge=0, le=LARGEST_WHOLE_NUMBER)]
"""Weighted workload points of one case or one grade (for Cafcass schemes, estimated minutes
a week): 0 to 2,147,483,647, so that a 32-bit integer column holds any of them."""

LARGEST_TOTAL: Final = 2**53 - 1
"""The largest sum of points an event carries: every JSON reader holds it exactly (RFC 8785
refuses integers beyond it)."""

TotalPoints = Annotated[int, Field(ge=0, le=LARGEST_TOTAL)]
"""A sum of points (a practitioner's workload, a team's): 0 to 2^53 - 1."""

Day = Annotated[date, Field(ge=EARLIEST_DAY, le=LATEST_DAY)]
"""A calendar day from 1900-01-01 to 2199-12-31 (`plimsoll_events.refusals.day`)."""

SchemeVersion = Annotated[int, Field(ge=1, le=LARGEST_WHOLE_NUMBER)]
"""A weighting scheme's version: 1, 2, ... (at most 2,147,483,647)."""


class _Data(BaseModel):
    """A value inside an event: immutable, and strict about unknown fields like the event."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class GradeAllowance(_Data):
    """What a full-time practitioner of one grade is expected to carry."""

    nominal_target_points: Points = Field(
        description="Points a practitioner of this grade carries at 100% on the grade's "
        "default contracted hours."
    )
    default_contracted_hours: Hours = Field(
        description="The hours the nominal target is for; 0 means the grade is not expected "
        "to hold cases, so its available points are always 0."
    )


class ReductionReason(_Data):
    """A reason workload may be reduced, and how much it normally allows."""

    reason: Name = Field(description="The reason as staff know it, e.g. Trade Union Facility Time.")
    allowance_percent: Percent | None = Field(
        default=None,
        description="The reduction, as a percent of contracted hours, when no hours or "
        "percent are given.",
    )
    max_percent: Percent | None = Field(
        default=None, description="The most this reason may reduce, as a percent."
    )
    months_to_expiry: int | None = Field(
        default=None,
        ge=1,
        le=120,
        description="How long the reduction normally lasts, when no end date is given.",
    )


class ProbationWeightingScheme(_Data):
    """A probation weighting scheme in the manner of HMPPS's Workload Measurement Tool.

    A case's points come from its tier and case type (`tier_points`), or from the
    T2A table for every case type when the person is a transition-to-adulthood
    case. A tier a table does not list scores 0: the default scheme lists only
    the supervised tiers A3..D0, so the unsupervised S tiers score 0 unless a
    version lists them. Untiered cases score 0. Court reports score per report.
    """

    kind: Literal["probation"] = Field(default="probation", description="The scheme's shape.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The scheme's name, e.g. wmt."
    )
    version: SchemeVersion = Field(description="Increases by one with each change.")
    grades: dict[GradeCode, GradeAllowance] = Field(
        min_length=1, description="Every grade this scheme knows, with its allowance."
    )
    tier_points: dict[ProbationCaseType, dict[WmtTier, Points]] = Field(
        description="Points of a case by case type, then tier."
    )
    t2a_tier_points: dict[WmtTier, Points] = Field(
        description="Points by tier of a transition-to-adulthood (T2A) case, any case type."
    )
    court_report_points: dict[CourtReportType, Points] = Field(
        description="Points of a court report, standard or fast."
    )
    reduction_reasons: list[ReductionReason] = Field(
        description="The reasons a reduction may be recorded for; empty means free text."
    )


class CafcassWeightingScheme(_Data):
    """A Cafcass-style scheme: estimated hours a week by case type and stage.

    One point is one estimated minute of work a week, so a practitioner's
    capacity is their estimated weekly case hours over the hours they have for
    casework (the grade's nominal target, scaled by their contracted hours).
    """

    kind: Literal["cafcass"] = Field(default="cafcass", description="The scheme's shape.")
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The scheme's name, e.g. cafcass-hours."
    )
    version: SchemeVersion = Field(description="Increases by one with each change.")
    grades: dict[GradeCode, GradeAllowance] = Field(
        min_length=1, description="Every grade this scheme knows, with its allowance."
    )
    weekly_hours: dict[Code, dict[Code, Hours]] = Field(
        min_length=1,
        description="Estimated hours a week of a case, by case type (e.g. private-law), "
        "then stage (e.g. section-7-report).",
    )
    reduction_reasons: list[ReductionReason] = Field(
        description="The reasons a reduction may be recorded for; empty means free text."
    )


WeightingScheme = Annotated[
    ProbationWeightingScheme | CafcassWeightingScheme, Field(discriminator="kind")
]
"""A whole weighting scheme, probation or Cafcass, told apart by `kind`."""


# Practitioners.


@CATALOGUE.register
class PractitionerRegistered(EventData):
    """A practitioner joined the workforce Plimsoll keeps: from now on they can be given work.

    Their grade is one the weighting scheme in force knew when they were
    registered; with their contracted hours it sets their available points.
    """

    type = "practitioner-registered"
    version = 1
    service = "allocation"
    examples = (
        {
            "practitioner_id": "P-0001",
            "name": "Pat Practitioner",
            "grade": "PO",
            "team_id": "T-NORTH-1",
            "region_id": "R-NORTH",
            "contracted_hours": 37.0,
            "line_manager_id": "P-0100",
            "start_date": "2024-09-02",
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner.")
    name: Name = Field(description="Their name as colleagues know it.")
    grade: GradeCode = Field(description="Their grade, e.g. PO, PSO, PQiP, FCA.")
    team_id: Identifier = Field(description="The team they work in.")
    region_id: Identifier = Field(description="The region (probation) or area (Cafcass).")
    contracted_hours: Hours = Field(description="Contracted hours a week, 0 to 37.5.")
    line_manager_id: Identifier | None = Field(description="Their line manager, if known.")
    start_date: Day = Field(description="The day they started in post.")


@CATALOGUE.register
class ContractedHoursChanged(EventData):
    """A practitioner's contracted hours changed; their available points change with them."""

    type = "contracted-hours-changed"
    version = 1
    service = "allocation"
    examples = (
        {"practitioner_id": "P-0001", "contracted_hours": 30.0, "previous_contracted_hours": 37.0},
    )

    practitioner_id: Identifier = Field(description="The practitioner.")
    contracted_hours: Hours = Field(description="Contracted hours a week from now on.")
    previous_contracted_hours: Hours = Field(description="What they were before.")


class _Reduction(EventData):
    """The fields every event that brings in a reduction carries, so each stands alone."""

    practitioner_id: Identifier = Field(description="The practitioner whose workload is reduced.")
    reduction_id: Identifier = Field(description="The reduction, unique for the practitioner.")
    reason: Name = Field(
        description="Why: a reason of the scheme (probation) or free text (Cafcass)."
    )
    hours: Hours = Field(
        description="Hours a week taken off the contracted hours while the reduction is active."
    )
    percent: Percent | None = Field(
        description="The percent of contracted hours the hours were worked out from, if any."
    )
    effective_from: Day = Field(description="The first day the reduction applies.")
    effective_to: Day | None = Field(description="The last day it applies; null until it is ended.")


_REDUCTION_EXAMPLE = {
    "practitioner_id": "P-0001",
    "reduction_id": "R-0001",
    "reason": "Trade Union Facility Time",
    "hours": 7.4,
    "percent": 20.0,
    "effective_from": "2025-04-01",
    "effective_to": "2025-09-30",
}


@CATALOGUE.register
class ReductionScheduled(_Reduction):
    """A reduction was recorded that starts on a later day; until then it changes nothing.

    `reduction-started` follows when its first day is reached, or
    `reduction-cancelled` if it is withdrawn before that.
    """

    type = "reduction-scheduled"
    version = 1
    service = "allocation"
    examples = (_REDUCTION_EXAMPLE,)


@CATALOGUE.register
class ReductionStarted(_Reduction):
    """A reduction became active: its hours come off the practitioner's available hours.

    Recorded when a reduction is entered on or after its first day, or when a
    scheduled one's first day is reached.
    """

    type = "reduction-started"
    version = 1
    service = "allocation"
    examples = (_REDUCTION_EXAMPLE,)


@CATALOGUE.register
class ReductionEnded(EventData):
    """An active reduction stopped applying: its hours count as available again.

    `ended_on` is the first day it no longer applies: the day after its
    `effective_to` when that date passed, or the day a manager ended it early.
    """

    type = "reduction-ended"
    version = 1
    service = "allocation"
    examples = (
        {
            "practitioner_id": "P-0001",
            "reduction_id": "R-0001",
            "hours": 7.4,
            "ended_on": "2025-10-01",
            "ended_because": "effective-to-passed",
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner.")
    reduction_id: Identifier = Field(description="The reduction that ended.")
    hours: Hours = Field(description="The hours a week that are available again.")
    ended_on: Day = Field(description="The first day the reduction no longer applies.")
    ended_because: Literal["effective-to-passed", "ended-early"] = Field(
        description="Whether its last day passed, or a manager ended it before then."
    )


@CATALOGUE.register
class ReductionCancelled(EventData):
    """A scheduled reduction was withdrawn before its first day: it never applied."""

    type = "reduction-cancelled"
    version = 1
    service = "allocation"
    examples = ({"practitioner_id": "P-0001", "reduction_id": "R-0002"},)

    practitioner_id: Identifier = Field(description="The practitioner.")
    reduction_id: Identifier = Field(description="The reduction withdrawn.")


@CATALOGUE.register
class PractitionerLeft(EventData):
    """A practitioner leaves, or has left: they are given no new work and their record closes.

    Recorded as soon as the leaving is known, so the date may be in the future;
    from this event on no change to their record is accepted.
    """

    type = "practitioner-left"
    version = 1
    service = "allocation"
    examples = ({"practitioner_id": "P-0001", "leaving_date": "2025-06-30"},)

    practitioner_id: Identifier = Field(description="The practitioner.")
    leaving_date: Day = Field(description="Their last day in post.")


@CATALOGUE.register
class PractitionerTransferred(EventData):
    """A practitioner moved to another team (and perhaps region) from a day on.

    Their caseload stays theirs; from `effective_on` their team's manager and
    their region's head of service answer for them, and the team's and region's
    figures count them.
    """

    type = "practitioner-transferred"
    version = 1
    service = "allocation"
    examples = (
        {
            "practitioner_id": "P-0001",
            "team_id": "T-SOUTH-1",
            "region_id": "R-SOUTH",
            "previous_team_id": "T-NORTH-1",
            "previous_region_id": "R-NORTH",
            "line_manager_id": "P-0310",
            "effective_on": "2025-05-01",
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner.")
    team_id: Identifier = Field(description="The team they work in from `effective_on`.")
    region_id: Identifier = Field(description="That team's region (probation) or area (Cafcass).")
    previous_team_id: Identifier = Field(description="The team they leave.")
    previous_region_id: Identifier = Field(description="That team's region.")
    line_manager_id: Identifier | None = Field(
        description="Their line manager in the new team, if known."
    )
    effective_on: Day = Field(description="The first day in the new team.")


@CATALOGUE.register
class LineManagerChanged(EventData):
    """A practitioner's line manager changed: who supervises them and answers their
    declarations from now on."""

    type = "line-manager-changed"
    version = 1
    service = "allocation"
    examples = (
        {
            "practitioner_id": "P-0001",
            "line_manager_id": "P-0101",
            "previous_line_manager_id": "P-0100",
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner.")
    line_manager_id: Identifier | None = Field(description="Their line manager from now on.")
    previous_line_manager_id: Identifier | None = Field(description="Who it was before.")


# Cases.


class _Weighing(EventData):
    """What a case is, as far as its weighting goes, and the weight it came to."""

    case_type: Code = Field(
        description="community, custody, licence, standard-court-report or fast-court-report "
        "for probation; the Cafcass case type (e.g. private-law) otherwise."
    )
    tier: WmtTier | None = Field(
        description="The WMT tier for probation cases; null when untiered, for court reports "
        "and for Cafcass cases."
    )
    t2a: bool = Field(description="A probation transition-to-adulthood case, weighted by T2A.")
    stage: Code | None = Field(
        description="The Cafcass stage (e.g. section-7-report); null for probation."
    )
    points: Points = Field(description="The case's weighting, in points.")
    scheme_name: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The weighting scheme that gave the points."
    )
    scheme_version: SchemeVersion = Field(description="Its version.")


@CATALOGUE.register
class CaseOpened(_Weighing):
    """A case came to Plimsoll, weighed by the scheme in force; nobody carries it yet."""

    type = "case-opened"
    version = 1
    service = "allocation"
    examples = (
        {
            "case_id": "X777519",
            "team_id": "T-NORTH-1",
            "case_type": "community",
            "tier": "C1",
            "t2a": False,
            "stage": None,
            "points": 50,
            "scheme_name": "wmt",
            "scheme_version": 1,
            "opened_on": "2025-03-03",
        },
        {
            "case_id": "CF-2025-0042",
            "team_id": "T-CAFCASS-SE",
            "case_type": "private-law",
            "tier": None,
            "t2a": False,
            "stage": "section-7-report",
            "points": 150,
            "scheme_name": "cafcass-hours",
            "scheme_version": 1,
            "opened_on": "2025-03-03",
        },
    )

    case_id: Identifier = Field(description="The case (for probation, the person's CRN).")
    team_id: Identifier = Field(description="The team the case is to be held in.")
    opened_on: Day = Field(description="The day the case was opened.")


@CATALOGUE.register
class CaseAllocated(EventData):
    """A case was allocated to a practitioner: from now on it counts in their workload.

    `points` is the case's weighting at the moment of allocation (for probation,
    the WMT points of its tier and case type), so a later change to the
    weighting scheme never rewrites what a practitioner was judged to carry.
    An allocation that took the practitioner above the override threshold is
    followed, in the same append, by `allocation-override-recorded`.
    """

    type = "case-allocated"
    version = 1
    service = "allocation"
    examples = (
        {
            "practitioner_id": "P-0001",
            "case_id": "X777519",
            "team_id": "T-NORTH-1",
            "tier": "C1",
            "case_type": "community",
            "points": 50,
            "allocated_by": "P-0100",
            "reason": "INITIAL_ALLOCATION",
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner now responsible.")
    case_id: Identifier = Field(description="The case (for probation, the person's CRN).")
    team_id: Identifier = Field(description="The team the case is held in.")
    tier: WmtTier | None = Field(
        description="The WMT tier (A3..D0, S for unsupervised) for probation cases; "
        "null for court reports, untiered and Cafcass cases."
    )
    case_type: str = Field(
        min_length=1,
        max_length=50,
        description="community, custody, licence, standard-court-report or fast-court-report "
        "for probation; the Cafcass case type (e.g. public-law, private-law) otherwise.",
    )
    points: Points = Field(description="The case's weighting at allocation, in points.")
    allocated_by: ActorName = Field(description="Who made the allocation decision.")
    reason: str | None = Field(
        default=None,
        max_length=500,
        description="Why, e.g. INITIAL_ALLOCATION, TRANSFER_IN or CASELOAD_ADJUSTMENT.",
    )


@CATALOGUE.register
class CaseReallocated(EventData):
    """A case moved from one practitioner to another: it leaves one workload and joins the other.

    Keyed by the practitioner who now carries it; `from_practitioner_id` is who
    carried it until now.
    """

    type = "case-reallocated"
    version = 1
    service = "allocation"
    examples = (
        {
            "practitioner_id": "P-0002",
            "from_practitioner_id": "P-0001",
            "case_id": "X777519",
            "team_id": "T-NORTH-1",
            "from_team_id": "T-NORTH-1",
            "tier": "C1",
            "case_type": "community",
            "points": 50,
            "reason": "CASELOAD_ADJUSTMENT",
            "note": None,
            "reallocated_by": "P-0100",
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner now responsible.")
    from_practitioner_id: Identifier = Field(description="Who was responsible until now.")
    case_id: Identifier = Field(description="The case.")
    team_id: Identifier = Field(description="The team the case is held in from now on.")
    from_team_id: Identifier = Field(description="The team it was held in until now.")
    tier: WmtTier | None = Field(description="The WMT tier, as in case-allocated.")
    case_type: Code = Field(description="The case type, as in case-allocated.")
    points: Points = Field(description="The case's weighting, moving with it.")
    reason: ReallocationReason = Field(description="Why it moved (the HMPPS reasons).")
    note: Text | None = Field(description="What the reason does not say; required for OTHER.")
    reallocated_by: ActorName = Field(description="Who made the decision.")


@CATALOGUE.register
class CaseWeightingChangedV1(_Weighing):
    """Superseded by v2, which adds the causes of suspended work and `agreement_id`. Kept so
    that data written as v1 is still validated before it is upcast."""

    type = "case-weighting-changed"
    version = 1
    service = "allocation"
    examples = (
        {
            "case_id": "X777519",
            "practitioner_id": "P-0001",
            "case_type": "community",
            "tier": "B2",
            "t2a": False,
            "stage": None,
            "points": 115,
            "previous_points": 50,
            "scheme_name": "wmt",
            "scheme_version": 1,
            "cause": "tier-changed",
        },
    )

    case_id: Identifier = Field(description="The case.")
    practitioner_id: Identifier | None = Field(
        description="Who carries the case, or null while it is unallocated."
    )
    previous_points: Points = Field(description="The weighting until now.")
    cause: Literal["tier-changed", "stage-changed", "scheme-changed"] = Field(
        description="What changed the weighting."
    )


WeightingCause = Literal[
    "tier-changed",
    "stage-changed",
    "scheme-changed",
    "work-suspended",
    "work-not-to-be-done",
    "work-resumed",
]
"""What changed a case's weighting."""


@CATALOGUE.register
class CaseWeightingChanged(_Weighing):
    """A case's weighting changed: its tier or stage changed, a new scheme weighed it anew, or
    work on it was suspended, marked not to be done, or resumed by a workload agreement.

    The practitioner carrying it, if anyone, carries `points` from now on instead of
    `previous_points`. While work is suspended (or not to be done) the case counts for
    nothing: `points` is 0, and stays 0 through a change of tier, stage or scheme, until
    `work-resumed` (citing the same `agreement_id`) weighs it again under the scheme in force,
    or a reallocation moves it at full points. The agreements are wellbeing's
    (`work-suspended`, `work-marked-not-to-be-done`, `work-resumed`); this event is allocation's
    answer to them, its causation id the wellbeing event's id.
    """

    type = "case-weighting-changed"
    version = 2
    service = "allocation"
    examples = (
        {
            "case_id": "X777519",
            "practitioner_id": "P-0001",
            "case_type": "community",
            "tier": "B2",
            "t2a": False,
            "stage": None,
            "points": 115,
            "previous_points": 50,
            "scheme_name": "wmt",
            "scheme_version": 1,
            "cause": "tier-changed",
            "agreement_id": None,
        },
        {
            "case_id": "X123456",
            "practitioner_id": "P-0001",
            "case_type": "community",
            "tier": "C1",
            "t2a": False,
            "stage": None,
            "points": 0,
            "previous_points": 50,
            "scheme_name": "wmt",
            "scheme_version": 1,
            "cause": "work-suspended",
            "agreement_id": "A-7d2c41e0b9aa",
        },
    )

    case_id: Identifier = Field(description="The case.")
    practitioner_id: Identifier | None = Field(
        description="Who carries the case, or null while it is unallocated."
    )
    previous_points: Points = Field(description="The weighting until now.")
    cause: WeightingCause = Field(description="What changed the weighting.")
    agreement_id: Identifier | None = Field(
        description="The workload agreement (wellbeing's) that suspended, marked not to be "
        "done or resumed the work; null for the other causes."
    )


@CATALOGUE.upcaster("case-weighting-changed", from_version=1)
def case_weighting_changed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v1 becomes v2: no workload agreement was involved (`agreement_id` null)."""
    return {**data, "agreement_id": None}


@CATALOGUE.register
class CaseClosed(EventData):
    """A case closed: it no longer counts in anyone's workload."""

    type = "case-closed"
    version = 1
    service = "allocation"
    examples = (
        {
            "case_id": "X777519",
            "practitioner_id": "P-0001",
            "team_id": "T-NORTH-1",
            "points": 50,
            "closed_on": "2025-09-30",
        },
    )

    case_id: Identifier = Field(description="The case.")
    practitioner_id: Identifier | None = Field(
        description="Who carried it until now, or null if it was never allocated."
    )
    team_id: Identifier = Field(description="The team it was held in.")
    points: Points = Field(description="The weighting that leaves the workload.")
    closed_on: Day = Field(description="The day it closed.")


@CATALOGUE.register
class AllocationOverrideRecorded(EventData):
    """A case was given to a practitioner above the agreed capacity, and this is the decision.

    Recorded with the `case-allocated` or `case-reallocated` it justifies, in the
    same append. It names who decided and why, the capacity before and after, and
    the limits in force, so the head of service sees it and a tribunal can read
    it later. `exceeded` is `hard-ceiling` when only a head of service could
    decide; a practitioner with no available points at all (a grade with no
    default hours, or no contracted hours) counts as above the ceiling, though
    WMT shows their capacity as 0.
    """

    type = "allocation-override-recorded"
    version = 1
    service = "allocation"
    examples = (
        {
            "practitioner_id": "P-0001",
            "case_id": "X777519",
            "team_id": "T-NORTH-1",
            "action": "allocate",
            "case_points": 163,
            "points_before": 2100,
            "points_after": 2263,
            "available_points": 2176,
            "capacity_before_percent": 96.5,
            "capacity_after_percent": 104.0,
            "override_threshold_percent": 100.0,
            "hard_ceiling_percent": 120.0,
            "exceeded": "override-threshold",
            "reason": "Only PO with sex-offender training; two cases close this month.",
            "decided_by": "P-0100",
            "decided_by_role": "manager",
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner given the case.")
    case_id: Identifier = Field(description="The case.")
    team_id: Identifier = Field(description="The practitioner's team.")
    action: Literal["allocate", "reallocate"] = Field(description="What was decided.")
    case_points: Points = Field(description="The case's weighting.")
    points_before: TotalPoints = Field(description="The practitioner's workload points before.")
    points_after: TotalPoints = Field(description="Their workload points after.")
    available_points: TotalPoints = Field(description="Their available points.")
    capacity_before_percent: CapacityPercent = Field(
        description="Capacity before, as WMT shows it."
    )
    capacity_after_percent: CapacityPercent = Field(description="Capacity after, as WMT shows it.")
    override_threshold_percent: CapacityPercent = Field(
        description="Above this, a manager's written reason is needed."
    )
    hard_ceiling_percent: CapacityPercent = Field(
        description="Above this, only a head of service may allocate."
    )
    exceeded: Literal["override-threshold", "hard-ceiling"] = Field(
        description="The highest limit the allocation went above."
    )
    reason: Text = Field(description="The written reason for the decision.")
    decided_by: ActorName = Field(description="Who decided.")
    decided_by_role: Literal["manager", "head-of-service"] = Field(
        description="The role they decided in."
    )


# Weighting schemes.


@CATALOGUE.register
class WeightingSchemeChanged(EventData):
    """A new version of a weighting scheme came into force, carried whole.

    Every capacity is recomputed from it: cases are weighed anew (each change a
    `case-weighting-changed`), and available points follow the new grade table.
    """

    type = "weighting-scheme-changed"
    version = 1
    service = "allocation"
    examples = (
        {
            "scheme": {
                "kind": "probation",
                "name": "wmt",
                "version": 2,
                "grades": {
                    "PO": {"nominal_target_points": 2176, "default_contracted_hours": 37.0},
                    "SPO": {"nominal_target_points": 2176, "default_contracted_hours": 0.0},
                },
                "tier_points": {
                    "community": {"A3": 206, "C1": 50},
                    "custody": {"A3": 75, "C1": 23},
                    "licence": {"A3": 219, "A1": 163},
                },
                "t2a_tier_points": {"A3": 75, "C1": 23},
                "court_report_points": {"standard": 138, "fast": 65},
                "reduction_reasons": [
                    {
                        "reason": "Long Term Sickness Absence",
                        "allowance_percent": 100.0,
                        "max_percent": None,
                        "months_to_expiry": None,
                    }
                ],
            },
            "changed_by": "P-0300",
            "reason": "Tier points agreed at the joint negotiating committee.",
        },
        {
            "scheme": {
                "kind": "cafcass",
                "name": "cafcass-hours",
                "version": 1,
                "grades": {
                    "FCA": {"nominal_target_points": 1887, "default_contracted_hours": 37.0}
                },
                "weekly_hours": {"private-law": {"section-7-report": 2.5}},
                "reduction_reasons": [],
            },
            "changed_by": "P-0300",
            "reason": None,
        },
    )

    scheme: WeightingScheme = Field(description="The whole scheme now in force.")
    changed_by: ActorName = Field(description="Who brought it into force.")
    reason: Text | None = Field(description="Why it changed, e.g. the agreement it records.")


# Capacity, as the allocation service works it out (the one place it is worked out).

Threshold = Literal["override-threshold", "hard-ceiling"]
"""An agreed limit of the allocation service: above the override threshold an allocation
needs a written reason; above the hard ceiling only a head of service may allocate."""

Position = Annotated[int, Field(ge=1, le=LARGEST_TOTAL)]
"""A position in the allocation service's event log."""


class _Capacity(EventData):
    """A capacity figure as WMT computes it, the limits it is above, and what moved it."""

    total_points: TotalPoints = Field(description="Points of the open cases carried.")
    available_points: TotalPoints = Field(
        description="Points that can be carried at 100%, after the reductions in force."
    )
    capacity_percent: CapacityPercent = Field(
        description="total / available as WMT shows it (0 when either is 0)."
    )
    above: list[Threshold] = Field(
        max_length=2,
        description="The agreed limits the figure is above (strictly): override-threshold, "
        "then hard-ceiling. Points with no available points at all are above both, as "
        "allocation judges them, though WMT shows 0%.",
    )
    override_threshold_percent: CapacityPercent = Field(
        description="The override threshold in force when it was worked out."
    )
    hard_ceiling_percent: CapacityPercent = Field(
        description="The hard ceiling in force when it was worked out."
    )
    previous_total_points: TotalPoints | None = Field(
        description="The figure published before this one; null for the first."
    )
    previous_available_points: TotalPoints | None = Field(
        description="Likewise, the available points."
    )
    previous_capacity_percent: CapacityPercent | None = Field(description="Likewise, the capacity.")
    cause_event_id: UUID = Field(description="The allocation event that moved the figure.")
    cause_type: Code = Field(description="Its type, e.g. case-allocated, reduction-started.")
    cause_position: Position = Field(description="Its position in the allocation log.")


@CATALOGUE.register
class CapacityChanged(_Capacity):
    """A practitioner's capacity changed: the figure every other system reads, never works out.

    Published after each allocation event that moves the practitioner's points or available
    points (an allocation, a reallocation to or from them, a case re-weighed for its tier,
    stage, a new scheme or suspended work, a closure, a change of contracted hours, a
    reduction starting or ending, a scheme's grade table), after that event and keyed by the
    practitioner, so a consumer reads it after its cause. The first is published when they
    are registered. Worked out from the allocation log alone, in log order, so replaying the
    log publishes the same sequence.
    """

    type = "capacity-changed"
    version = 1
    service = "allocation"
    examples = (
        {
            "practitioner_id": "P-0001",
            "team_id": "T-NORTH-1",
            "region_id": "R-NORTH",
            "total_points": 2263,
            "available_points": 2176,
            "capacity_percent": 104.0,
            "above": ["override-threshold"],
            "override_threshold_percent": 100.0,
            "hard_ceiling_percent": 120.0,
            "previous_total_points": 2100,
            "previous_available_points": 2176,
            "previous_capacity_percent": 96.5,
            "cause_event_id": "0195a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "cause_type": "case-allocated",
            "cause_position": 1042,
        },
    )

    practitioner_id: Identifier = Field(description="The practitioner.")
    team_id: Identifier = Field(description="The team they are counted in.")
    region_id: Identifier = Field(description="That team's region.")


@CATALOGUE.register
class TeamCapacityChanged(_Capacity):
    """A team's capacity changed: Σ points / Σ available points of those in post in it.

    Published after each allocation event that moves a member's figure, or who is in post in
    the team (a registration, a transfer or a leaving taking effect); keyed by the team's
    stream (`team-capacity-<team>`). Not the mean of the members' percentages.
    """

    type = "team-capacity-changed"
    version = 1
    service = "allocation"
    examples = (
        {
            "team_id": "T-NORTH-1",
            "region_id": "R-NORTH",
            "practitioner_count": 8,
            "total_points": 15632,
            "available_points": 16320,
            "capacity_percent": 95.8,
            "above": [],
            "override_threshold_percent": 100.0,
            "hard_ceiling_percent": 120.0,
            "previous_total_points": 15369,
            "previous_available_points": 16320,
            "previous_capacity_percent": 94.2,
            "cause_event_id": "0195a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
            "cause_type": "case-allocated",
            "cause_position": 1042,
        },
    )

    team_id: Identifier = Field(description="The team.")
    region_id: Identifier = Field(description="Its region.")
    practitioner_count: int = Field(
        ge=0, le=LARGEST_WHOLE_NUMBER, description="Those in post in it."
    )


@CATALOGUE.register
class CalendarDayBegan(EventData):
    """A day began in the service's calendar (UK): what was recorded to take effect on it
    does so now.

    Recorded once a day by the daily reconciliation, before the reductions it starts and
    ends. A transfer recorded for this day (or before) moves the practitioner between teams'
    figures now, and a practitioner whose last day has passed leaves their team's figures:
    so a reader of the log alone knows when time passed, and a replay gives the same figures.
    """

    type = "calendar-day-began"
    version = 1
    service = "allocation"
    examples = ({"day": "2025-05-01"},)

    day: Day = Field(description="The UK calendar day that began.")
