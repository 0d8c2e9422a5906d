"""The practitioner aggregate: given events, when a command, then events or a refusal."""

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from plimsoll_allocation.domain import (
    DEFAULT_CAFCASS_SCHEME,
    DEFAULT_PROBATION_SCHEME,
    PRACTITIONER,
    AlreadyExists,
    ChangeContractedHours,
    Conflict,
    EndReduction,
    InvalidValue,
    KnownRegion,
    NotFound,
    PractitionerCommand,
    PractitionerHasLeft,
    ReconcileReductions,
    RecordLeaving,
    Refused,
    StartReduction,
    available_points_of,
)
from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import (
    CaseOpened,
    ContractedHoursChanged,
    PractitionerLeft,
    PractitionerRegistered,
    ReductionCancelled,
    ReductionEnded,
    ReductionScheduled,
    ReductionStarted,
)

from .given import TODAY, opened, register, registered

PROBATION = DEFAULT_PROBATION_SCHEME
DAY = timedelta(days=1)


def _reduction(**overrides: Any) -> StartReduction:
    fields: dict[str, Any] = {
        "practitioner_id": "P-0001",
        "reduction_id": "R-1",
        "reason": "Trade Union Facility Time",
        "effective_from": TODAY,
        "today": TODAY,
        "scheme": PROBATION,
        "percent": Decimal(20),
        **overrides,
    }
    return StartReduction(**fields)


def _started(**overrides: Any) -> ReductionStarted:
    fields: dict[str, Any] = {
        "practitioner_id": "P-0001",
        "reduction_id": "R-1",
        "reason": "Trade Union Facility Time",
        "hours": Decimal("7.4"),
        "percent": Decimal(20),
        "effective_from": TODAY,
        "effective_to": None,
        **overrides,
    }
    return ReductionStarted(**fields)


def _scheduled(**overrides: Any) -> ReductionScheduled:
    return ReductionScheduled(**_started(**overrides).model_dump())


def _then(given: Sequence[EventData], command: PractitionerCommand) -> list[EventData]:
    return PRACTITIONER.run(command, given)


# Registration.


def test_registering_records_who_they_are_and_their_hours():
    events = PRACTITIONER.run(register())

    assert events == [registered()]


def test_a_duplicate_registration_is_refused():
    with pytest.raises(AlreadyExists) as refused:
        _then([registered()], register())

    assert refused.value.field == "practitioner_id"
    assert refused.value.status == 409


def test_a_team_stays_in_one_region():
    with pytest.raises(Conflict) as refused:
        PRACTITIONER.run(register(team_region=KnownRegion("R-SOUTH")))

    assert refused.value.field == "region_id"
    assert PRACTITIONER.run(register(team_region=KnownRegion("R-NORTH"))) == [registered()]


@pytest.mark.parametrize("hours", ["-1", "-0.01", "37.51", "40", "37.555", "NaN"])
def test_contracted_hours_outside_0_to_37_5_are_refused(hours: str):
    with pytest.raises(InvalidValue) as refused:
        PRACTITIONER.run(register(contracted_hours=Decimal(hours)))

    assert refused.value.field == "contracted_hours"
    assert refused.value.status == 422


@pytest.mark.parametrize("hours", ["0", "37.5", "18.25", "37.500"])
def test_contracted_hours_from_0_to_37_5_are_accepted(hours: str):
    [event] = PRACTITIONER.run(register(contracted_hours=Decimal(hours)))

    assert isinstance(event, PractitionerRegistered)
    assert event.contracted_hours == Decimal(hours)


def test_an_unknown_grade_is_refused():
    with pytest.raises(InvalidValue) as refused:
        PRACTITIONER.run(register(grade="Probation Officer"))

    assert refused.value.field == "grade"


def test_grades_belong_to_their_scheme():
    assert PRACTITIONER.run(register(grade="TPO"))
    assert PRACTITIONER.run(register(DEFAULT_CAFCASS_SCHEME, grade="SENIOR_FCA"))
    with pytest.raises(InvalidValue):
        PRACTITIONER.run(register(grade="FCA"))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"practitioner_id": ""}, "practitioner_id"),
        ({"name": "  "}, "name"),
        ({"team_id": ""}, "team_id"),
        ({"region_id": "x" * 101}, "region_id"),
        ({"line_manager_id": "P-0001"}, "line_manager_id"),
    ],
)
def test_a_registration_with_a_bad_value_is_refused_naming_it(
    overrides: dict[str, Any], field: str
):
    with pytest.raises(InvalidValue) as refused:
        PRACTITIONER.run(register(**overrides))

    assert refused.value.field == field


# Contracted hours.


