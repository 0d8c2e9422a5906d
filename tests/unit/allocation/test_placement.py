"""Transfers and line managers: given a practitioner's events, when a command, then events."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from plimsoll_allocation.domain import (
    PRACTITIONER,
    ChangeLineManager,
    Conflict,
    InvalidValue,
    KnownRegion,
    PractitionerCommand,
    PractitionerHasLeft,
    TransferPractitioner,
)
from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import (
    LineManagerChanged,
    PractitionerLeft,
    PractitionerTransferred,
)

from .given import REGION, TEAM, TODAY, registered

DAY = timedelta(days=1)
SOUTH, SOUTH_REGION = "T-SOUTH-1", "R-SOUTH"


def _transfer(**overrides: Any) -> TransferPractitioner:
    fields: dict[str, Any] = {
        "practitioner_id": "P-0001",
        "team_id": SOUTH,
        "region_id": SOUTH_REGION,
        "effective_on": TODAY,
        "line_manager_id": "P-0310",
        "team_region": KnownRegion(SOUTH_REGION),
        **overrides,
    }
    return TransferPractitioner(**fields)


def _transferred(**overrides: Any) -> PractitionerTransferred:
    fields: dict[str, Any] = {
        "practitioner_id": "P-0001",
        "team_id": SOUTH,
        "region_id": SOUTH_REGION,
        "previous_team_id": TEAM,
        "previous_region_id": REGION,
        "line_manager_id": "P-0310",
        "effective_on": TODAY,
        **overrides,
    }
    return PractitionerTransferred(**fields)


def _then(given: Sequence[EventData], command: PractitionerCommand) -> list[EventData]:
    return PRACTITIONER.run(command, given)


def _placed(given: Sequence[EventData], day: Any) -> tuple[str, str, str | None]:
    practitioner = PRACTITIONER.fold(given)
    assert practitioner is not None
    on = practitioner.on(day)
    return on.team_id, on.region_id, on.line_manager_id


# Transfers.


def test_a_transfer_records_the_team_they_leave_and_the_one_they_join():
    events = _then([registered()], _transfer())

    assert events == [_transferred()]


def test_they_work_in_the_new_team_from_the_day_the_transfer_takes_effect():
    given = [registered(), _transferred(effective_on=TODAY + 7 * DAY)]

    assert _placed(given, TODAY + 6 * DAY) == (TEAM, REGION, "P-0100")
    assert _placed(given, TODAY + 7 * DAY) == (SOUTH, SOUTH_REGION, "P-0310")


def test_the_team_they_leave_is_the_one_they_are_in_the_day_before():
    given = [registered(), _transferred(effective_on=TODAY + 5 * DAY)]

    [event] = _then(given, _transfer(team_id="T-SOUTH-2", effective_on=TODAY + 10 * DAY))

    assert isinstance(event, PractitionerTransferred)
    assert (event.previous_team_id, event.team_id) == (SOUTH, "T-SOUTH-2")


def test_a_transfer_recorded_later_wins_from_its_own_day_on():
    given = [
        registered(),
        _transferred(effective_on=TODAY + 10 * DAY),
        _transferred(team_id="T-SOUTH-2", effective_on=TODAY + 5 * DAY),
    ]

    assert _placed(given, TODAY + 4 * DAY)[0] == TEAM
    assert _placed(given, TODAY + 5 * DAY)[0] == "T-SOUTH-2"
    assert _placed(given, TODAY + 10 * DAY)[0] == "T-SOUTH-2"


def test_the_same_transfer_recorded_again_records_nothing():
    assert _then([registered(), _transferred()], _transfer()) == []


def test_a_transfer_to_the_team_they_are_in_is_refused():
    with pytest.raises(Conflict) as refused:
        _then(
            [registered()],
            _transfer(team_id=TEAM, region_id=REGION, team_region=KnownRegion(REGION)),
        )

    assert refused.value.field == "team_id"


def test_a_transfer_before_they_started_is_refused():
    with pytest.raises(InvalidValue) as refused:
        _then([registered()], _transfer(effective_on=registered().start_date - DAY))

    assert refused.value.field == "effective_on"


def test_someone_who_has_left_is_not_transferred():
    left = PractitionerLeft(practitioner_id="P-0001", leaving_date=TODAY + 30 * DAY)

    with pytest.raises(PractitionerHasLeft) as refused:
        _then([registered(), left], _transfer())

    assert refused.value.status == 409


def test_a_team_stays_in_its_region_when_someone_joins_it():
    with pytest.raises(Conflict) as refused:
        _then([registered()], _transfer(team_region=KnownRegion("R-EAST")))

    assert refused.value.field == "region_id"
    assert _then([registered()], _transfer(team_region=KnownRegion(None))) == [_transferred()]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"team_id": "T SOUTH"}, "team_id"),
        ({"region_id": ""}, "region_id"),
        ({"line_manager_id": "P-0001"}, "line_manager_id"),
        ({"team_region": None}, "team_region"),
    ],
)
def test_a_bad_transfer_names_the_field(changes: dict[str, Any], field: str):
    with pytest.raises(InvalidValue) as refused:
        _then([registered()], _transfer(**changes))

    assert refused.value.field == field


# Line managers.


def test_changing_the_line_manager_records_who_it_was():
    events = _then([registered()], ChangeLineManager("P-0001", "P-0101", TODAY))

    assert events == [
        LineManagerChanged(
            practitioner_id="P-0001", line_manager_id="P-0101", previous_line_manager_id="P-0100"
        )
    ]


def test_the_same_line_manager_records_nothing():
    assert _then([registered()], ChangeLineManager("P-0001", "P-0100", TODAY)) == []


def test_a_line_manager_change_applies_to_the_team_they_are_in_today():
    given = [registered(), _transferred(effective_on=TODAY - DAY)]

    [event] = _then(given, ChangeLineManager("P-0001", "P-0311", TODAY))

    assert isinstance(event, LineManagerChanged)
    assert event.previous_line_manager_id == "P-0310"
    assert _placed([*given, event], TODAY) == (SOUTH, SOUTH_REGION, "P-0311")


def test_no_line_manager_change_while_a_transfer_is_to_come():
    given = [registered(), _transferred(effective_on=TODAY + DAY)]

    with pytest.raises(Conflict) as refused:
        _then(given, ChangeLineManager("P-0001", "P-0101", TODAY))

    assert refused.value.field == "line_manager_id"


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (ChangeLineManager("P-0001", "P-0001", TODAY), "line_manager_id"),
        (ChangeLineManager("P-0001", "P-0101"), "today"),
    ],
    ids=["their-own", "no-day"],
)
def test_a_bad_line_manager_change_names_the_field(command: ChangeLineManager, field: str):
    with pytest.raises(InvalidValue) as refused:
        _then([registered()], command)

    assert refused.value.field == field


def test_someone_who_has_left_keeps_their_line_manager():
    left = PractitionerLeft(practitioner_id="P-0001", leaving_date=TODAY)

    with pytest.raises(PractitionerHasLeft):
        _then([registered(), left], ChangeLineManager("P-0001", "P-0101", TODAY))
