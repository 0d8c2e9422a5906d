"""Capacity exactly as WMT computes it, with the issue's worked example."""

from decimal import Decimal

import pytest
from plimsoll_allocation.domain import (
    DEFAULT_CAFCASS_SCHEME,
    DEFAULT_PROBATION_SCHEME,
    PRACTITIONER,
    CaseProfile,
    ImpactPreview,
    Workload,
    available_points,
    available_points_of,
    capacity_percent,
    case_points,
    impact_preview,
    pooled,
    reduction_hours_from_percent,
)
from plimsoll_events.types.allocation import ReductionStarted

from .given import TODAY, registered


def _available(hours: str, reduction: str = "0", grade: str = "PO") -> int:
    allowance = DEFAULT_PROBATION_SCHEME.grades[grade]
    return available_points(
        nominal_target_points=allowance.nominal_target_points,
        contracted_hours=Decimal(hours),
        reduction_hours=Decimal(reduction),
        default_contracted_hours=allowance.default_contracted_hours,
    )


def test_worked_example_37_hour_po_with_10_community_c1_and_5_licence_a1_is_60_4_percent():
    practitioner = PRACTITIONER.fold([registered(grade="PO", contracted_hours=Decimal(37))])
    assert practitioner is not None
    c1 = case_points(DEFAULT_PROBATION_SCHEME, CaseProfile("community", tier="C1"))
    a1 = case_points(DEFAULT_PROBATION_SCHEME, CaseProfile("licence", tier="A1"))

    available = available_points_of(practitioner, DEFAULT_PROBATION_SCHEME)
    total = 10 * c1 + 5 * a1

    assert (c1, a1) == (50, 163)
    assert available == 2176
    assert total == 1315
    assert capacity_percent(total, available) == Decimal("60.4")


@pytest.mark.parametrize(
    ("hours", "reduction", "points"),
    [
        ("37", "0", 2176),
        ("18.5", "0", 1088),
        ("22.5", "0", 1323),  # 1323.24... truncated
        ("37.5", "0", 2205),  # 2205.40... truncated
        ("37", "7.4", 1740),  # 2176 * 29.6 / 37 = 1740.8, truncated
        ("37", "37", 0),
        ("30", "37", 0),
        ("0", "0", 0),
    ],
)
def test_available_points_scale_the_nominal_target_by_available_hours_and_truncate(
    hours: str, reduction: str, points: int
):
    assert _available(hours, reduction) == points


def test_a_grade_with_no_default_hours_has_no_available_points():
    assert _available("37", grade="SPO") == 0


def test_truncation_is_exact_where_a_rounded_decimal_quotient_would_fall_short():
    # 3 * (1 / 3) in 28-digit decimals is 0.999...9, which truncates to 0; exactly, it is 1.
    assert (
        available_points(
            nominal_target_points=3,
            contracted_hours=Decimal(1),
            reduction_hours=Decimal(0),
            default_contracted_hours=Decimal(3),
        )
        == 1
    )


@pytest.mark.parametrize(
    ("total", "available", "percent"),
    [
        (1315, 2176, "60.4"),
        (1209, 2000, "60.5"),  # 0.6045 exactly: half up, not to even
        (1208, 2000, "60.4"),
        (2400, 2176, "110.3"),
        (2176, 2176, "100.0"),
        (0, 2176, "0.0"),
        (500, 0, "0.0"),
        (1, 3000, "0.0"),  # 0.000333 rounds to 0.000
        (2, 3000, "0.1"),  # 0.000667 rounds to 0.001
    ],
)
def test_capacity_rounds_half_up_to_three_places_then_shows_a_percent(
    total: int, available: int, percent: str
):
    result = capacity_percent(total, available)

    assert result == Decimal(percent)
    assert str(result) == percent


def test_team_capacity_is_total_points_over_total_available_points_not_a_mean():
    part_timer = Workload(total_points=1632, available_points=1088)  # 150.0%
    full_timer = Workload(total_points=1088, available_points=2176)  # 50.0%

    assert part_timer.capacity_percent == Decimal("150.0")
    assert full_timer.capacity_percent == Decimal("50.0")
    assert pooled([part_timer, full_timer]).capacity_percent == Decimal("83.3")  # 2720 / 3264


def test_region_capacity_counts_the_points_of_members_with_no_available_points():
    spo = Workload(total_points=200, available_points=0)
    po = Workload(total_points=1000, available_points=2176)

    assert spo.capacity_percent == Decimal("0.0")
    assert pooled([spo, po]).capacity_percent == Decimal("55.1")  # 1200 / 2176 = 0.5514...
    assert pooled([]).capacity_percent == Decimal("0.0")


@pytest.mark.parametrize(
    ("contracted", "percent", "hours"),
    [
        ("37", "20", "7.40"),
        ("37", "12.5", "4.63"),  # 4.625: half up
        ("37.5", "33.33", "12.50"),  # 12.49875
        ("22.5", "5", "1.13"),  # 1.125: half up
        ("37", "100", "37.00"),
        ("37", "150", "37"),  # never more than the contracted hours
    ],
)
def test_reduction_hours_from_a_percent_round_half_up_to_hundredths(
    contracted: str, percent: str, hours: str
):
    assert reduction_hours_from_percent(Decimal(contracted), Decimal(percent)) == Decimal(hours)


def test_a_reason_with_no_percent_takes_all_the_contracted_hours():
    assert reduction_hours_from_percent(Decimal("37.5"), None) == Decimal("37.5")


def test_active_reductions_come_off_the_available_points():
    practitioner = PRACTITIONER.fold(
        [
            registered(),
            ReductionStarted(
                practitioner_id="P-0001",
                reduction_id="R-1",
                reason="Trade Union Facility Time",
                hours=Decimal("7.4"),
                percent=Decimal(20),
                effective_from=TODAY,
                effective_to=None,
            ),
        ]
    )
    assert practitioner is not None

    assert available_points_of(practitioner, DEFAULT_PROBATION_SCHEME) == 1740


def test_impact_preview_gives_capacity_now_and_after_the_case():
    preview = impact_preview(total_points=2100, available_points=2176, case_points=163)

    assert preview == ImpactPreview(
        available_points=2176,
        case_points=163,
        points_before=2100,
        points_after=2263,
        capacity_before_percent=Decimal("96.5"),
        capacity_after_percent=Decimal("104.0"),
    )


def test_cafcass_capacity_is_estimated_case_hours_over_casework_hours():
    scheme = DEFAULT_CAFCASS_SCHEME
    fca = scheme.grades["FCA"]
    section_7 = case_points(scheme, CaseProfile("private-law", stage="section-7-report"))
    guardian = case_points(scheme, CaseProfile("public-law", stage="guardian-ongoing"))
    workload = 6 * section_7 + 4 * guardian  # 6 x 2.5 h + 4 x 2 h = 23 h a week

    full_time = available_points(
        nominal_target_points=fca.nominal_target_points,
        contracted_hours=Decimal(37),
        reduction_hours=Decimal(0),
        default_contracted_hours=fca.default_contracted_hours,
    )
    half_time = available_points(
        nominal_target_points=fca.nominal_target_points,
        contracted_hours=Decimal("18.5"),
        reduction_hours=Decimal(0),
        default_contracted_hours=fca.default_contracted_hours,
    )

    assert workload == 23 * 60
    assert full_time == 1887  # 85% of 37 hours, in minutes
    assert capacity_percent(workload, full_time) == Decimal("73.1")  # 23 h of 31.45 h
    assert half_time == 943
    assert capacity_percent(workload, half_time) == Decimal("146.3")
