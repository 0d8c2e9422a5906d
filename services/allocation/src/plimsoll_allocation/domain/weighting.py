"""Weighting schemes as versioned data, and what a case weighs under one.

A scheme says what a case weighs, in points, and what each grade is expected
to carry (its nominal target for its default contracted hours). Two shapes:

* `ProbationWeightingScheme`, as HMPPS's Workload Measurement Tool (WMT) does
  it: points by tier (A3..D0) and case type (community, custody, licence); the
  T2A table for transition-to-adulthood cases of any type; standard and fast
  court reports. A tier a table does not list scores 0, so the unsupervised S
  tiers score 0 unless a version lists them, as in WMT's seed; untiered cases
  score 0.
* `CafcassWeightingScheme`: estimated hours a week by case type and stage. One
  point is one estimated minute a week (`round_half_up(hours * 60)`), and a
  grade's nominal target is the minutes a week of casework a full-timer has,
  so capacity reads as estimated case hours over available casework hours,
  with exactly WMT's arithmetic (see `capacity`).

Each scheme has a name and a version, and lives in its own stream (one per
kind); a change is the event `weighting-scheme-changed` carrying the whole new
scheme, decided here by `decide(ChangeWeightingScheme(...), state)`.

The defaults are embedded as Python data (the domain reads no files); a unit
test checks the probation default against the reference file
`../shared/reference/probation-wmt.json`, from which its numbers are copied.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Final, cast

from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.allocation import (
    CafcassWeightingScheme,
    CourtReportType,
    GradeAllowance,
    ProbationCaseType,
    ProbationWeightingScheme,
    ReductionReason,
    WeightingSchemeChanged,
)

from plimsoll_allocation.domain.errors import InvalidValue, StaleSchemeVersion, supplied

Scheme = ProbationWeightingScheme | CafcassWeightingScheme
"""Either kind of weighting scheme."""

PROBATION_TIERS: Final = (
    *("A3", "A2", "A1", "A0"),
    *("B3", "B2", "B1", "B0"),
    *("C3", "C2", "C1", "C0"),
    *("D3", "D2", "D1", "D0"),
)
"""The supervised WMT tiers, highest risk and need first; each has an unsupervised `S` variant."""

UNSUPERVISED_TIERS: Final = tuple(f"{tier}S" for tier in PROBATION_TIERS)
"""A3S..D0S: score 0 unless a scheme version lists them."""

PROBATION_CASE_TYPES: Final[dict[str, ProbationCaseType]] = {
    "community": "community",
    "custody": "custody",
    "licence": "licence",
}
"""The probation case types weighted by tier."""

COURT_REPORT_CASE_TYPES: Final[dict[str, CourtReportType]] = {
    "standard-court-report": "standard",
    "fast-court-report": "fast",
}
"""Probation case types that are court reports, and the report type each is weighted as."""

CAFCASS_POINTS_PER_HOUR: Final = 60
"""Cafcass schemes count one point per estimated minute of work a week."""


def _tiers(*points: int) -> dict[str, int]:
    return dict(zip(PROBATION_TIERS, points, strict=True))


DEFAULT_PROBATION_SCHEME: Final = ProbationWeightingScheme(
    name="wmt",
    version=1,
    grades={
        # From the reference (WMT's seed).
        "PO": GradeAllowance(nominal_target_points=2176, default_contracted_hours=Decimal(37)),
        "PQiP": GradeAllowance(nominal_target_points=2176, default_contracted_hours=Decimal(37)),
        "PSO": GradeAllowance(nominal_target_points=2176, default_contracted_hours=Decimal(37)),
        "SPO": GradeAllowance(nominal_target_points=2176, default_contracted_hours=Decimal(0)),
        # Plimsoll's choice: not in WMT's seed. A trainee probation officer is weighted as
        # a PQiP learner, whose protected learning time is a reduction (the PQiP reasons).
        "TPO": GradeAllowance(nominal_target_points=2176, default_contracted_hours=Decimal(37)),
    },
    tier_points={
        #                 A3   A2   A1   A0   B3   B2   B1   B0  C3  C2  C1  C0  D3  D2  D1  D0
        "community": _tiers(206, 158, 146, 110, 146, 115, 102, 72, 79, 63, 50, 35, 51, 41, 29, 29),
        "custody": _tiers(75, 60, 59, 0, 59, 48, 47, 0, 30, 24, 23, 0, 17, 14, 13, 0),
        "licence": _tiers(219, 175, 163, 0, 161, 132, 119, 0, 77, 65, 52, 0, 51, 43, 31, 0),
    },
    t2a_tier_points=_tiers(75, 60, 59, 0, 59, 48, 47, 0, 30, 24, 23, 0, 17, 14, 13, 0),
    court_report_points={"standard": 138, "fast": 65},
    reduction_reasons=[
        ReductionReason(reason="Long Term Sickness Absence", allowance_percent=Decimal(100)),
        ReductionReason(
            reason="Maternity Leave", allowance_percent=Decimal(100), months_to_expiry=6
        ),
        ReductionReason(
            reason="Adoption Leave", allowance_percent=Decimal(100), months_to_expiry=6
        ),
        ReductionReason(reason="Special Leave", allowance_percent=Decimal(100)),
        ReductionReason(reason="Trade Union Facility Time", max_percent=Decimal(50)),
        ReductionReason(
            reason="PQiP first 6 months", allowance_percent=Decimal(80), months_to_expiry=6
        ),
        ReductionReason(
            reason="PQiP 6 to 12 months", allowance_percent=Decimal(60), months_to_expiry=6
        ),
        ReductionReason(
            reason="PQiP 12 to 18 months", allowance_percent=Decimal(40), months_to_expiry=6
        ),
        ReductionReason(
            reason="Newly Qualified Officer", allowance_percent=Decimal(20), months_to_expiry=9
        ),
        ReductionReason(
            reason="PSO Learning and Development",
            allowance_percent=Decimal(20),
            months_to_expiry=6,
        ),
        ReductionReason(reason="VQ3", allowance_percent=Decimal(5), months_to_expiry=6),
        ReductionReason(
            reason="Level 4 and 5 Access", allowance_percent=Decimal(10), months_to_expiry=6
        ),
        ReductionReason(reason="SPOC lead", max_percent=Decimal(5)),
        # Hours entered by the manager.
        ReductionReason(
            reason="Other (disability, phased return, pregnancy, co-worked, groups, "
            "court duty, split role)"
        ),
    ],
)
"""WMT's published reference values as the probation scheme, version 1 (plus the TPO grade).

