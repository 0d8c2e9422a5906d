"""Weighting schemes as data: what a case weighs, and how a scheme changes."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from plimsoll_allocation.domain import (
    ALLOCATION_REASONS,
    DEFAULT_CAFCASS_SCHEME,
    DEFAULT_PROBATION_SCHEME,
    MAX_CONTRACTED_HOURS,
    WEIGHTING_SCHEME,
    CaseProfile,
    ChangeWeightingScheme,
    InvalidValue,
    StaleSchemeVersion,
    case_points,
    grade_allowance,
    hours_to_points,
    reduction_reason,
    scheme_for_grade,
)
from plimsoll_allocation.domain.weighting import PROBATION_TIERS, UNSUPERVISED_TIERS
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.types.allocation import WeightingSchemeChanged

REFERENCE = Path(__file__).resolve().parents[4] / "shared" / "reference" / "probation-wmt.json"

PROBATION = DEFAULT_PROBATION_SCHEME
CAFCASS = DEFAULT_CAFCASS_SCHEME


def _reference() -> dict[str, Any]:
    if not REFERENCE.is_file():
        pytest.skip(f"the reference data is not checked out at {REFERENCE}")
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


def _percent(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# The embedded default is the reference data.


def test_embedded_probation_scheme_is_the_reference_data():
    reference = _reference()

    assert list(PROBATION_TIERS) == reference["tiers"]
    assert PROBATION.tier_points == reference["points"]
    assert PROBATION.t2a_tier_points == reference["t2a_points_all_case_types"]
    assert PROBATION.court_report_points == reference["court_reports"]
    for grade, target in reference["nominal_target_points"].items():
        assert PROBATION.grades[grade].nominal_target_points == target
    for grade, hours in reference["default_contracted_hours"].items():
        assert PROBATION.grades[grade].default_contracted_hours == Decimal(str(hours))
    assert [0, float(MAX_CONTRACTED_HOURS)] == reference["contracted_hours_valid_range"]


def test_embedded_reduction_reasons_are_the_reference_reasons():
    reference = _reference()

    embedded = [
        {
            "reason": r.reason,
            "allowance_percent": _percent(r.allowance_percent),
            "max_percent": _percent(r.max_percent),
            "months_to_expiry": r.months_to_expiry,
        }
        for r in PROBATION.reduction_reasons
    ]
    expected = [
        {
            "reason": r["reason"],
            "allowance_percent": r.get("allowance_percent"),
            "max_percent": r.get("max_percent"),
            "months_to_expiry": r.get("months_to_expiry"),
        }
        for r in reference["reduction_reasons"]
    ]
    assert embedded == expected


def test_allocation_reasons_are_the_reference_reasons_plus_loss_of_confidence():
    reference = _reference()

    assert [r for r in ALLOCATION_REASONS if r != "LOSS_OF_CONFIDENCE"] == reference[
        "allocation_reasons"
    ]


def test_every_grade_the_issue_names_is_known():
    assert {"PO", "PSO", "SPO", "PQiP", "TPO"} <= set(PROBATION.grades)
    assert {"FCA", "SENIOR_FCA"} <= set(CAFCASS.grades)


def test_a_trainee_probation_officer_is_weighted_as_a_pqip():
    assert PROBATION.grades["TPO"] == PROBATION.grades["PQiP"]


# Probation cases.


@pytest.mark.parametrize(
    ("case_type", "tier", "points"),
    [
        ("community", "C1", 50),
        ("community", "A3", 206),
        ("licence", "A1", 163),
        ("custody", "B2", 48),
        ("licence", "D0", 0),
    ],
)
def test_a_probation_case_weighs_its_tier_and_case_type(case_type: str, tier: str, points: int):
    assert case_points(PROBATION, CaseProfile(case_type, tier=tier)) == points


@pytest.mark.parametrize("tier", UNSUPERVISED_TIERS)
@pytest.mark.parametrize("case_type", ["community", "custody", "licence"])
def test_unsupervised_s_tiers_score_zero_by_default(case_type: str, tier: str):
    assert case_points(PROBATION, CaseProfile(case_type, tier=tier)) == 0
    assert case_points(PROBATION, CaseProfile(case_type, tier=tier, t2a=True)) == 0


def test_an_unsupervised_tier_scores_when_a_scheme_version_lists_it():
    community = {**PROBATION.tier_points["community"], "A3S": 40}
    scheme = PROBATION.model_copy(
        update={"version": 2, "tier_points": {**PROBATION.tier_points, "community": community}}
    )

    assert case_points(scheme, CaseProfile("community", tier="A3S")) == 40
    assert case_points(scheme, CaseProfile("licence", tier="A3S")) == 0


@pytest.mark.parametrize("case_type", ["community", "custody", "licence"])
def test_an_untiered_case_scores_zero(case_type: str):
    assert case_points(PROBATION, CaseProfile(case_type, tier=None)) == 0


@pytest.mark.parametrize(
    ("case_type", "tier", "points"),
    [("community", "C1", 23), ("licence", "A3", 75), ("custody", "B1", 47), ("licence", "A1", 59)],
)
def test_a_t2a_case_is_weighted_by_the_t2a_table_whatever_its_case_type(
    case_type: str, tier: str, points: int
):
    assert case_points(PROBATION, CaseProfile(case_type, tier=tier, t2a=True)) == points


def test_court_reports_score_per_report():
    assert case_points(PROBATION, CaseProfile("standard-court-report")) == 138
    assert case_points(PROBATION, CaseProfile("fast-court-report")) == 65


@pytest.mark.parametrize("tier", ["E9", "A4", "c1", "A3X", "", "UNTIERED"])
def test_an_unknown_tier_is_refused_naming_the_tier(tier: str):
    with pytest.raises(InvalidValue) as refused:
        case_points(PROBATION, CaseProfile("community", tier=tier))

    assert refused.value.field == "tier"
    assert "unknown tier" in refused.value.reason


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        (CaseProfile("parole"), "case_type"),
        (CaseProfile("standard-court-report", tier="C1"), "tier"),
        (CaseProfile("fast-court-report", t2a=True), "t2a"),
        (CaseProfile("community", tier="C1", stage="section-7-report"), "stage"),
    ],
)
def test_a_probation_case_that_cannot_be_weighed_is_refused(profile: CaseProfile, field: str):
    with pytest.raises(InvalidValue) as refused:
        case_points(PROBATION, profile)

    assert refused.value.field == field


# Cafcass cases.


@pytest.mark.parametrize(
    ("case_type", "stage", "points"),
    [
        ("private-law", "section-7-report", 150),
        ("private-law", "rule-16-4-guardian", 180),
        ("public-law", "guardian-ongoing", 120),
        ("adoption", "reporting-officer", 60),
    ],
)
def test_a_cafcass_case_weighs_its_estimated_minutes_a_week(
    case_type: str, stage: str, points: int
):
    assert case_points(CAFCASS, CaseProfile(case_type, stage=stage)) == points


@pytest.mark.parametrize(
    ("profile", "field"),
    [
        (CaseProfile("divorce", stage="section-7-report"), "case_type"),
        (CaseProfile("private-law", stage="guardian-ongoing"), "stage"),
        (CaseProfile("private-law"), "stage"),
        (CaseProfile("private-law", tier="C1", stage="section-7-report"), "tier"),
        (CaseProfile("private-law", t2a=True, stage="section-7-report"), "t2a"),
    ],
)
def test_a_cafcass_case_that_cannot_be_weighed_is_refused(profile: CaseProfile, field: str):
    with pytest.raises(InvalidValue) as refused:
        case_points(CAFCASS, profile)

    assert refused.value.field == field


@pytest.mark.parametrize(
    ("hours", "points"),
    [("2.5", 150), ("0.01", 1), ("0.02", 1), ("0.03", 2), ("1.99", 119), ("0", 0)],
)
def test_estimated_hours_become_whole_minutes_rounded_half_up(hours: str, points: int):
    assert hours_to_points(Decimal(hours)) == points


def test_every_cafcass_default_stage_has_a_weight_and_every_grade_casework_time():
    assert all(stages for stages in CAFCASS.weekly_hours.values())
    assert all(
        Decimal(0) < hours <= Decimal(10)
        for stages in CAFCASS.weekly_hours.values()
        for hours in stages.values()
    )
    assert CAFCASS.grades["FCA"].nominal_target_points == 37 * 60 * 85 // 100
    assert CAFCASS.grades["SENIOR_FCA"].nominal_target_points == 37 * 60 * 70 // 100


# Grades and reasons.


def test_an_unknown_grade_is_refused_naming_the_grade():
    with pytest.raises(InvalidValue) as refused:
        grade_allowance(PROBATION, "FCA")

    assert refused.value.field == "grade"
    assert "PQiP" in refused.value.reason


def test_a_practitioners_scheme_is_found_by_their_grade():
    assert scheme_for_grade([PROBATION, CAFCASS], "SENIOR_FCA") is CAFCASS
    assert scheme_for_grade([PROBATION, CAFCASS], "PSO") is PROBATION
    with pytest.raises(InvalidValue):
        scheme_for_grade([PROBATION, CAFCASS], "JUDGE")


def test_probation_reductions_take_only_the_schemes_reasons_and_cafcass_any():
    found = reduction_reason(PROBATION, "Trade Union Facility Time")
    assert found is not None
    assert found.max_percent == 50
    assert reduction_reason(CAFCASS, "Phased return after surgery") is None
    with pytest.raises(InvalidValue) as refused:
        reduction_reason(PROBATION, "Feeling tired")
    assert refused.value.field == "reason"


# The scheme aggregate.


def test_a_first_scheme_version_is_recorded_whole():
    events = WEIGHTING_SCHEME.run(
        ChangeWeightingScheme(PROBATION, changed_by="system:bootstrap", reason="WMT defaults")
    )

    assert events == [
        WeightingSchemeChanged(
            scheme=PROBATION, changed_by="system:bootstrap", reason="WMT defaults"
        )
    ]


def test_the_next_scheme_version_must_follow_the_one_in_force():
    given = [WeightingSchemeChanged(scheme=PROBATION, changed_by="system:bootstrap", reason=None)]
    next_version = PROBATION.model_copy(update={"version": 2})

    assert WEIGHTING_SCHEME.run(ChangeWeightingScheme(next_version, "P-0300"), given)
    for stale in (1, 3):
        with pytest.raises(StaleSchemeVersion) as refused:
            WEIGHTING_SCHEME.run(
                ChangeWeightingScheme(PROBATION.model_copy(update={"version": stale}), "P-0300"),
                given,
            )
        assert refused.value.field == "scheme.version"
        assert refused.value.status == 409


def test_a_schemes_stream_keeps_its_kind():
    given = [WeightingSchemeChanged(scheme=PROBATION, changed_by="system:bootstrap", reason=None)]
    cafcass = CAFCASS.model_copy(update={"version": 2})

    with pytest.raises(InvalidValue) as refused:
        WEIGHTING_SCHEME.run(ChangeWeightingScheme(cafcass, "P-0300"), given)

    assert refused.value.field == "scheme.kind"


def test_a_probation_scheme_must_weigh_every_case_type():
    incomplete = PROBATION.model_copy(update={"tier_points": {"community": {"C1": 50}}})

    with pytest.raises(InvalidValue) as refused:
        WEIGHTING_SCHEME.run(ChangeWeightingScheme(incomplete, "P-0300"))

    assert refused.value.field == "scheme.tier_points"


def test_the_scheme_in_force_is_the_last_one_recorded():
    second = CAFCASS.model_copy(update={"version": 2})
    given = [
        WeightingSchemeChanged(scheme=CAFCASS, changed_by="system:bootstrap", reason=None),
        WeightingSchemeChanged(scheme=second, changed_by="P-0300", reason=None),
    ]

    assert WEIGHTING_SCHEME.fold(given) == second


@pytest.mark.parametrize("scheme", [PROBATION, CAFCASS], ids=["probation", "cafcass"])
def test_a_whole_scheme_survives_the_round_trip_through_the_store(scheme: Any):
    event = WeightingSchemeChanged(scheme=scheme, changed_by="system:bootstrap", reason=None)
    stored = json.loads(json.dumps(event.model_dump(mode="json")))

    assert CATALOGUE.decode("weighting-scheme-changed", 1, stored) == event
