"""The scope a token gives: a manager's team, a head of service's region, admins everywhere."""

import pytest
from plimsoll_allocation.access import Place, actor, check_reaches, check_region, reaches
from plimsoll_allocation.domain import OutsideScope
from plimsoll_platform.auth import Principal
from plimsoll_platform.problems import Problem

NORTH_1 = Place("T-NORTH-1", "R-NORTH")
NORTH_2 = Place("T-NORTH-2", "R-NORTH")
SOUTH_1 = Place("T-SOUTH-1", "R-SOUTH")
NEW_TEAM = Place("T-NEW", None)


def _principal(*roles: str, team: str | None = None, region: str | None = None) -> Principal:
    return Principal(subject="s", username="u", roles=frozenset(roles), team=team, region=region)


MANAGER = _principal("manager", team="T-NORTH-1", region="R-NORTH")
HEAD = _principal("head-of-service", team="T-NORTH-1", region="R-NORTH")


@pytest.mark.parametrize(
    ("principal", "place", "expected"),
    [
        (MANAGER, NORTH_1, True),
        (MANAGER, NORTH_2, False),
        (MANAGER, NEW_TEAM, False),
        (HEAD, NORTH_1, True),
        (HEAD, NORTH_2, True),
        (HEAD, SOUTH_1, False),
        (HEAD, NEW_TEAM, False),
        (_principal("head-of-service"), NORTH_1, False),
        (_principal("manager"), Place("T-NORTH-1", None), False),
        (_principal("admin"), SOUTH_1, True),
        (_principal("service"), NEW_TEAM, True),
        (_principal("ops", team="T-NORTH-1", region="R-NORTH"), NORTH_1, False),
        (_principal("practitioner", team="T-NORTH-1", region="R-NORTH"), NORTH_1, False),
    ],
)
def test_who_reaches_which_team(principal: Principal, place: Place, expected: bool):
    assert reaches(principal, place) is expected


def test_a_head_of_service_outside_their_region_is_told_where_the_team_is():
    with pytest.raises(OutsideScope) as refused:
        check_reaches(HEAD, SOUTH_1, field="team_id")

    assert refused.value.status == 403
    assert refused.value.field == "team_id"
    assert "region R-SOUTH" in refused.value.reason


def test_a_head_of_service_without_a_region_is_told_so():
    with pytest.raises(OutsideScope) as refused:
        check_reaches(_principal("head-of-service"), NORTH_1)

    assert "no region" in refused.value.reason


def test_a_team_nobody_is_registered_in_is_for_admins():
    with pytest.raises(OutsideScope) as refused:
        check_reaches(HEAD, NEW_TEAM)

    assert "not known" in refused.value.reason


def test_roles_without_a_scope_are_forbidden_outright():
    with pytest.raises(Problem) as refused:
        check_reaches(_principal("ops"), NORTH_1)

    assert refused.value.details.status == 403


def test_a_region_is_read_by_its_head_and_admins_only():
    check_region(HEAD, "R-NORTH")
    check_region(_principal("admin"), "R-SOUTH")
    for principal in (HEAD, MANAGER, _principal("head-of-service")):
        with pytest.raises(OutsideScope):
            check_region(principal, "R-SOUTH")


def test_the_actor_carries_the_token_region():
    assert actor(HEAD).region_id == "R-NORTH"
    assert actor(HEAD).team_id == "T-NORTH-1"
