"""Capacity exactly as HMPPS's Workload Measurement Tool (WMT) computes it.

The figures must match what staff already see, so the arithmetic is WMT's,
step by step, with its truncations and roundings, and exact: inputs and
outputs are `Decimal`, and the divisions are done on exact rationals or
integers, so no result ever depends on a binary float or on where a decimal
context cut a quotient short.

    available_points   = trunc(nominal_target * (contracted_hours - reduction_hours)
                               / default_contracted_hours)
                         0 when the grade's default hours are 0 or the available hours <= 0
    capacity_percent   = round_half_up(total_points / available_points, 3 dp) * 100
                         0 when either is 0
    team or region     = Σ total_points / Σ available_points, rounded the same way
                         (not the mean of the members' percentages)
    reduction hours    = min(round_half_up(contracted_hours * percent / 100, 2 dp),
                             contracted_hours); no percent means all contracted hours

Worked example (a unit test): a 37-hour PO with no reductions has
trunc(2176 * 37 / 37) = 2176 available points; 10 community C1 cases (50 points
each) and 5 licence A1 cases (163 each) are 1315 points; 1315 / 2176 =
0.60431..., rounded half up to 0.604, is 60.4%.

The same arithmetic serves Cafcass schemes, whose points are estimated minutes
of work a week: see `weighting`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Final

from plimsoll_events import refusals as check

_HUNDREDTH = Decimal("0.01")

MAX_CONTRACTED_HOURS: Final = Decimal("37.5")
"""Contracted hours are from 0 to 37.5 a week (WMT's valid range)."""


def hours_a_week(value: Decimal, field: str) -> Decimal:
    """Hours a week from 0 to 37.5, at most 2 decimal places; `InvalidValue` otherwise."""
    return check.decimal(value, field, low=Decimal(0), high=MAX_CONTRACTED_HOURS, unit="hours")


def available_points(
    *,
    nominal_target_points: int,
    contracted_hours: Decimal,
    reduction_hours: Decimal,
    default_contracted_hours: Decimal,
) -> int:
    """The points a practitioner can carry at 100%, after their active reductions.

    `trunc(nominal_target * (contracted - reductions) / default_hours)`, computed
    exactly; 0 when the grade has no default hours (an SPO in WMT's seed) or the
    reductions take all the contracted hours or more.
    """
    hours = contracted_hours - reduction_hours
    if default_contracted_hours <= 0 or hours <= 0:
        return 0
    return int(
        Fraction(nominal_target_points) * Fraction(hours) / Fraction(default_contracted_hours)
    )


def capacity_percent(total_points: int, available_points: int) -> Decimal:
    """Workload as a percent of available points, to one decimal place, as WMT shows it.

    `round_half_up(total / available, 3 dp) * 100`; 0 when either is 0 (WMT's
    rule: someone with no available points shows 0%, however much they carry).
    Returns e.g. `Decimal("60.4")`.
    """
    if total_points <= 0 or available_points <= 0:
        return Decimal("0.0")
    # round_half_up(total / available * 1000), in integers:
    # floor((2 * 1000 * total + available) / (2 * available)).
    per_mille = (2000 * total_points + available_points) // (2 * available_points)
    return Decimal(per_mille).scaleb(-1)


@dataclass(frozen=True)
class Workload:
    """One practitioner's workload points and available points."""

    total_points: int
    available_points: int

    @property
    def capacity_percent(self) -> Decimal:
        """Their capacity, as `capacity_percent` computes it."""
        return capacity_percent(self.total_points, self.available_points)


def pooled(workloads: Iterable[Workload]) -> Workload:
    """A team's or region's workload: Σ points and Σ available points of its members.

    Its capacity is therefore Σ / Σ, rounded as for one person, and deliberately
    not the mean of the members' percentages: a part-timer at 150% and a
    full-timer at 50% are not a team at 100% unless their points say so.
    Members with no available points add their points and nothing to capacity.
    """
    total = 0
    available = 0
    for workload in workloads:
        total += workload.total_points
        available += workload.available_points
    return Workload(total, available)


def reduction_hours_from_percent(contracted_hours: Decimal, percent: Decimal | None) -> Decimal:
    """The hours a week a percent reduction takes off, as WMT works them out.

    `min(round_half_up(contracted * percent / 100, 2 dp), contracted)`: never more
    than the contracted hours. No percent (a reason without an allowance) means
    all the contracted hours. Half a hundredth rounds up: 37 h * 12.5% = 4.625
    gives 4.63.
    """
    if percent is None:
        return contracted_hours
    hours = (contracted_hours * percent / 100).quantize(_HUNDREDTH, rounding=ROUND_HALF_UP)
    return min(hours, contracted_hours)


@dataclass(frozen=True)
class ImpactPreview:
    """A practitioner's capacity now and after taking on a case of `case_points`."""

    available_points: int
    case_points: int
    points_before: int
    points_after: int
    capacity_before_percent: Decimal
    capacity_after_percent: Decimal


def impact_preview(*, total_points: int, available_points: int, case_points: int) -> ImpactPreview:
    """What allocating a case would do to a practitioner's capacity, before anyone decides."""
    after = total_points + case_points
    return ImpactPreview(
        available_points=available_points,
        case_points=case_points,
        points_before=total_points,
        points_after=after,
        capacity_before_percent=capacity_percent(total_points, available_points),
        capacity_after_percent=capacity_percent(after, available_points),
    )
