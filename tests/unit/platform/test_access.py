"""The scope rules of every service: a manager's team, a head of service's region, admins and
services everywhere, a practitioner their own record, ops figures without names."""

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from plimsoll_events.refusals import NotFound, OutsideScope, Refused
from plimsoll_platform.access import SCOPED, Caller, Forbidden, Place, Rule, may
from plimsoll_platform.auth import Principal
from plimsoll_platform.problems import (
    install_problem_handlers,
    install_problem_mapping,
    refusal_problem,
)
from plimsoll_platform.roles import Role

NORTH_1 = Place("T-NORTH-1", "R-NORTH")
NORTH_2 = Place("T-NORTH-2", "R-NORTH")
SOUTH_1 = Place("T-SOUTH-1", "R-SOUTH")
NEW_TEAM = Place("T-NEW", None)


def _principal(*roles: str, team: str | None = None, region: str | None = None, me=None):
    return Principal(
        subject="s",
        username="u",
        roles=frozenset(roles),
        team=team,
        region=region,
        practitioner_id=me,
    )


MANAGER = _principal("manager", team="T-NORTH-1", region="R-NORTH")
HEAD = _principal("head-of-service", team="T-NORTH-1", region="R-NORTH")
ADMIN = _principal("admin")
SERVICE = _principal("service")
OPS = _principal("ops", team="T-NORTH-1", region="R-NORTH")
PAT = _principal("practitioner", team="T-NORTH-1", region="R-NORTH", me="P-0001")

READERS = Rule(frozenset(SCOPED), own_record=True)
FIGURES = Rule(frozenset(SCOPED), aggregates=True)


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
        (ADMIN, SOUTH_1, True),
        (SERVICE, NEW_TEAM, True),
        (OPS, NORTH_1, False),
        (PAT, NORTH_1, False),
    ],
)
def test_who_reaches_which_place(principal, place, expected):
    assert Caller(principal, READERS).reaches(place) is expected


def test_a_route_that_leaves_out_a_role_does_not_let_it_reach_anything():
    heads_only = Rule(frozenset({Role.HEAD_OF_SERVICE}))
    both = _principal("manager", "head-of-service", team="T-SOUTH-1", region="R-NORTH")
    assert Caller(both, heads_only).reaches(NORTH_2)
    assert not Caller(both, heads_only).reaches(SOUTH_1)  # their team, but not as a manager here


def test_a_practitioner_reaches_their_own_record_only_where_the_route_allows_it():
    Caller(PAT, READERS).check_practitioner("P-0001", NORTH_1)
    with pytest.raises(OutsideScope, match="only their own record"):
        Caller(PAT, READERS).check_practitioner("P-0002", NORTH_1)
    with pytest.raises(OutsideScope):
        Caller(PAT, Rule(frozenset(SCOPED))).check_practitioner("P-0001", NORTH_1)


def test_an_unknown_practitioner_looks_like_one_outside_scope_except_to_admins():
    with pytest.raises(OutsideScope) as unknown:
        Caller(MANAGER, READERS).check_practitioner("P-NOBODY", None, field="practitioner_id")
    with pytest.raises(OutsideScope) as elsewhere:
        Caller(MANAGER, READERS).check_practitioner("P-NOBODY", SOUTH_1, field="practitioner_id")
    assert str(unknown.value) == str(elsewhere.value)
    assert unknown.value.field == "practitioner_id"
    with pytest.raises(NotFound):
        Caller(ADMIN, READERS).check_practitioner("P-NOBODY", None)


def test_a_refusal_names_the_callers_own_scope_never_the_other_records():
    with pytest.raises(OutsideScope) as refused:
        Caller(HEAD, READERS).check_practitioner("P-9", SOUTH_1)
    assert "R-NORTH" in refused.value.reason
    assert "R-SOUTH" not in refused.value.reason
    assert "T-SOUTH-1" not in refused.value.reason


def test_a_team_nobody_is_registered_in_yet_is_an_admins():
    with pytest.raises(OutsideScope, match="not known"):
        Caller(HEAD, READERS).check_place(NEW_TEAM, field="team_id")
    Caller(ADMIN, READERS).check_place(NEW_TEAM)


def test_ops_see_figures_without_names_and_only_where_the_route_says():
    assert Caller(OPS, FIGURES).named_figures(SOUTH_1) is False
    assert Caller(MANAGER, FIGURES).named_figures(NORTH_1) is True
    with pytest.raises(OutsideScope):
        Caller(MANAGER, FIGURES).named_figures(NORTH_2)
    with pytest.raises(OutsideScope):
        Caller(OPS, READERS).named_figures(SOUTH_1)


def test_a_region_is_read_by_its_head_admins_services_and_ops_as_figures():
    assert Caller(HEAD, FIGURES).check_region("R-NORTH") is True
    assert Caller(SERVICE, FIGURES).check_region("R-SOUTH") is True
    assert Caller(OPS, FIGURES).check_region("R-SOUTH") is False
    with pytest.raises(OutsideScope):
        Caller(HEAD, FIGURES).check_region("R-SOUTH", field="region_id")
    with pytest.raises(OutsideScope):
        Caller(MANAGER, FIGURES).check_region("R-NORTH")


def _app() -> TestClient:
    app = FastAPI()
    install_problem_handlers(app)
    install_problem_mapping(app, {Refused: refusal_problem})
    principals = {"manager": MANAGER, "ops": OPS, "pat": PAT}

    @app.middleware("http")
    async def as_principal(request, call_next):
        request.state.principal = principals[request.headers["x-who"]]
        return await call_next(request)

    reader = Depends(may(*SCOPED, own_record=True))

    @app.get("/practitioners/{practitioner_id}")
    def read(practitioner_id: str, caller: Caller = reader):
        caller.check_practitioner(practitioner_id, NORTH_1 if practitioner_id != "P-X" else None)
        return {"practitioner_id": practitioner_id}

    return TestClient(app)


def test_a_role_the_route_does_not_name_is_refused_before_anything_is_read():
    client = _app()
    refused = client.get("/practitioners/P-0001", headers={"x-who": "ops"})
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/forbidden")
    assert issubclass(Forbidden, Refused)
    assert client.get("/practitioners/P-0001", headers={"x-who": "pat"}).status_code == 200
    assert client.get("/practitioners/P-0002", headers={"x-who": "manager"}).status_code == 200
    unknown = client.get("/practitioners/P-X", headers={"x-who": "manager"})
    assert unknown.status_code == 403
    assert unknown.json()["type"].endswith("/outside-scope")