def test_changing_contracted_hours_records_the_old_and_the_new():
    events = _then([registered()], ChangeContractedHours("P-0001", Decimal("22.5")))

    assert events == [
        ContractedHoursChanged(
            practitioner_id="P-0001",
            contracted_hours=Decimal("22.5"),
            previous_contracted_hours=Decimal(37),
        )
    ]


def test_the_same_contracted_hours_record_nothing():
    assert _then([registered()], ChangeContractedHours("P-0001", Decimal("37.00"))) == []


@pytest.mark.parametrize("hours", ["-2", "38"])
def test_changing_to_hours_outside_the_range_is_refused(hours: str):
    with pytest.raises(InvalidValue) as refused:
        _then([registered()], ChangeContractedHours("P-0001", Decimal(hours)))

    assert refused.value.field == "contracted_hours"


def test_a_command_for_someone_never_registered_is_not_found():
    with pytest.raises(NotFound) as refused:
        PRACTITIONER.run(ChangeContractedHours("P-0404", Decimal(30)))

    assert refused.value.field == "practitioner_id"
    assert refused.value.status == 404


# Leaving.


def test_leaving_is_recorded_with_the_last_day_in_post():
    events = _then([registered()], RecordLeaving("P-0001", date(2025, 6, 30)))

    assert events == [PractitionerLeft(practitioner_id="P-0001", leaving_date=date(2025, 6, 30))]


def test_leaving_before_starting_is_refused():
    with pytest.raises(InvalidValue) as refused:
        _then([registered()], RecordLeaving("P-0001", date(2024, 1, 1)))

    assert refused.value.field == "leaving_date"


@pytest.mark.parametrize(
    "command",
    [
        ChangeContractedHours("P-0001", Decimal(30)),
        _reduction(),
        EndReduction("P-0001", "R-1", TODAY),
        RecordLeaving("P-0001", date(2025, 7, 1)),
    ],
    ids=["hours", "start-reduction", "end-reduction", "leaving-again"],
)
def test_changes_to_someone_who_has_left_are_refused(command: PractitionerCommand):
    given = [
        registered(),
        _started(),
        PractitionerLeft(practitioner_id="P-0001", leaving_date=TODAY),
    ]

    with pytest.raises(PractitionerHasLeft) as refused:
        _then(given, command)

    assert refused.value.status == 409


def test_someone_whose_leaving_is_recorded_has_left_even_before_the_date():
    practitioner = PRACTITIONER.fold(
        [registered(), PractitionerLeft(practitioner_id="P-0001", leaving_date=TODAY + 30 * DAY)]
    )

    assert practitioner is not None
    assert practitioner.has_left


# Reductions: how much.


def test_a_percent_reduction_becomes_hours_rounded_half_up():
    [event] = _then([registered()], _reduction(percent=Decimal("12.5")))

    assert event == _started(hours=Decimal("4.63"), percent=Decimal("12.5"))


def test_a_reason_with_an_allowance_applies_it_when_no_size_is_given():
    [event] = _then(
        [registered()],
        _reduction(reason="Long Term Sickness Absence", percent=None),
    )

    assert isinstance(event, ReductionStarted)
    assert (event.hours, event.percent) == (Decimal(37), Decimal(100))


def test_a_full_reduction_leaves_no_available_points():
    given = [registered(), _started(reason="Long Term Sickness Absence", hours=Decimal(37))]

    practitioner = PRACTITIONER.fold(given)

    assert practitioner is not None
    assert practitioner.on_full_reduction
    assert available_points_of(practitioner, PROBATION) == 0


def test_a_reason_with_no_allowance_and_no_size_takes_all_contracted_hours():
    other = PROBATION.reduction_reasons[-1].reason
    [event] = _then([registered()], _reduction(reason=other, percent=None))

    assert isinstance(event, ReductionStarted)
    assert (event.hours, event.percent) == (Decimal(37), None)


def test_a_reduction_can_be_given_in_hours():
    [event] = _then([registered()], _reduction(reason="SPOC lead", percent=None, hours=Decimal(1)))

    assert isinstance(event, ReductionStarted)
    assert (event.hours, event.percent) == (Decimal(1), None)


@pytest.mark.parametrize(
    ("size", "field"),
    [
        ({"percent": None}, "percent"),
        ({"percent": Decimal("50.01")}, "percent"),
        ({"percent": None, "hours": Decimal("18.51")}, "hours"),
    ],
)
def test_a_reason_with_a_maximum_needs_a_size_within_it(size: dict[str, Any], field: str):
    with pytest.raises(InvalidValue) as refused:
        _then([registered()], _reduction(**size))

    assert refused.value.field == field


def test_the_maximum_itself_is_allowed():
    [event] = _then([registered()], _reduction(percent=Decimal(50)))

    assert isinstance(event, ReductionStarted)
    assert event.hours == Decimal("18.5")


