"""The case aggregate and the allocation rules: given events, when a command, then events."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from plimsoll_allocation.domain import (
    CASE,
    DEFAULT_CAFCASS_SCHEME,
    DEFAULT_POLICY,
    DEFAULT_PROBATION_SCHEME,
    PRACTITIONER,
    Actor,
    AllocateCase,
    AllocationPolicy,
    AlreadyAllocated,
    AlreadyExists,
    CaseCommand,
    CaseIsClosed,
    CaseProfile,
    ChangeStage,
    ChangeTier,
    CloseCase,
    Conflict,
    HeadOfServiceRequired,
    InvalidValue,
    KnownRegion,
    NotAllocated,
    NotFound,
    NotPermitted,
    OpenCase,
    OutsideScope,
    OverrideReasonRequired,
    PractitionerFacts,
    PractitionerFullyReduced,
    PractitionerHasLeft,
    ReallocateCase,
    Refused,
    ReweighCase,
    StaleSchemeVersion,
    assess_allocation,
)
from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.records import Metadata
from plimsoll_events.types.allocation import (
    AllocationOverrideRecorded,
    CaseAllocated,
    CaseClosed,
    CaseOpened,
    CaseReallocated,
    CaseWeightingChanged,
    ReductionStarted,
)

from .given import (
    HEAD_OF_SERVICE,
    MANAGER,
    PRACTITIONER_ACTOR,
    REGION,
    TEAM,
    TODAY,
    allocated,
    facts,
    opened,
    registered,
)

PROBATION = DEFAULT_PROBATION_SCHEME
CAFCASS = DEFAULT_CAFCASS_SCHEME
DAY = timedelta(days=1)
REASON = "Only PO with sex-offender training; two cases close this month."


def _allocate(**overrides: Any) -> AllocateCase:
    fields: dict[str, Any] = {
        "case_id": "X777519",
        "practitioner_id": "P-0001",
        "practitioner": facts(),
        "actor": MANAGER,
        "policy": DEFAULT_POLICY,
        "case_region": KnownRegion(REGION),
        **overrides,
    }
    fields["practitioner_id"] = fields["practitioner"].practitioner_id
    return AllocateCase(**fields)


def _reallocate(**overrides: Any) -> ReallocateCase:
    fields: dict[str, Any] = {
        "case_id": "X777519",
        "practitioner": facts(practitioner_id="P-0002"),
        "actor": MANAGER,
        "reason": "CASELOAD_ADJUSTMENT",
        "policy": DEFAULT_POLICY,
        "case_region": KnownRegion(REGION),
        **overrides,
    }
    fields["practitioner_id"] = fields["practitioner"].practitioner_id
    return ReallocateCase(**fields)


def _then(given: Sequence[EventData], command: CaseCommand) -> list[EventData]:
    return CASE.run(command, given)


# Opening.


def test_opening_a_case_weighs_it_with_the_scheme_in_force():
    events = CASE.run(
        OpenCase("X777519", TEAM, CaseProfile("community", tier="C1"), PROBATION, TODAY)
    )

    assert events == [opened()]


def test_opening_a_cafcass_case_weighs_its_stage():
    [event] = CASE.run(
        OpenCase("CF-1", TEAM, CaseProfile("private-law", stage="section-7-report"), CAFCASS, TODAY)
    )

    assert isinstance(event, CaseOpened)
    assert (event.points, event.stage, event.tier, event.scheme_name) == (
        150,
        "section-7-report",
        None,
        "cafcass-hours",
    )


def test_opening_a_case_with_an_unknown_tier_is_refused_naming_the_tier():
    with pytest.raises(InvalidValue) as refused:
        CASE.run(OpenCase("X1", TEAM, CaseProfile("community", tier="E9"), PROBATION, TODAY))

    assert refused.value.field == "tier"
    assert refused.value.status == 422


def test_opening_a_case_twice_is_refused():
    with pytest.raises(AlreadyExists) as refused:
        _then(
            [opened()],
            OpenCase("X777519", TEAM, CaseProfile("community", tier="C1"), PROBATION, TODAY),
        )

    assert refused.value.field == "case_id"


# Allocating within capacity.


def test_allocation_within_capacity_records_the_allocation_only():
    events = _then([opened()], _allocate())

    assert events == [allocated()]


def test_allocation_records_the_case_in_the_practitioners_team():
    head = replace(HEAD_OF_SERVICE, team_id=None)

    [event] = _then([opened()], _allocate(practitioner=facts(team_id="T-NORTH-2"), actor=head))

    assert isinstance(event, CaseAllocated)
    assert event.team_id == "T-NORTH-2"


def test_allocation_to_exactly_the_threshold_needs_no_reason():
    events = _then([opened()], _allocate(practitioner=facts(total_points=2126)))  # 100.0%

    assert events == [allocated()]


def test_an_unknown_allocation_reason_is_refused():
    with pytest.raises(InvalidValue) as refused:
        _then([opened()], _allocate(reason="BECAUSE"))

    assert refused.value.field == "reason"


# Who may not be given a case.


def test_allocation_to_someone_who_has_left_is_refused():
    with pytest.raises(PractitionerHasLeft) as refused:
        _then([opened()], _allocate(practitioner=facts(has_left=True)))

    assert refused.value.field == "practitioner_id"
    assert refused.value.status == 409


def test_allocation_to_someone_on_a_full_reduction_is_refused():
    practitioner = PRACTITIONER.fold(
        [
            registered(),
            ReductionStarted(
                practitioner_id="P-0001",
                reduction_id="R-1",
                reason="Maternity Leave",
                hours=Decimal(37),
                percent=Decimal(100),
                effective_from=TODAY,
                effective_to=None,
            ),
        ]
    )
    assert practitioner is not None
    target = PractitionerFacts.of(practitioner, PROBATION, total_points=0)

    with pytest.raises(PractitionerFullyReduced) as refused:
        _then([opened()], _allocate(practitioner=target, override_reason=REASON))

    assert target.available_points == 0
    assert refused.value.field == "practitioner_id"


def test_a_case_allocated_twice_is_refused():
    with pytest.raises(AlreadyAllocated) as refused:
        _then([opened(), allocated()], _allocate(practitioner=facts(practitioner_id="P-0002")))

    assert refused.value.field == "case_id"
    assert refused.value.status == 409
    assert "reallocate" in refused.value.reason


# Above the override threshold.


def test_allocation_above_the_threshold_needs_a_written_reason():
    with pytest.raises(OverrideReasonRequired) as refused:
        _then([opened()], _allocate(practitioner=facts(total_points=2150)))

    assert refused.value.field == "override_reason"
    assert refused.value.status == 422
    assert "98.8% to 101.1%" in refused.value.reason
    assert "reason is needed" in refused.value.reason


def test_a_blank_override_reason_is_no_reason():
    with pytest.raises(InvalidValue) as refused:
        _then([opened()], _allocate(practitioner=facts(total_points=2150), override_reason=" "))

    assert refused.value.field == "override_reason"


def test_allocation_above_the_threshold_with_a_reason_records_the_override():
    given = [opened(case_type="licence", tier="A1", points=163)]

    events = _then(given, _allocate(practitioner=facts(total_points=2100), override_reason=REASON))

    assert events == [
        allocated(tier="A1", case_type="licence", points=163),
        AllocationOverrideRecorded(
            practitioner_id="P-0001",
            case_id="X777519",
            team_id=TEAM,
            action="allocate",
            case_points=163,
            points_before=2100,
            points_after=2263,
            available_points=2176,
            capacity_before_percent=Decimal("96.5"),
            capacity_after_percent=Decimal("104.0"),
            override_threshold_percent=Decimal(100),
            hard_ceiling_percent=Decimal(120),
            exceeded="override-threshold",
            reason=REASON,
            decided_by="P-0100",
            decided_by_role="manager",
        ),
    ]


# Above the hard ceiling.


def test_allocation_above_ceiling_needs_head_of_service():
    with pytest.raises(HeadOfServiceRequired) as refused:
        _then([opened()], _allocate(practitioner=facts(total_points=2600), override_reason=REASON))

    assert refused.value.status == 403
    assert refused.value.field == "practitioner_id"
    assert "121.8%" in refused.value.reason


def test_a_head_of_service_above_the_ceiling_still_needs_a_reason():
    with pytest.raises(OverrideReasonRequired) as refused:
        _then([opened()], _allocate(practitioner=facts(total_points=2600), actor=HEAD_OF_SERVICE))

    assert "hard ceiling of 120%" in refused.value.reason


def test_a_head_of_service_may_allocate_above_the_ceiling_with_a_reason():
    events = _then(
        [opened()],
        _allocate(
            practitioner=facts(total_points=2600), actor=HEAD_OF_SERVICE, override_reason=REASON
        ),
    )

    assert [event.type for event in events] == ["case-allocated", "allocation-override-recorded"]
    override = events[1]
    assert isinstance(override, AllocationOverrideRecorded)
    assert override.exceeded == "hard-ceiling"
    assert override.decided_by == "P-0200"
    assert override.decided_by_role == "head-of-service"
    assert override.capacity_after_percent == Decimal("121.8")


def test_someone_with_no_available_points_counts_as_above_the_ceiling():
    spo = facts(total_points=0, available_points=0)

    with pytest.raises(HeadOfServiceRequired) as refused:
        _then([opened()], _allocate(practitioner=spo, override_reason=REASON))
    events = _then(
        [opened()], _allocate(practitioner=spo, actor=HEAD_OF_SERVICE, override_reason=REASON)
    )

    assert "no available points" in refused.value.reason
    assert isinstance(events[1], AllocationOverrideRecorded)
    assert events[1].exceeded == "hard-ceiling"
    assert events[1].capacity_after_percent == Decimal("0.0")


def test_a_case_of_no_points_to_someone_with_no_available_points_needs_nothing():
    given = [opened(tier="C1S", points=0)]

    events = _then(given, _allocate(practitioner=facts(total_points=0, available_points=0)))

    assert [event.type for event in events] == ["case-allocated"]


def test_the_thresholds_are_policy():
    policy = AllocationPolicy(
        override_threshold_percent=Decimal(90), hard_ceiling_percent=Decimal(110)
    )

    with pytest.raises(OverrideReasonRequired):
        _then([opened()], _allocate(practitioner=facts(total_points=1950), policy=policy))
    with pytest.raises(HeadOfServiceRequired):
        _then(
            [opened()],
            _allocate(practitioner=facts(total_points=2350), policy=policy, override_reason="x"),
        )
    assert AllocationPolicy(Decimal(100), Decimal(120)) == DEFAULT_POLICY


def test_a_threshold_above_the_ceiling_is_not_a_policy():
    with pytest.raises(ValueError, match="at most the ceiling"):
        AllocationPolicy(override_threshold_percent=Decimal(130))


def test_the_impact_preview_says_what_an_allocation_would_need():
    within = assess_allocation(facts(), 50)
    over = assess_allocation(facts(total_points=2150), 50)
    far_over = assess_allocation(facts(total_points=2600), 50)

    assert within.preview.capacity_before_percent == Decimal("46.0")
    assert within.preview.capacity_after_percent == Decimal("48.3")
    assert (within.needs_reason, within.needs_head_of_service) == (False, False)
    assert (over.needs_reason, over.needs_head_of_service) == (True, False)
    assert (far_over.needs_reason, far_over.needs_head_of_service) == (True, True)


# Who may allocate.


def test_managers_allocate_only_within_their_own_team():
    with pytest.raises(OutsideScope) as to_other_team:
        _then([opened()], _allocate(practitioner=facts(team_id="T-SOUTH-1")))
    with pytest.raises(OutsideScope) as case_of_other_team:
        _then([opened(team_id="T-SOUTH-1")], _allocate())

    assert to_other_team.value.field == "practitioner_id"
    assert to_other_team.value.status == 403
    assert case_of_other_team.value.field == "case_id"


def test_a_manager_without_a_team_allocates_nowhere():
    with pytest.raises(OutsideScope):
        _then([opened()], _allocate(actor=replace(MANAGER, team_id=None)))


def test_heads_of_service_allocate_only_within_their_region():
    with pytest.raises(OutsideScope) as refused:
        _then(
            [opened()],
            _allocate(practitioner=facts(region_id="R-SOUTH"), actor=HEAD_OF_SERVICE),
        )

    assert refused.value.field == "practitioner_id"


def test_heads_of_service_allocate_only_cases_held_in_their_region():
    with pytest.raises(OutsideScope) as refused:
        _then([opened()], _allocate(actor=HEAD_OF_SERVICE, case_region=KnownRegion("R-SOUTH")))
    [event] = _then([opened()], _allocate(actor=HEAD_OF_SERVICE, case_region=KnownRegion(REGION)))

    assert refused.value.field == "case_id"
    assert isinstance(event, CaseAllocated)


def test_a_head_of_service_without_a_region_allocates_nowhere():
    with pytest.raises(OutsideScope):
        _then([opened()], _allocate(actor=replace(HEAD_OF_SERVICE, region_id=None)))


def test_practitioners_do_not_allocate():
    with pytest.raises(NotPermitted) as refused:
        _then([opened()], _allocate(actor=PRACTITIONER_ACTOR))

    assert refused.value.status == 403


def test_someone_who_is_both_decides_as_head_of_service():
    both = Actor("P-0200", frozenset({"manager", "head-of-service"}), TEAM, REGION)

    events = _then(
        [opened()],
        _allocate(practitioner=facts(total_points=2600), actor=both, override_reason=REASON),
    )

    assert isinstance(events[1], AllocationOverrideRecorded)
    assert events[1].decided_by_role == "head-of-service"


# Reallocating.


def test_reallocation_moves_the_case_with_its_points_and_reason():
    events = _then([opened(), allocated()], _reallocate())

    assert events == [
        CaseReallocated(
            practitioner_id="P-0002",
            from_practitioner_id="P-0001",
            case_id="X777519",
            team_id=TEAM,
            from_team_id=TEAM,
            tier="C1",
            case_type="community",
            points=50,
            reason="CASELOAD_ADJUSTMENT",
            note=None,
            reallocated_by="P-0100",
        )
    ]


def test_reallocating_a_case_nobody_holds_is_refused():
    with pytest.raises(NotAllocated) as refused:
        _then([opened()], _reallocate())

    assert refused.value.status == 409


def test_reallocating_to_the_practitioner_who_holds_it_is_refused():
    with pytest.raises(Conflict) as refused:
        _then([opened(), allocated()], _reallocate(practitioner=facts()))

    assert refused.value.field == "practitioner_id"


@pytest.mark.parametrize("reason", ["INITIAL_ALLOCATION", "BORED", ""])
def test_a_reallocation_needs_one_of_the_reallocation_reasons(reason: str):
    with pytest.raises(InvalidValue) as refused:
        _then([opened(), allocated()], _reallocate(reason=reason))

    assert refused.value.field == "reason"


def test_a_reallocation_for_other_reasons_needs_a_note():
    with pytest.raises(InvalidValue) as refused:
        _then([opened(), allocated()], _reallocate(reason="OTHER"))
    [event] = _then([opened(), allocated()], _reallocate(reason="OTHER", note="Court direction"))

    assert refused.value.field == "note"
    assert isinstance(event, CaseReallocated)
    assert event.note == "Court direction"


@pytest.mark.parametrize("reason", ["RISK_TO_STAFF", "LOSS_OF_CONFIDENCE", "OFFICER_LEFT"])
def test_reallocation_takes_the_hmpps_reasons(reason: str):
    [event] = _then([opened(), allocated()], _reallocate(reason=reason))

    assert isinstance(event, CaseReallocated)
    assert event.reason == reason


def test_reallocation_to_someone_who_has_left_is_refused():
    with pytest.raises(PractitionerHasLeft):
        _then(
            [opened(), allocated()],
            _reallocate(practitioner=facts(practitioner_id="P-0002", has_left=True)),
        )


def test_reallocation_above_the_threshold_records_the_override():
    target = facts(practitioner_id="P-0002", total_points=2150)

    events = _then(
        [opened(), allocated()], _reallocate(practitioner=target, override_reason=REASON)
    )

    assert [event.type for event in events] == ["case-reallocated", "allocation-override-recorded"]
    override = events[1]
    assert isinstance(override, AllocationOverrideRecorded)
    assert (override.action, override.practitioner_id) == ("reallocate", "P-0002")


def test_a_manager_takes_another_teams_case_only_as_a_transfer_in():
    given = [opened(team_id="T-SOUTH-1"), allocated(team_id="T-SOUTH-1")]

    with pytest.raises(OutsideScope):
        _then(given, _reallocate())
    [event] = _then(given, _reallocate(reason="TRANSFER_IN"))

    assert isinstance(event, CaseReallocated)
    assert (event.from_team_id, event.team_id) == ("T-SOUTH-1", TEAM)


def test_a_head_of_service_takes_another_regions_case_only_as_a_transfer_in():
    given = [opened(team_id="T-SOUTH-1"), allocated(team_id="T-SOUTH-1")]
    elsewhere = {"actor": HEAD_OF_SERVICE, "case_region": KnownRegion("R-SOUTH")}

    with pytest.raises(OutsideScope) as refused:
        _then(given, _reallocate(**elsewhere))
    [event] = _then(given, _reallocate(reason="TRANSFER_IN", **elsewhere))

    assert refused.value.field == "case_id"
    assert isinstance(event, CaseReallocated)


# Weighting changes.


def test_changing_the_tier_reweighs_the_case_for_whoever_holds_it():
    events = _then([opened(), allocated()], ChangeTier("X777519", "B2", PROBATION))

    assert events == [
        CaseWeightingChanged(
            case_id="X777519",
            practitioner_id="P-0001",
            case_type="community",
            tier="B2",
            t2a=False,
            stage=None,
            points=115,
            previous_points=50,
            scheme_name="wmt",
            scheme_version=1,
            cause="tier-changed",
            agreement_id=None,
        )
    ]


def test_the_same_tier_records_nothing():
    assert _then([opened()], ChangeTier("X777519", "C1", PROBATION)) == []


def test_changing_to_an_unknown_tier_is_refused():
    with pytest.raises(InvalidValue) as refused:
        _then([opened()], ChangeTier("X777519", "Z9", PROBATION))

    assert refused.value.field == "tier"


def test_a_tier_change_is_recorded_even_when_the_points_stay():
    [event] = _then([opened()], ChangeTier("X777519", "C1S", PROBATION))

    assert isinstance(event, CaseWeightingChanged)
    assert (event.tier, event.points, event.previous_points) == ("C1S", 0, 50)


def test_changing_a_cafcass_case_stage_reweighs_it():
    given = [
        opened(
            case_type="public-law",
            tier=None,
            stage="guardian-first-hearing",
            points=240,
            scheme_name="cafcass-hours",
        )
    ]

    [event] = _then(given, ChangeStage("X777519", "guardian-ongoing", CAFCASS))

    assert isinstance(event, CaseWeightingChanged)
    assert (event.points, event.previous_points, event.cause) == (120, 240, "stage-changed")


def test_a_new_scheme_reweighs_a_case_only_when_its_points_change():
    community = {**PROBATION.tier_points["community"], "C1": 55}
    v2 = PROBATION.model_copy(
        update={"version": 2, "tier_points": {**PROBATION.tier_points, "community": community}}
    )
    licence_case = [opened(case_type="licence", tier="A1", points=163)]

    [event] = _then([opened(), allocated()], ReweighCase("X777519", v2))

    assert isinstance(event, CaseWeightingChanged)
    assert (event.points, event.scheme_version, event.cause) == (55, 2, "scheme-changed")
    assert _then(licence_case, ReweighCase("X777519", v2)) == []


def test_a_closed_case_is_not_reweighed():
    given = [
        opened(),
        CaseClosed(
            case_id="X777519", practitioner_id=None, team_id=TEAM, points=50, closed_on=TODAY
        ),
    ]
    v2 = PROBATION.model_copy(update={"version": 2, "tier_points": {**PROBATION.tier_points}})

    assert _then(given, ReweighCase("X777519", v2)) == []


# Closing.


def test_closing_a_case_takes_its_points_from_whoever_held_it():
    events = _then([opened(), allocated()], CloseCase("X777519", TODAY + 30 * DAY))

    assert events == [
        CaseClosed(
            case_id="X777519",
            practitioner_id="P-0001",
            team_id=TEAM,
            points=50,
            closed_on=TODAY + 30 * DAY,
        )
    ]


def test_closing_before_opening_is_refused():
    with pytest.raises(InvalidValue) as refused:
        _then([opened()], CloseCase("X777519", TODAY - DAY))

    assert refused.value.field == "closed_on"


@pytest.mark.parametrize(
    "command",
    [
        CloseCase("X777519", TODAY),
        ChangeTier("X777519", "A3", PROBATION),
        _allocate(),
    ],
    ids=["close", "change-tier", "allocate"],
)
def test_a_closed_case_no_longer_changes(command: CaseCommand):
    given = [
        opened(),
        CaseClosed(
            case_id="X777519", practitioner_id=None, team_id=TEAM, points=50, closed_on=TODAY
        ),
    ]

    with pytest.raises(CaseIsClosed) as refused:
        _then(given, command)

    assert refused.value.status == 409


def test_a_command_for_an_unknown_case_is_not_found():
    with pytest.raises(NotFound) as refused:
        CASE.run(CloseCase("X777519", TODAY))

    assert refused.value.field == "case_id"


@pytest.mark.parametrize("command", [_allocate(), _reallocate()], ids=["allocate", "reallocate"])
def test_allocating_an_unknown_case_is_refused_as_outside_the_actors_scope(command: CaseCommand):
    """Only managers and heads of service allocate: trying ids tells them nothing."""
    with pytest.raises(OutsideScope) as refused:
        CASE.run(command)

    assert refused.value.field == "case_id"
    assert "your team (T-NORTH-1)" in refused.value.reason


def test_a_scope_refusal_names_only_the_actors_own_team_or_region():
    with pytest.raises(OutsideScope) as other_team:
        _then([opened(team_id="T-SOUTH-1")], _allocate())
    with pytest.raises(OutsideScope) as other_region:
        _then(
            [opened()],
            _allocate(practitioner=facts(region_id="R-SOUTH"), actor=HEAD_OF_SERVICE),
        )

    assert "T-SOUTH-1" not in other_team.value.reason
    assert "your team (T-NORTH-1)" in other_team.value.reason
    assert "R-SOUTH" not in other_region.value.reason
    assert "your region (R-NORTH)" in other_region.value.reason


@pytest.mark.parametrize("context", ["practitioner", "policy", "case_region"])
def test_an_allocation_without_the_context_the_service_fills_in_is_refused(context: str):
    with pytest.raises(InvalidValue) as refused:
        _then([opened()], replace(_allocate(), **{context: None}))

    assert refused.value.field == context


def test_an_allocation_with_another_practitioners_facts_is_refused():
    command = replace(_allocate(), practitioner_id="P-0002")

    with pytest.raises(InvalidValue) as refused:
        _then([opened()], command)

    assert refused.value.field == "practitioner"


def test_opening_without_the_scheme_or_the_day_is_refused():
    profile = CaseProfile("community", tier="C1")
    with pytest.raises(InvalidValue) as no_scheme:
        CASE.run(OpenCase("X1", TEAM, profile, opened_on=TODAY))
    with pytest.raises(InvalidValue) as no_day:
        CASE.run(OpenCase("X1", TEAM, profile, PROBATION))

    assert (no_scheme.value.field, no_day.value.field) == ("scheme", "opened_on")


# The state, the errors, the events.


def test_the_case_state_follows_its_stream():
    case = CASE.fold([opened(), allocated(), _reallocate_event(), _weighted()])

    assert case is not None
    assert (case.practitioner_id, case.points, case.profile.tier) == ("P-0002", 115, "B2")
    assert case.is_allocated


def _reallocate_event() -> CaseReallocated:
    [event] = _then([opened(), allocated()], _reallocate())
    assert isinstance(event, CaseReallocated)
    return event


def _weighted() -> CaseWeightingChanged:
    [event] = _then([opened(), allocated()], ChangeTier("X777519", "B2", PROBATION))
    assert isinstance(event, CaseWeightingChanged)
    return event


def test_a_case_stream_holds_only_case_events():
    with pytest.raises(TypeError):
        CASE.fold([opened(), registered()])


@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        (InvalidValue, 422),
        (OverrideReasonRequired, 422),
        (NotFound, 404),
        (AlreadyAllocated, 409),
        (NotAllocated, 409),
        (AlreadyExists, 409),
        (CaseIsClosed, 409),
        (PractitionerHasLeft, 409),
        (PractitionerFullyReduced, 409),
        (StaleSchemeVersion, 409),
        (NotPermitted, 403),
        (OutsideScope, 403),
        (HeadOfServiceRequired, 403),
    ],
)
def test_each_refusal_carries_its_http_status_and_problem_kind(refusal: type[Refused], status: int):
    error = refusal("why", field="what")

    assert isinstance(error, Refused)
    assert (error.status, error.field, error.reason) == (status, "what", "why")
    assert error.kind
    assert error.title
    assert str(error) == "what: why"


def test_decided_events_are_the_catalogues_latest_versions():
    decided = [
        *CASE.run(OpenCase("X1", TEAM, CaseProfile("custody", tier="A3"), PROBATION, TODAY)),
        *_then(
            [opened()],
            _allocate(practitioner=facts(total_points=2150), override_reason=REASON),
        ),
    ]
    metadata = Metadata(actor="P-0100", correlation_id=uuid4())

    for event in decided:
        new = CATALOGUE.new_event(event, metadata)
        assert CATALOGUE.decode(new.type, new.version, new.data) == event
