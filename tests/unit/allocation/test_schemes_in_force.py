"""The schemes in force, served from their streams, and which cases a new version may re-weigh."""

from datetime import date
from uuid import uuid4

from plimsoll_allocation.domain import (
    DEFAULT_CAFCASS_SCHEME,
    DEFAULT_PROBATION_SCHEME,
    WEIGHTING_SCHEME,
    ChangeWeightingScheme,
    scheme_stream,
)
from plimsoll_allocation.queries import CaseRow
from plimsoll_allocation.schemes import SchemesInForce, may_weigh_differently, weighs
from plimsoll_events.handling import execute
from plimsoll_events.records import Metadata

from unit.memory_store import MemoryStore

METADATA = Metadata(actor="hana.head", correlation_id=uuid4())


def _with_c1(points: int, version: int):
    tiers = {**DEFAULT_PROBATION_SCHEME.tier_points["community"], "C1": points}
    return DEFAULT_PROBATION_SCHEME.model_copy(
        update={
            "version": version,
            "tier_points": {**DEFAULT_PROBATION_SCHEME.tier_points, "community": tiers},
        }
    )


def _row(case_type: str, tier: str | None, points: int, stage: str | None = None) -> CaseRow:
    return CaseRow(
        case_id="X1",
        team_id="T",
        practitioner_id=None,
        case_type=case_type,
        tier=tier,
        stage=stage,
        points=points,
        open=True,
        opened_on=date(2025, 1, 1),
        closed_on=None,
    )


def test_the_defaults_are_in_force_until_a_change_is_recorded():
    store = MemoryStore()
    schemes = SchemesInForce(store)
    assert schemes.current() == (DEFAULT_PROBATION_SCHEME, DEFAULT_CAFCASS_SCHEME)
    assert schemes.in_force("probation") == (DEFAULT_PROBATION_SCHEME, 0)

    version_2 = _with_c1(60, 2)
    command = ChangeWeightingScheme(scheme=version_2, changed_by="hana.head")
    execute(store, WEIGHTING_SCHEME, scheme_stream("probation"), command, METADATA)
    assert schemes.in_force("probation") == (version_2, 1)
    assert schemes.current()[0].tier_points["community"]["C1"] == 60
    assert schemes.in_force("cafcass") == (DEFAULT_CAFCASS_SCHEME, 0)


def test_a_new_version_may_reweigh_only_cases_it_weighs_otherwise():
    version_2 = _with_c1(60, 2)
    version_1 = DEFAULT_PROBATION_SCHEME
    assert may_weigh_differently(version_1, version_2, _row("community", "C1", 50))
    assert not may_weigh_differently(version_1, version_2, _row("licence", "A1", 163))
    # A T2A C1 case (23 points) keeps its points: the T2A table did not change.
    assert not may_weigh_differently(version_1, version_2, _row("community", "C1", 23))
    # Points neither weighting explains: weighed under an older version, so a candidate.
    assert may_weigh_differently(version_1, version_2, _row("community", "C1", 99))
    row = _row("standard-court-report", None, 138)
    assert not may_weigh_differently(version_1, version_2, row)


def test_each_kind_weighs_its_own_case_types():
    assert weighs(DEFAULT_PROBATION_SCHEME, "community")
    assert weighs(DEFAULT_PROBATION_SCHEME, "fast-court-report")
    assert not weighs(DEFAULT_PROBATION_SCHEME, "private-law")
    assert weighs(DEFAULT_CAFCASS_SCHEME, "public-law")
    assert not weighs(DEFAULT_CAFCASS_SCHEME, "licence")