@pytest.mark.parametrize(
    ("size", "field"),
    [
        ({"hours": Decimal(2), "percent": Decimal(5)}, "percent"),
        ({"percent": Decimal(0)}, "percent"),
        ({"percent": Decimal(101)}, "percent"),
        ({"percent": None, "hours": Decimal(0)}, "hours"),
        ({"percent": None, "hours": Decimal(-1)}, "hours"),
    ],
)
def test_a_reduction_of_a_bad_size_is_refused(size: dict[str, Any], field: str):
    with pytest.raises(InvalidValue) as refused:
        _then([registered()], _reduction(reason="VQ3", **size))

    assert refused.value.field == field


def test_a_reduction_of_more_hours_than_contracted_is_refused():
    given = [registered(contracted_hours=Decimal(10))]
    other = PROBATION.reduction_reasons[-1].reason

    with pytest.raises(InvalidValue) as refused:
        _then(given, _reduction(reason=other, percent=None, hours=Decimal(11)))

    assert refused.value.field == "hours"


def test_probation_reductions_take_only_the_reference_reasons():
    with pytest.raises(InvalidValue) as refused:
        _then([registered()], _reduction(reason="Feeling tired"))

    assert refused.value.field == "reason"


def test_cafcass_reductions_take_any_reason():
    given = [registered(grade="FCA")]

    [event] = _then(
        given,
        _reduction(scheme=DEFAULT_CAFCASS_SCHEME, reason="Phased return", percent=Decimal(50)),
    )

    assert isinstance(event, ReductionStarted)
    assert event.reason == "Phased return"


def test_a_second_reduction_with_the_same_id_is_refused():
    with pytest.raises(AlreadyExists) as refused:
        _then([registered(), _started()], _reduction())

    assert refused.value.field == "reduction_id"


# Reductions: when.


def test_a_reduction_ending_before_it_starts_is_refused():
    with pytest.raises(InvalidValue) as refused:
        _then([registered()], _reduction(effective_to=TODAY - DAY))

    assert refused.value.field == "effective_to"
    assert "before it starts" in refused.value.reason


def test_a_reduction_already_over_is_refused():
    with pytest.raises(InvalidValue) as refused:
        _then(
            [registered()],
            _reduction(effective_from=TODAY - 10 * DAY, effective_to=TODAY - DAY),
        )

    assert refused.value.field == "effective_to"


def test_a_one_day_reduction_is_allowed():
    [event] = _then([registered()], _reduction(effective_to=TODAY))

    assert isinstance(event, ReductionStarted)


def test_a_reduction_from_today_starts_at_once():
    [event] = _then([registered()], _reduction())

    assert event == _started()


def test_a_backdated_reduction_starts_at_once():
    [event] = _then([registered()], _reduction(effective_from=TODAY - 7 * DAY))

    assert event == _started(effective_from=TODAY - 7 * DAY)


def test_a_future_reduction_is_scheduled_and_changes_nothing_yet():
    events = _then([registered()], _reduction(effective_from=TODAY + DAY))

    assert events == [_scheduled(effective_from=TODAY + DAY)]
    practitioner = PRACTITIONER.fold([registered(), *events])
    assert practitioner is not None
    assert practitioner.active_reduction_hours == 0
    assert available_points_of(practitioner, PROBATION) == 2176


def test_a_reason_that_usually_lasts_months_ends_after_them():
    [event] = _then(
        [registered()],
        _reduction(reason="Maternity Leave", percent=None, effective_from=date(2025, 1, 31)),
    )

    assert isinstance(event, ReductionStarted)
    assert event.effective_to == date(2025, 7, 30)


def test_reduction_lifecycle_over_dates():
    first, last = date(2025, 3, 10), date(2025, 3, 20)
    history: list[EventData] = [registered()]

    def when(command: PractitionerCommand) -> list[EventData]:
        events = _then(history, command)
        history.extend(events)
        return events

    assert when(_reduction(effective_from=first, effective_to=last)) == [
        _scheduled(effective_from=first, effective_to=last)
    ]
    assert when(ReconcileReductions("P-0001", first - DAY)) == []
    assert when(ReconcileReductions("P-0001", first)) == [
        _started(effective_from=first, effective_to=last)
    ]
    practitioner = PRACTITIONER.fold(history)
    assert practitioner is not None
    assert available_points_of(practitioner, PROBATION) == 1740

    assert when(ReconcileReductions("P-0001", last)) == []
    assert when(ReconcileReductions("P-0001", last + DAY)) == [
        ReductionEnded(
            practitioner_id="P-0001",
            reduction_id="R-1",
            hours=Decimal("7.4"),
            ended_on=last + DAY,
            ended_because="effective-to-passed",
        )
    ]
    practitioner = PRACTITIONER.fold(history)
    assert practitioner is not None
    assert available_points_of(practitioner, PROBATION) == 2176
    assert when(ReconcileReductions("P-0001", last + 2 * DAY)) == []