Every number but TPO's is copied from `probation-wmt.json` (a unit test checks
it). TPO (trainee probation officer) is not in WMT's seed; Plimsoll weights it
as PQiP: nominal target 2176 points for 37 hours, its learning time recorded
as a PQiP reduction.
"""


def _hours(value: str) -> Decimal:
    return Decimal(value)


DEFAULT_CAFCASS_SCHEME: Final = CafcassWeightingScheme(
    name="cafcass-hours",
    version=1,
    grades={
        # 85% of 37 hours (1887 minutes a week) for casework; the rest is supervision,
        # training, team meetings and duty that belong to no case.
        "FCA": GradeAllowance(nominal_target_points=1887, default_contracted_hours=Decimal(37)),
        # 70% (1554 minutes): a senior FCA also supports and supervises colleagues.
        "SENIOR_FCA": GradeAllowance(
            nominal_target_points=1554, default_contracted_hours=Decimal(37)
        ),
    },
    weekly_hours={
        "private-law": {
            # Safeguarding checks, the letter to court and the first hearing (FHDRA).
            "work-before-first-hearing": _hours("1.5"),
            # A welfare report under section 7 of the Children Act 1989.
            "section-7-report": _hours("2.5"),
            # A risk assessment under section 16A where harm is alleged.
            "section-16a-risk-assessment": _hours("2"),
            # Children's guardian for a child made a party under FPR rule 16.4.
            "rule-16-4-guardian": _hours("3"),
            # Monitoring a family assistance order (section 16).
            "family-assistance-order": _hours("1.5"),
        },
        "public-law": {
            # Children's guardian in care proceedings, up to the case management hearing.
            "guardian-first-hearing": _hours("4"),
            # ... between the case management hearing and the final analysis.
            "guardian-ongoing": _hours("2"),
            # ... writing the final analysis and attending the final hearing.
            "guardian-final-analysis": _hours("3"),
            "emergency-protection-order": _hours("4"),
            "secure-accommodation": _hours("3"),
        },
        "adoption": {
            "reporting-officer": _hours("1"),
            "guardian": _hours("1.5"),
        },
    },
    reduction_reasons=[],
)
"""Plimsoll's default Cafcass-style scheme, version 1: a starting point for a team to edit.

