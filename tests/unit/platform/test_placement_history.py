"""A practitioner's placement day by day, folded from allocation's events (no I/O)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import (
    CaseClosed,
    ContractedHoursChanged,
    LineManagerChanged,
    PractitionerLeft,
    PractitionerRegistered,
    PractitionerTransferred,
)
from plimsoll_platform.placement_history import (
    Period,
    PlacementHistory,
    UnknownPractitioner,
    evolve,
)

RECORDED = datetime(2026, 12, 1, 10, tzinfo=UTC)


def registered(start: date = date(2026, 1, 5), **extra: object) -> PractitionerRegistered:
    fields: dict[str, object] = {
        "practitioner_id": "P-1",
        "name": "Pat Practitioner",
        "grade": "PO",
        "team_id": "T-NORTH-1",
        "region_id": "R-NORTH",
        "contracted_hours": Decimal(37),
        "line_manager_id": "P-MO",
        "start_date": start,
        **extra,
    }
    return PractitionerRegistered(**fields)  # type: ignore[arg-type]


def transferred(effective_on: date, team: str = "T-SOUTH-1", manager: str | None = "P-SAM"):
    return PractitionerTransferred(
        practitioner_id="P-1",
        team_id=team,
        region_id="R-SOUTH" if "SOUTH" in team else "R-NORTH",
        previous_team_id="T-NORTH-1",
        previous_region_id="R-NORTH",
        line_manager_id=manager,
        effective_on=effective_on,
    )


def given(*events: EventData | tuple[EventData, datetime]) -> PlacementHistory:
    history = None
    for item in events:
        data, recorded = item if isinstance(item, tuple) else (item, RECORDED)
        history = evolve(history, data, recorded)
    assert history is not None
    return history


def places(history: PlacementHistory) -> list[tuple[date, str, str | None, Decimal]]:
    return [
        (p.valid_from, p.team_id, p.line_manager_id, p.contracted_hours) for p in history.periods
    ]


def test_registration_places_them_from_their_start_date():
    history = given(registered())
    assert history.on(date(2026, 1, 4)) is None  # not started yet
    placement = history.on(date(2026, 1, 5))
    assert placement is not None
    assert (placement.team_id, placement.region_id, placement.line_manager_id) == (
        "T-NORTH-1",
        "R-NORTH",
        "P-MO",
    )
    assert placement.placed_to is None


def test_a_transfer_with_a_future_date_changes_nothing_until_that_day():
    history = given(registered(), transferred(date(2027, 2, 1)))
    before, after = history.on(date(2027, 1, 31)), history.on(date(2027, 2, 1))
    assert before is not None
    assert after is not None
    assert (before.team_id, before.line_manager_id, before.placed_to) == (
        "T-NORTH-1",
        "P-MO",
        date(2027, 1, 31),
    )
    assert (after.team_id, after.region_id, after.line_manager_id) == (
        "T-SOUTH-1",
        "R-SOUTH",
        "P-SAM",
    )
    assert history.current(date(2026, 12, 1)).team_id == "T-NORTH-1"


def test_a_later_recorded_transfer_wins_for_the_days_both_cover():
    history = given(
        registered(),
        transferred(date(2027, 2, 1), team="T-SOUTH-1"),
        transferred(date(2027, 1, 15), team="T-NORTH-2", manager="P-NED"),
    )
    assert places(history) == [
        (date(2026, 1, 5), "T-NORTH-1", "P-MO", Decimal(37)),
        (date(2027, 1, 15), "T-NORTH-2", "P-NED", Decimal(37)),
    ]


def test_a_line_manager_change_holds_from_the_uk_day_it_was_recorded_until_a_team_change():
    # Recorded 23:30 UTC on 30 June 2026: 1 July in the UK.
    history = given(
        registered(),
        transferred(date(2026, 9, 1)),
        (
            LineManagerChanged(
                practitioner_id="P-1", line_manager_id="P-MAX", previous_line_manager_id="P-MO"
            ),
            datetime(2026, 6, 30, 23, 30, tzinfo=UTC),
        ),
    )
    assert places(history) == [
        (date(2026, 1, 5), "T-NORTH-1", "P-MO", Decimal(37)),
        (date(2026, 7, 1), "T-NORTH-1", "P-MAX", Decimal(37)),
        # The new team's manager, as the transfer named them.
        (date(2026, 9, 1), "T-SOUTH-1", "P-SAM", Decimal(37)),
    ]


def test_contracted_hours_change_from_the_day_recorded_through_later_placements():
    history = given(
        registered(),
        transferred(date(2027, 2, 1)),
        ContractedHoursChanged(
            practitioner_id="P-1",
            contracted_hours=Decimal("22.5"),
            previous_contracted_hours=Decimal(37),
        ),
    )
    assert places(history) == [
        (date(2026, 1, 5), "T-NORTH-1", "P-MO", Decimal(37)),
        (date(2026, 12, 1), "T-NORTH-1", "P-MO", Decimal("22.5")),
        (date(2027, 2, 1), "T-SOUTH-1", "P-SAM", Decimal("22.5")),
    ]


def test_leaving_ends_their_time_in_post_but_their_record_stays():
    history = given(
        registered(), PractitionerLeft(practitioner_id="P-1", leaving_date=date(2026, 11, 30))
    )
    assert history.on(date(2026, 11, 30)) is not None  # their last day
    assert history.on(date(2026, 12, 1)) is None
    current = history.current(date(2026, 12, 1))
    assert current.team_id == "T-NORTH-1"
    assert current.leaving_date == date(2026, 11, 30)
    assert not current.in_post(date(2026, 12, 1))


def test_before_they_start_their_current_placement_is_their_first():
    history = given(registered(start=date(2027, 3, 1)))
    current = history.current(date(2026, 12, 1))
    assert current.placed_from == date(2027, 3, 1)
    assert not current.in_post(date(2026, 12, 1))


def test_every_event_applied_twice_gives_what_once_gave():
    events: list[tuple[EventData, datetime]] = [
        (registered(), RECORDED),
        (transferred(date(2027, 2, 1)), RECORDED),
        (
            LineManagerChanged(
                practitioner_id="P-1", line_manager_id="P-MAX", previous_line_manager_id="P-MO"
            ),
            RECORDED,
        ),
        (
            ContractedHoursChanged(
                practitioner_id="P-1",
                contracted_hours=Decimal(30),
                previous_contracted_hours=Decimal(37),
            ),
            datetime(2027, 3, 1, 9, tzinfo=UTC),
        ),
        (PractitionerLeft(practitioner_id="P-1", leaving_date=date(2027, 6, 30)), RECORDED),
    ]
    once = given(*events)
    twice = given(*(item for pair in zip(events, events, strict=True) for item in pair))
    assert once == twice


def test_changing_a_manager_to_the_same_one_adds_no_period():
    history = given(
        registered(),
        LineManagerChanged(
            practitioner_id="P-1", line_manager_id="P-MO", previous_line_manager_id="P-MO"
        ),
    )
    assert history.periods == (
        Period(date(2026, 1, 5), "T-NORTH-1", "R-NORTH", "P-MO", Decimal(37)),
    )


def test_other_events_change_nothing_and_a_stranger_is_refused():
    history = given(registered())
    case_closed = CaseClosed(
        case_id="X1",
        practitioner_id="P-1",
        team_id="T-NORTH-1",
        points=50,
        closed_on=date(2026, 12, 1),
    )
    assert evolve(history, case_closed, RECORDED) is history
    assert evolve(None, case_closed, RECORDED) is None
    with pytest.raises(UnknownPractitioner, match="P-1"):
        evolve(None, transferred(date(2027, 2, 1)), RECORDED)