def test_reconciling_after_a_long_gap_starts_and_ends_in_one_go():
    first, last = date(2025, 3, 10), date(2025, 3, 20)
    given = [registered(), _scheduled(effective_from=first, effective_to=last)]

    events = _then(given, ReconcileReductions("P-0001", date(2025, 4, 1)))

    assert [event.type for event in events] == ["reduction-started", "reduction-ended"]
    assert isinstance(events[1], ReductionEnded)
    assert events[1].ended_on == last + DAY


def test_reconciling_handles_every_reduction_in_the_order_recorded():
    given = [
        registered(),
        _scheduled(reduction_id="R-1", effective_from=TODAY + DAY),
        _started(reduction_id="R-2", reason="VQ3", effective_to=TODAY),
        _scheduled(reduction_id="R-3", effective_from=TODAY + 9 * DAY),
    ]

    events = _then(given, ReconcileReductions("P-0001", TODAY + DAY))

    assert [(event.type, getattr(event, "reduction_id", None)) for event in events] == [
        ("reduction-started", "R-1"),
        ("reduction-ended", "R-2"),
    ]


def test_reconciling_for_someone_who_has_left_records_nothing():
    given = [
        registered(),
        _started(effective_to=TODAY),
        PractitionerLeft(practitioner_id="P-0001", leaving_date=TODAY),
    ]

    assert _then(given, ReconcileReductions("P-0001", TODAY + 5 * DAY)) == []


def test_ending_an_active_reduction_early_ends_it_today():
    events = _then([registered(), _started()], EndReduction("P-0001", "R-1", TODAY + 3 * DAY))

    assert events == [
        ReductionEnded(
            practitioner_id="P-0001",
            reduction_id="R-1",
            hours=Decimal("7.4"),
            ended_on=TODAY + 3 * DAY,
            ended_because="ended-early",
        )
    ]


def test_ending_a_reduction_whose_last_day_passed_records_its_natural_end():
    given = [registered(), _started(effective_to=TODAY)]

    [event] = _then(given, EndReduction("P-0001", "R-1", TODAY + 3 * DAY))

    assert isinstance(event, ReductionEnded)
    assert (event.ended_on, event.ended_because) == (TODAY + DAY, "effective-to-passed")


def test_ending_a_scheduled_reduction_cancels_it():
    given = [registered(), _scheduled(effective_from=TODAY + DAY)]

    events = _then(given, EndReduction("P-0001", "R-1", TODAY))

    assert events == [ReductionCancelled(practitioner_id="P-0001", reduction_id="R-1")]


def test_ending_a_scheduled_reduction_whose_day_came_starts_and_ends_it():
    given = [registered(), _scheduled(effective_from=TODAY)]

    events = _then(given, EndReduction("P-0001", "R-1", TODAY + DAY))

    assert [event.type for event in events] == ["reduction-started", "reduction-ended"]


def test_ending_an_unknown_reduction_is_not_found():
    with pytest.raises(NotFound) as refused:
        _then([registered()], EndReduction("P-0001", "R-9", TODAY))

    assert refused.value.field == "reduction_id"


def test_ending_a_reduction_twice_is_a_conflict():
    given = [
        registered(),
        _started(),
        ReductionEnded(
            practitioner_id="P-0001",
            reduction_id="R-1",
            hours=Decimal("7.4"),
            ended_on=TODAY,
            ended_because="ended-early",
        ),
    ]

    with pytest.raises(Conflict) as refused:
        _then(given, EndReduction("P-0001", "R-1", TODAY))

    assert refused.value.field == "reduction_id"


def test_active_reductions_add_up():
    given = [
        registered(),
        _started(reduction_id="R-1", hours=Decimal("7.4")),
        _started(reduction_id="R-2", reason="VQ3", hours=Decimal("1.85"), percent=Decimal(5)),
    ]

    practitioner = PRACTITIONER.fold(given)

    assert practitioner is not None
    assert practitioner.active_reduction_hours == Decimal("9.25")
    assert not practitioner.on_full_reduction


# The stream.


def test_a_practitioner_stream_holds_only_practitioner_events():
    with pytest.raises(TypeError):
        PRACTITIONER.fold([registered(), opened()])
    assert isinstance(opened(), CaseOpened)


def test_every_refusal_is_an_allocation_refusal():
    for refusal in (AlreadyExists, Conflict, InvalidValue, NotFound, PractitionerHasLeft):
        assert issubclass(refusal, Refused)