These are Plimsoll's defaults, not figures Cafcass publishes: estimated hours a
week a case of each type and stage takes (visits, reading, writing, hearings,
travel), and for each grade the share of a 37-hour week that is casework (FCA
85%, senior FCA 70%). A team changes them by recording a new version. Cafcass
reductions are free text (`reduction_reasons` is empty).
"""

DEFAULT_SCHEMES: Final = (DEFAULT_PROBATION_SCHEME, DEFAULT_CAFCASS_SCHEME)
"""Both defaults, in the order a new installation adopts them."""


@dataclass(frozen=True)
class CaseProfile:
    """What a case is, as far as its weighting goes.

    Probation: `case_type` community, custody or licence with a `tier` (None when
    untiered) and the `t2a` flag; or standard-court-report / fast-court-report
    with neither. Cafcass: the case type (e.g. private-law) and its `stage`
    (e.g. section-7-report).
    """

    case_type: str
    tier: str | None = None
    t2a: bool = False
    stage: str | None = None


def case_points(scheme: Scheme, profile: CaseProfile) -> int:
    """What a case weighs under a scheme, in points; `InvalidValue` names what is wrong.

    Refused: a tier that is not a WMT tier (A3..D0, optionally S), a case type or
    stage the scheme does not know, a tier or T2A flag on a case that is not
    tiered, a stage on a probation case.
    """
    if isinstance(scheme, ProbationWeightingScheme):
        return _probation_points(scheme, profile)
    return _cafcass_points(scheme, profile)


def _probation_points(scheme: ProbationWeightingScheme, profile: CaseProfile) -> int:
    if profile.stage is not None:
        raise InvalidValue("probation cases have no stage", field="stage")
    report_type = COURT_REPORT_CASE_TYPES.get(profile.case_type)
    if report_type is not None:
        if profile.tier is not None:
            raise InvalidValue("court reports are not tiered", field="tier")
        if profile.t2a:
            raise InvalidValue("court reports are not weighted as T2A", field="t2a")
        if report_type not in scheme.court_report_points:
            raise InvalidValue(f"scheme {scheme.name} has no {report_type} court reports")
        return scheme.court_report_points[report_type]
    case_type = PROBATION_CASE_TYPES.get(profile.case_type)
    if case_type is None:
        known = ", ".join((*PROBATION_CASE_TYPES, *COURT_REPORT_CASE_TYPES))
        raise InvalidValue(
            f"unknown case type {profile.case_type!r}; one of {known}", field="case_type"
        )
    if profile.tier is None:
        return 0
    if profile.tier not in PROBATION_TIERS and profile.tier not in UNSUPERVISED_TIERS:
        raise InvalidValue(
            f"unknown tier {profile.tier!r}; a WMT tier is A3..D0, with S if unsupervised",
            field="tier",
        )
    if profile.t2a:
        return scheme.t2a_tier_points.get(profile.tier, 0)
    return scheme.tier_points.get(case_type, {}).get(profile.tier, 0)


def _cafcass_points(scheme: CafcassWeightingScheme, profile: CaseProfile) -> int:
    if profile.tier is not None:
        raise InvalidValue("Cafcass cases are not tiered", field="tier")
    if profile.t2a:
        raise InvalidValue("T2A is a probation weighting", field="t2a")
    stages = scheme.weekly_hours.get(profile.case_type)
    if stages is None:
        known = ", ".join(sorted(scheme.weekly_hours))
        raise InvalidValue(
            f"unknown case type {profile.case_type!r}; one of {known}", field="case_type"
        )
    if profile.stage is None or profile.stage not in stages:
        known = ", ".join(sorted(stages))
        raise InvalidValue(
            f"unknown stage {profile.stage!r} for {profile.case_type}; one of {known}",
            field="stage",
        )
    return hours_to_points(stages[profile.stage])


def hours_to_points(hours_a_week: Decimal) -> int:
    """Cafcass points of an estimate: its minutes a week, rounded half up to a whole minute."""
    return int((hours_a_week * CAFCASS_POINTS_PER_HOUR).quantize(Decimal(1), ROUND_HALF_UP))


def grade_allowance(scheme: Scheme, grade: str) -> GradeAllowance:
    """The grade's nominal target and default hours; `InvalidValue` on `grade` if unknown."""
    allowance = scheme.grades.get(grade)
    if allowance is None:
        known = ", ".join(sorted(scheme.grades))
        raise InvalidValue(
            f"unknown grade {grade!r} in scheme {scheme.name} v{scheme.version}; one of {known}",
            field="grade",
        )
    return allowance


