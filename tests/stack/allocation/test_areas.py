"""A head of service acts in their area: the region of their token's `region` claim.

hana.head is head of service of R-NORTH, hugo.head of R-SOUTH (the realm's
demo users). Each test sets up what it needs in fresh teams; refusals are
checked to write nothing.
"""

import pytest

from .api import (
    allocate_case,
    assert_problem,
    fresh_suffix,
    open_case,
    register_practitioner,
)

pytestmark = pytest.mark.stack

NORTH, SOUTH = "hana.head", "hugo.head"


def _registration(team: str | None = None, region: str = "R-SOUTH", hours: str = "37") -> dict:
    practitioner_id = f"P-S-{fresh_suffix()}"
    return {
        "practitioner_id": practitioner_id,
        "name": f"Area Tester {practitioner_id}",
        "grade": "PO",
        "team_id": team or f"T-SOUTH-{fresh_suffix()}",
        "region_id": region,
        "contracted_hours": hours,
        "start_date": "2024-09-02",
    }


def _register_in_south(api, tokens, team: str | None = None, hours: str = "37") -> str:
    body = _registration(team, hours=hours)
    response = api.post("/practitioners", json=body, headers=tokens(SOUTH))
    assert response.status_code == 201, response.text
    return str(body["practitioner_id"])


def test_the_token_carries_the_region(api, tokens):
    me = api.get("/me", headers=tokens(NORTH))

    assert me.status_code == 200, me.text
    assert me.json()["region"] == "R-NORTH"
    assert api.get("/me", headers=tokens(SOUTH)).json()["region"] == "R-SOUTH"


def test_a_head_of_service_reads_and_changes_only_their_regions_practitioners(
    api, tokens, allocation_store
):
    south = _register_in_south(api, tokens)
    stream = f"practitioner-{south}"
    written = len(allocation_store.read_stream(stream))

    for path in ("", "/capacity", "/caseload"):
        refused = api.get(f"/practitioners/{south}{path}", headers=tokens(NORTH))
        assert refused.status_code == 403, (path, refused.text)
        assert api.get(f"/practitioners/{south}{path}", headers=tokens(SOUTH)).status_code == 200
    changed = api.put(
        f"/practitioners/{south}/contracted-hours",
        json={"contracted_hours": "30"},
        headers=tokens(NORTH),
    )
    assert changed.json()["type"].endswith("/outside-scope")
    assert len(allocation_store.read_stream(stream)) == written
    north = register_practitioner(api, tokens)
    assert api.get(f"/practitioners/{north}/capacity", headers=tokens(NORTH)).status_code == 200
    assert api.get(f"/practitioners/{north}/capacity", headers=tokens(SOUTH)).status_code == 403


def test_a_head_of_service_registers_only_in_their_region(api, tokens, allocation_store):
    body = _registration()

    refused = api.post("/practitioners", json=body, headers=tokens(NORTH))

    assert_problem(refused, 403, "region_id")
    assert allocation_store.read_stream(f"practitioner-{body['practitioner_id']}") == []


def test_a_team_stays_in_its_region(api, tokens, allocation_store):
    """Else anyone registering into another region's team would widen their own area."""
    team = f"T-SOUTH-{fresh_suffix()}"
    _register_in_south(api, tokens, team)
    body = _registration(team, region="R-NORTH")

    refused = api.post("/practitioners", json=body, headers=tokens("ada.admin"))

    assert_problem(refused, 409, "region_id")
    assert allocation_store.read_stream(f"practitioner-{body['practitioner_id']}") == []


def test_a_head_of_service_opens_cases_and_reads_teams_only_in_their_region(api, tokens):
    team = f"T-SOUTH-{fresh_suffix()}"
    _register_in_south(api, tokens, team)
    body = {"case_id": f"X{fresh_suffix()}", "team_id": team, "case_type": "community"}
    body["tier"] = "C1"

    assert_problem(api.post("/cases", json=body, headers=tokens(NORTH)), 403, "team_id")
    assert api.post("/cases", json=body, headers=tokens(SOUTH)).status_code == 201
    assert api.get(f"/cases/{body['case_id']}", headers=tokens(NORTH)).status_code == 403
    assert api.get(f"/teams/{team}/capacity", headers=tokens(NORTH)).status_code == 403
    assert api.get(f"/teams/{team}/capacity", headers=tokens(SOUTH)).status_code == 200


