"""Capacity figures through the log, and the calendar: given events, then what is published."""

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from plimsoll_allocation.domain import DEFAULT_POLICY, DEFAULT_PROBATION_SCHEME
from plimsoll_allocation.domain.calendar import CALENDAR, BeginDay
from plimsoll_allocation.domain.figures import Cause, Figures, Published
from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import (
    CalendarDayBegan,
    CapacityChanged,
    CaseClosed,
    CaseReallocated,
    CaseWeightingChanged,
    ContractedHoursChanged,
    PractitionerLeft,
    PractitionerTransferred,
    ReductionEnded,
    ReductionStarted,
    TeamCapacityChanged,
    WeightingSchemeChanged,
)

from .given import TODAY, allocated, opened, registered

PROBATION = DEFAULT_PROBATION_SCHEME


def _figures() -> Figures:
    return Figures({}, {}, {}, {s.kind: s for s in (PROBATION,)}, DEFAULT_POLICY)


def _run(events: Sequence[EventData], recorded_on: date = TODAY) -> list[Published]:
    figures = _figures()
    published: list[Published] = []
    for position, event in enumerate(events, start=1):
        published += figures.apply(event, Cause(uuid4(), event.type, position), recorded_on)
    return published


def _summary(published: Sequence[Published]) -> list[tuple[Any, ...]]:
    """(whose, total, available, percent, above, cause type) of each figure published."""
    rows: list[tuple[Any, ...]] = []
    for p in published:
        data = p.data
        whose = data.practitioner_id if isinstance(data, CapacityChanged) else data.team_id
        rows.append(
            (
                whose,
                data.total_points,
                data.available_points,
                data.capacity_percent,
                tuple(data.above),
                data.cause_type,
            )
        )
    return rows


REDUCTION = ReductionStarted(
    practitioner_id="P-0001",
    reduction_id="R-1",
    reason="Trade Union Facility Time",
    hours=Decimal("7.4"),
    percent=Decimal(20),
    effective_from=TODAY,
    effective_to=None,
)


def test_a_registration_publishes_the_first_figure_and_the_team_it_joins():
    published = _run([registered()])

    assert _summary(published) == [
        ("P-0001", 0, 2176, Decimal("0.0"), (), "practitioner-registered"),
        ("T-NORTH-1", 0, 2176, Decimal("0.0"), (), "practitioner-registered"),
    ]
    assert [p.stream_id for p in published] == ["capacity-P-0001", "team-capacity-T-NORTH-1"]
    team = published[1].data
    assert isinstance(team, TeamCapacityChanged)
    assert (team.practitioner_count, team.previous_total_points) == (1, None)


def test_an_allocation_moves_the_holder_and_the_team_citing_it():
    published = _run([registered(), opened(), allocated()])[2:]

    assert _summary(published) == [
        ("P-0001", 50, 2176, Decimal("2.3"), (), "case-allocated"),
        ("T-NORTH-1", 50, 2176, Decimal("2.3"), (), "case-allocated"),
    ]
    first = published[0].data
    assert isinstance(first, CapacityChanged)
    assert (first.previous_total_points, first.previous_capacity_percent) == (0, Decimal("0.0"))
    assert first.cause_position == 3


def test_an_opening_nobody_holds_publishes_nothing():
    assert _run([registered(), opened()])[2:] == []


def test_hours_reductions_and_their_end_move_available_points():
    events = [
        registered(),
        ContractedHoursChanged(
            practitioner_id="P-0001",
            contracted_hours=Decimal("18.5"),
            previous_contracted_hours=Decimal(37),
        ),
        REDUCTION,
        ReductionEnded(
            practitioner_id="P-0001",
            reduction_id="R-1",
            hours=Decimal("7.4"),
            ended_on=TODAY,
            ended_because="ended-early",
        ),
    ]

    mine = [row for row in _summary(_run(events)) if row[0] == "P-0001"]

    assert [(row[2], row[5]) for row in mine] == [
        (2176, "practitioner-registered"),
        (1088, "contracted-hours-changed"),
        (652, "reduction-started"),  # trunc(2176 * (18.5 - 7.4) / 37) = trunc(652.8)
        (1088, "reduction-ended"),
    ]


def test_going_above_the_limits_by_a_reweighing_is_published_with_the_limits():
    heavy = [opened(case_id=f"X{n}", tier="A3", points=206) for n in range(11)]
    given = [registered(), *heavy, *[allocated(case_id=f"X{n}", points=206) for n in range(11)]]
    retier = CaseWeightingChanged(
        case_id="X0",
        practitioner_id="P-0001",
        case_type="community",
        tier="A3",
        t2a=False,
        stage=None,
        points=600,
        previous_points=206,
        scheme_name="wmt",
        scheme_version=1,
        cause="tier-changed",
        agreement_id=None,
    )

    last = _summary(_run([*given, retier]))[-2]

    assert last == (
        "P-0001",
        206 * 10 + 600,
        2176,
        Decimal("122.2"),
        ("override-threshold", "hard-ceiling"),
        "case-weighting-changed",
    )


def test_a_reallocation_moves_points_from_one_to_the_other_and_a_closure_takes_them_off():
    events = [
        registered(),
        registered(practitioner_id="P-0002", team_id="T-SOUTH-1", region_id="R-SOUTH"),
        opened(),
        allocated(),
        CaseReallocated(
            practitioner_id="P-0002",
            from_practitioner_id="P-0001",
            case_id="X777519",
            team_id="T-SOUTH-1",
            from_team_id="T-NORTH-1",
            tier="C1",
            case_type="community",
            points=50,
            reason="CASELOAD_ADJUSTMENT",
            note=None,
            reallocated_by="P-0100",
        ),
        CaseClosed(
            case_id="X777519",
            practitioner_id="P-0002",
            team_id="T-SOUTH-1",
            points=50,
            closed_on=TODAY,
        ),
    ]

    rows = _summary(_run(events))[6:]

    assert [(row[0], row[1], row[5]) for row in rows] == [
        ("P-0001", 0, "case-reallocated"),
        ("P-0002", 50, "case-reallocated"),
        ("T-NORTH-1", 0, "case-reallocated"),
        ("T-SOUTH-1", 50, "case-reallocated"),
        ("P-0002", 0, "case-closed"),
        ("T-SOUTH-1", 0, "case-closed"),
    ]


