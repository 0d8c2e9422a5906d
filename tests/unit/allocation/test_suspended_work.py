"""Suspended work on a case: given events, when a workload agreement's command, then events."""

from collections.abc import Sequence
from typing import Any

import pytest
from plimsoll_allocation.domain import (
    CASE,
    DEFAULT_POLICY,
    DEFAULT_PROBATION_SCHEME,
    CaseCommand,
    ChangeTier,
    CloseCase,
    InvalidValue,
    KnownRegion,
    NotFound,
    OverrideReasonRequired,
    ReallocateCase,
    ResumeCaseWork,
    ReweighCase,
    SuspendCaseWork,
    Suspension,
)
from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.types.allocation import (
    CaseClosed,
    CaseReallocated,
    CaseWeightingChanged,
)

from .given import MANAGER, REGION, TODAY, allocated, facts, opened

PROBATION = DEFAULT_PROBATION_SCHEME
AGREEMENT = "A-7d2c41e0b9aa"


def _then(given: Sequence[EventData], command: CaseCommand) -> list[EventData]:
    return CASE.run(command, given)


def _suspend(**overrides: Any) -> SuspendCaseWork:
    return SuspendCaseWork(
        **{"case_id": "X777519", "agreement_id": AGREEMENT, "practitioner_id": "P-0001"} | overrides
    )


def _weighed(points: int, previous: int, cause: str, **overrides: Any) -> CaseWeightingChanged:
    fields: dict[str, Any] = {
        "case_id": "X777519",
        "practitioner_id": "P-0001",
        "case_type": "community",
        "tier": "C1",
        "t2a": False,
        "stage": None,
        "points": points,
        "previous_points": previous,
        "scheme_name": "wmt",
        "scheme_version": 1,
        "cause": cause,
        "agreement_id": AGREEMENT,
        **overrides,
    }
    return CaseWeightingChanged(**fields)


SUSPENDED = [opened(), allocated(), _weighed(0, 50, "work-suspended")]


def test_suspending_work_weighs_the_case_at_nothing_citing_the_agreement():
    events = _then([opened(), allocated()], _suspend())

    assert events == [_weighed(0, 50, "work-suspended")]
    assert CASE.fold([opened(), allocated(), *events]).suspended_by == Suspension(
        AGREEMENT, "suspended"
    )


def test_work_marked_not_to_be_done_is_its_own_cause():
    events = _then([opened(), allocated()], _suspend(kind="not-to-be-done"))

    assert events == [_weighed(0, 50, "work-not-to-be-done")]


def test_a_suspension_redelivered_or_of_another_agreement_records_nothing():
    assert _then(SUSPENDED, _suspend()) == []
    assert _then(SUSPENDED, _suspend(agreement_id="A-OTHER")) == []


def test_a_suspension_of_a_case_closed_or_held_by_someone_else_records_nothing():
    closed = CaseClosed(
        case_id="X777519", practitioner_id="P-0001", team_id="T-NORTH-1", points=50, closed_on=TODAY
    )

    assert _then([opened(), allocated(), closed], _suspend()) == []
    assert _then([opened(), allocated("P-0002")], _suspend()) == []
    assert _then([opened()], _suspend()) == []  # nobody holds it


def test_a_suspension_of_a_case_never_opened_is_refused():
    with pytest.raises(NotFound):
        _then([], _suspend())


def test_a_suspension_needs_an_agreement_id_a_store_can_hold():
    with pytest.raises(InvalidValue) as refused:
        _then([opened(), allocated()], _suspend(agreement_id="A 1\x00"))

    assert refused.value.field == "agreement_id"


def test_resuming_weighs_the_case_again_under_the_scheme_in_force():
    events = _then(SUSPENDED, ResumeCaseWork("X777519", AGREEMENT, PROBATION))

    assert events == [_weighed(50, 0, "work-resumed")]
    assert CASE.fold([*SUSPENDED, *events]).suspended_by is None


def test_resuming_under_a_newer_scheme_records_its_points_and_version():
    newer = PROBATION.model_copy(
        update={
            "version": 2,
            "tier_points": {**PROBATION.tier_points, "community": {"C1": 60}},
        }
    )

    events = _then(SUSPENDED, ResumeCaseWork("X777519", AGREEMENT, newer))

    assert events == [_weighed(60, 0, "work-resumed", scheme_version=2)]


def test_only_the_agreement_that_suspended_a_case_resumes_it():
    assert _then(SUSPENDED, ResumeCaseWork("X777519", "A-OTHER", PROBATION)) == []
    assert _then([opened(), allocated()], ResumeCaseWork("X777519", AGREEMENT, PROBATION)) == []


def test_a_resumption_redelivered_records_nothing():
    resumed = [*SUSPENDED, _weighed(50, 0, "work-resumed")]

    assert _then(resumed, ResumeCaseWork("X777519", AGREEMENT, PROBATION)) == []


def test_a_tier_change_while_suspended_keeps_the_points_at_nothing():
    events = _then(SUSPENDED, ChangeTier("X777519", "A3", PROBATION))

    assert events == [_weighed(0, 0, "tier-changed", tier="A3", agreement_id=None)]
    state = CASE.fold([*SUSPENDED, *events])
    assert (state.points, state.suspended_by) == (0, Suspension(AGREEMENT, "suspended"))
    # ...and a resumption weighs the new tier.
    resumed = _then([*SUSPENDED, *events], ResumeCaseWork("X777519", AGREEMENT, PROBATION))
    assert resumed == [_weighed(206, 0, "work-resumed", tier="A3")]


def test_a_new_scheme_version_leaves_a_suspended_case_at_nothing():
    newer = PROBATION.model_copy(
        update={"version": 2, "tier_points": {**PROBATION.tier_points, "community": {"C1": 60}}}
    )

    assert _then(SUSPENDED, ReweighCase("X777519", newer)) == []


def _reallocation(**overrides: Any) -> ReallocateCase:
    fields: dict[str, Any] = {
        "case_id": "X777519",
        "practitioner_id": "P-0002",
        "practitioner": facts(practitioner_id="P-0002"),
        "actor": MANAGER,
        "reason": "CASELOAD_ADJUSTMENT",
        "policy": DEFAULT_POLICY,
        "case_region": KnownRegion(REGION),
        "scheme": PROBATION,
        **overrides,
    }
    return ReallocateCase(**fields)


def test_a_reallocation_ends_the_suspension_and_moves_the_case_at_full_points():
    [event] = _then(SUSPENDED, _reallocation())

    assert isinstance(event, CaseReallocated)
    assert (event.from_practitioner_id, event.practitioner_id, event.points) == (
        "P-0001",
        "P-0002",
        50,
    )
    state = CASE.fold([*SUSPENDED, event])
    assert (state.points, state.suspended_by) == (50, None)


def test_a_suspended_case_reallocated_above_the_threshold_needs_a_reason_for_its_full_points():
    nearly_full = facts(practitioner_id="P-0002", total_points=2150)

    with pytest.raises(OverrideReasonRequired):
        _then(SUSPENDED, _reallocation(practitioner=nearly_full))


def test_closing_a_suspended_case_takes_nothing_more_off():
    [event] = _then(SUSPENDED, CloseCase("X777519", TODAY))

    assert isinstance(event, CaseClosed)
    assert event.points == 0


def test_a_v1_weighting_change_is_read_as_one_without_an_agreement():
    v1 = {
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
    }

    decoded = CATALOGUE.decode("case-weighting-changed", 1, v1)

    assert decoded == CaseWeightingChanged(**v1, agreement_id=None)