def scheme_for_grade(schemes: Iterable[Scheme], grade: str) -> Scheme:
    """The first scheme whose grade table has the grade: how a practitioner's scheme is found."""
    candidates = list(schemes)
    for scheme in candidates:
        if grade in scheme.grades:
            return scheme
    known = ", ".join(sorted({g for scheme in candidates for g in scheme.grades}))
    raise InvalidValue(f"unknown grade {grade!r}; one of {known}", field="grade")


def supplied_scheme(scheme: Scheme | None) -> Scheme:
    """The scheme in force a command carries, which the application layer fills in."""
    # cast: mypy infers the TypeVar of an annotated union as its base, not the union.
    return cast(Scheme, supplied(scheme, "scheme"))


def scheme_for_case_type(schemes: Iterable[Scheme], case_type: str) -> Scheme:
    """The scheme that weighs a case type: a Cafcass scheme knowing it, else probation's."""
    candidates = list(schemes)
    for scheme in candidates:
        if isinstance(scheme, CafcassWeightingScheme) and case_type in scheme.weekly_hours:
            return scheme
    for scheme in candidates:
        if isinstance(scheme, ProbationWeightingScheme):
            return scheme
    raise InvalidValue(f"no scheme weighs case type {case_type!r}", field="case_type")


def reduction_reason(scheme: Scheme, reason: str) -> ReductionReason | None:
    """The scheme's entry for a reduction reason; None where reasons are free text.

    A scheme with an empty `reduction_reasons` list (Cafcass) takes any reason;
    one with a list (probation) takes only its reasons, else `InvalidValue`.
    """
    if not scheme.reduction_reasons:
        return None
    for known in scheme.reduction_reasons:
        if known.reason == reason:
            return known
    raise InvalidValue(
        f"unknown reduction reason {reason!r} in scheme {scheme.name}", field="reason"
    )


# The weighting scheme aggregate: one stream per kind of scheme.


@dataclass(frozen=True)
class ChangeWeightingScheme:
    """Bring a new version of a scheme into force; it must be the next version.

    The first change of a stream may be any version (a new installation adopts
    `DEFAULT_PROBATION_SCHEME` or `DEFAULT_CAFCASS_SCHEME`, version 1); each
    later one must be exactly one more than the version in force, so two people
    editing the same version cannot both win.
    """

    scheme: Scheme
    changed_by: str
    reason: str | None = None


SchemeState = Scheme | None
"""The scheme in force in a stream, or None before its first version."""

initial_state: SchemeState = None


def decide(command: ChangeWeightingScheme, state: SchemeState) -> list[EventData]:
    """`weighting-scheme-changed` carrying the whole scheme, or a refusal."""
    scheme = command.scheme
    if not command.changed_by:
        raise InvalidValue("who changes the scheme must be named", field="changed_by")
    if command.reason is not None and not command.reason.strip():
        raise InvalidValue("a reason, if given, must say something", field="reason")
    if state is not None:
        if scheme.kind != state.kind:
            raise InvalidValue(
                f"this stream holds {state.kind} schemes, not {scheme.kind}", field="scheme.kind"
            )
        if scheme.version != state.version + 1:
            raise StaleSchemeVersion(
                f"version {state.version} is in force; the next version is {state.version + 1}",
                field="scheme.version",
            )
    if isinstance(scheme, ProbationWeightingScheme):
        missing = [
            case_type for case_type in PROBATION_CASE_TYPES if case_type not in scheme.tier_points
        ]
        if missing:
            raise InvalidValue(
                f"no tier points for {', '.join(missing)}", field="scheme.tier_points"
            )
    else:
        empty = [case_type for case_type, stages in scheme.weekly_hours.items() if not stages]
        if empty:
            raise InvalidValue(
                f"case types with no stage: {', '.join(empty)}", field="scheme.weekly_hours"
            )
    return [
        WeightingSchemeChanged(scheme=scheme, changed_by=command.changed_by, reason=command.reason)
    ]


def evolve(state: SchemeState, event: EventData) -> SchemeState:
    """The scheme in force after an event of the scheme's stream."""
    if isinstance(event, WeightingSchemeChanged):
        return event.scheme
    raise TypeError(f"{event.type} is not an event of a weighting scheme")


def scheme_stream(kind: str) -> str:
    """The stream id of a kind of scheme, e.g. `weighting-scheme-probation`."""
    return f"weighting-scheme-{kind}"


WEIGHTING_SCHEME: Final = Decider[ChangeWeightingScheme, SchemeState](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""The weighting scheme aggregate as a `Decider`."""
