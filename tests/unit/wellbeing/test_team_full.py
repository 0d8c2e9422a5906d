"""A team declared full and lifted: given, when, then."""

from datetime import date

import pytest
from plimsoll_events.types.wellbeing import TeamFullDeclared, TeamFullLifted
from plimsoll_wellbeing.domain.errors import InvalidValue
from plimsoll_wellbeing.domain.team_full import (
    TEAM_FULL,
    DeclareFull,
    LiftFull,
    TeamAlreadyFull,
    TeamNotFull,
)

from .given import REGION, TEAM, TODAY

DECLARE = DeclareFull(TEAM, REGION, "hana.head", "Two vacancies", TODAY, 42, "BR-1-1")
LIFT = LiftFull(TEAM, REGION, "hana.head", "Officers started", date(2025, 4, 14))


def test_declaring_a_team_full_says_why_and_until_when():
    [event] = TEAM_FULL.run(DECLARE)
    assert event == TeamFullDeclared(
        team_id=TEAM,
        region_id=REGION,
        declared_by="hana.head",
        reason="Two vacancies",
        declared_on=TODAY,
        expected_duration_days=42,
        expected_until=date(2025, 4, 16),
        breach_id="BR-1-1",
    )


def test_a_team_full_already_cannot_be_declared_again():
    with pytest.raises(TeamAlreadyFull) as refused:
        TEAM_FULL.run(DECLARE, TEAM_FULL.run(DECLARE))
    assert refused.value.field == "team_id"


def test_lifting_a_team_declared_full():
    [event] = TEAM_FULL.run(LIFT, TEAM_FULL.run(DECLARE))
    assert event == TeamFullLifted(
        team_id=TEAM,
        region_id=REGION,
        lifted_by="hana.head",
        reason="Officers started",
        lifted_on=date(2025, 4, 14),
    )
    history = [*TEAM_FULL.run(DECLARE), event]
    assert TEAM_FULL.run(DECLARE, history)  # declared again after a lifting


def test_a_team_not_full_cannot_be_lifted_and_durations_are_bounded():
    with pytest.raises(TeamNotFull):
        TEAM_FULL.run(LIFT)
    with pytest.raises(InvalidValue) as refused:
        TEAM_FULL.run(DeclareFull(TEAM, REGION, "hana.head", "x", TODAY, 0))
    assert refused.value.field == "expected_duration_days"