def test_a_suspended_case_reallocated_moves_at_full_points():
    suspended = CaseWeightingChanged(
        case_id="X777519",
        practitioner_id="P-0001",
        case_type="community",
        tier="C1",
        t2a=False,
        stage=None,
        points=0,
        previous_points=50,
        scheme_name="wmt",
        scheme_version=1,
        cause="work-suspended",
        agreement_id="A-1",
    )
    moved = CaseReallocated(
        practitioner_id="P-0002",
        from_practitioner_id="P-0001",
        case_id="X777519",
        team_id="T-NORTH-1",
        from_team_id="T-NORTH-1",
        tier="C1",
        case_type="community",
        points=50,
        reason="CASELOAD_ADJUSTMENT",
        note=None,
        reallocated_by="P-0100",
    )
    events = [registered(), registered(practitioner_id="P-0002"), opened(), allocated()]

    rows = _summary(_run([*events, suspended, moved]))[6:]

    assert [(row[0], row[1], row[5]) for row in rows] == [
        ("P-0001", 0, "case-weighting-changed"),
        ("T-NORTH-1", 0, "case-weighting-changed"),
        ("P-0002", 50, "case-reallocated"),  # P-0001 carried it for nothing: unchanged
        ("T-NORTH-1", 50, "case-reallocated"),
    ]


def test_a_transfer_recorded_for_a_later_day_moves_the_team_figures_when_that_day_begins():
    later = TODAY + timedelta(days=7)
    transfer = PractitionerTransferred(
        practitioner_id="P-0001",
        team_id="T-SOUTH-1",
        region_id="R-SOUTH",
        previous_team_id="T-NORTH-1",
        previous_region_id="R-NORTH",
        line_manager_id=None,
        effective_on=later,
    )
    figures = _figures()
    cause = Cause(uuid4(), transfer.type, 2)
    figures.apply(registered(), Cause(uuid4(), "practitioner-registered", 1), TODAY)

    on_recording = figures.apply(transfer, cause, TODAY)
    day_before = figures.apply(CalendarDayBegan(day=later - timedelta(days=1)), cause, TODAY)
    on_the_day = figures.apply(
        CalendarDayBegan(day=later), Cause(uuid4(), "calendar-day-began", 3), later
    )

    assert (on_recording, day_before) == ([], [])
    assert [(p.stream_id, p.cause) for p in on_the_day] == [
        ("team-capacity-T-NORTH-1", cause),
        ("team-capacity-T-SOUTH-1", cause),
    ]
    counts = [p.data.practitioner_count for p in on_the_day]  # type: ignore[union-attr]
    assert counts == [0, 1]


def test_a_leaving_takes_them_out_of_the_team_the_day_after_their_last_day():
    last_day = TODAY + timedelta(days=2)
    figures = _figures()
    figures.apply(registered(), Cause(uuid4(), "practitioner-registered", 1), TODAY)
    leaving = Cause(uuid4(), "practitioner-left", 2)

    assert (
        figures.apply(
            PractitionerLeft(practitioner_id="P-0001", leaving_date=last_day), leaving, TODAY
        )
        == []
    )
    assert figures.apply(CalendarDayBegan(day=last_day), leaving, TODAY) == []
    [team] = figures.apply(
        CalendarDayBegan(day=last_day + timedelta(days=1)), Cause(uuid4(), "c", 3), TODAY
    )

    assert (team.stream_id, team.cause, team.data.total_points) == (
        "team-capacity-T-NORTH-1",
        leaving,
        0,
    )


def test_a_scheme_change_moves_every_available_figure_of_its_grades():
    newer = PROBATION.model_copy(
        update={
            "version": 2,
            "grades": {
                **PROBATION.grades,
                "PO": PROBATION.grades["PO"].model_copy(update={"nominal_target_points": 2000}),
            },
        }
    )
    change = WeightingSchemeChanged(scheme=newer, changed_by="ada.admin", reason=None)

    rows = _summary(_run([registered(), registered(practitioner_id="P-0002"), change]))[4:]

    assert [(row[0], row[2]) for row in rows] == [
        ("P-0001", 2000),
        ("P-0002", 2000),
        ("T-NORTH-1", 4000),
    ]


def test_the_same_log_publishes_the_same_figures():
    events = [registered(), opened(), allocated(), REDUCTION]
    causes = [Cause(uuid4(), e.type, n) for n, e in enumerate(events, start=1)]

    def run() -> list[Any]:
        figures = _figures()
        return [
            p.data for e, c in zip(events, causes, strict=True) for p in figures.apply(e, c, TODAY)
        ]

    assert run() == run()


# The calendar.


def test_a_day_begins_once_and_never_goes_back():
    first = CALENDAR.run(BeginDay(TODAY))

    assert first == [CalendarDayBegan(day=TODAY)]
    assert CALENDAR.run(BeginDay(TODAY), first) == []
    assert CALENDAR.run(BeginDay(TODAY - timedelta(days=1)), first) == []
    assert CALENDAR.run(BeginDay(TODAY + timedelta(days=1)), first) == [
        CalendarDayBegan(day=TODAY + timedelta(days=1))
    ]