def test_a_team_nobody_is_registered_in_is_reached_by_admins_only(api, tokens):
    body = {"case_id": f"X{fresh_suffix()}", "team_id": f"T-NEW-{fresh_suffix()}"}
    body |= {"case_type": "community", "tier": "C1"}

    refused = api.post("/cases", json=body, headers=tokens(NORTH))

    assert "not known" in assert_problem(refused, 403, "team_id")["detail"]
    assert api.post("/cases", json=body, headers=tokens("ada.admin")).status_code == 201


def test_a_head_of_service_allocates_only_within_their_region(api, tokens, allocation_store):
    south = _register_in_south(api, tokens)
    case_id = open_case(api, tokens, "community", "C1", user=NORTH)

    refused = allocate_case(api, tokens, case_id, south, user=NORTH)

    assert_problem(refused, 403, "practitioner_id")
    assert [e.type for e in allocation_store.read_stream(f"case-{case_id}")] == ["case-opened"]
    # Nor may the other region's head take the case across.
    assert_problem(allocate_case(api, tokens, case_id, south, user=SOUTH), 403, "case_id")


def test_a_case_crosses_regions_only_as_a_transfer_in(api, tokens):
    team = f"T-SOUTH-{fresh_suffix()}"
    south = _register_in_south(api, tokens, team)
    case_id = open_case(api, tokens, "community", "C1", team=team, user=SOUTH)
    assert allocate_case(api, tokens, case_id, south, user=SOUTH).status_code == 201
    north = register_practitioner(api, tokens)

    def reallocate(reason: str):
        body = {"practitioner_id": north, "reason": reason, "note": "moved north"}
        return api.post(f"/cases/{case_id}/reallocation", json=body, headers=tokens(NORTH))

    assert_problem(reallocate("OTHER"), 403, "case_id")
    moved = reallocate("TRANSFER_IN")
    assert moved.status_code == 201, moved.text
    assert moved.json()["case"]["team_id"] == "T-NORTH-1"


def test_overrides_are_listed_to_the_head_of_their_region_only(api, tokens):
    team = f"T-SOUTH-{fresh_suffix()}"
    short_hours = _register_in_south(api, tokens, team, hours="3.7")  # 217 available points
    case_id = open_case(api, tokens, "licence", "A3", team=team, user=SOUTH)  # 100.9%
    override = {"override_reason": "cover while the team recruits"}
    allocated = allocate_case(api, tokens, case_id, short_hours, SOUTH, **override)
    assert allocated.status_code == 201, allocated.text

    def listed(user: str, **params) -> list[str]:
        response = api.get("/overrides", params=params, headers=tokens(user))
        assert response.status_code == 200, response.text
        return [o["case_id"] for o in response.json()["overrides"]]

    assert case_id in listed(SOUTH)
    assert case_id not in listed(NORTH)
    assert case_id in listed("ada.admin", region_id="R-SOUTH")
    assert case_id not in listed("ada.admin", region_id="R-NORTH")
    elsewhere = api.get("/overrides", params={"region_id": "R-SOUTH"}, headers=tokens(NORTH))
    assert_problem(elsewhere, 403, "region_id")


def test_onboarding_refuses_rows_outside_the_uploaders_region(api, tokens, allocation_store):
    north_id, south_id = f"P-ON-{fresh_suffix()}", f"P-OS-{fresh_suffix()}"
    csv = (
        "practitioner_id,name,grade,team_id,region_id,contracted_hours,start_date\n"
        f"{north_id},North Row,PO,T-NORTH-1,R-NORTH,37,2024-09-02\n"
        f"{south_id},South Row,PO,T-SOUTH-{fresh_suffix()},R-SOUTH,37,2024-09-02\n"
    )

    response = api.post(
        "/onboarding/practitioners",
        content=csv,
        headers={**tokens(NORTH), "Content-Type": "text/csv"},
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert report["accepted"] == 1
    [rejected] = report["rejected"]
    assert (rejected["line"], rejected["field"]) == (3, "region_id")
    assert allocation_store.read_stream(f"practitioner-{south_id}") == []
    assert allocation_store.read_stream(f"practitioner-{north_id}") != []
