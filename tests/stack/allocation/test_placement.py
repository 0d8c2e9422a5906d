"""Transfers and line managers, and records outside a caller's scope, end to end.

hana.head heads R-NORTH, hugo.head R-SOUTH; mo.manager manages T-NORTH-1. Each
test works in fresh teams (the service's database persists between runs).
"""

from datetime import timedelta

import pytest

from ..calendar import uk_today
from .api import allocate_case, assert_problem, fresh_suffix, open_case, register_practitioner

pytestmark = pytest.mark.stack


def _team(region: str = "NORTH") -> str:
    return f"T-{region}-{fresh_suffix()}"


def _transfer(api, tokens, practitioner_id: str, user: str = "hana.head", **body):
    return api.post(
        f"/practitioners/{practitioner_id}/transfer",
        json={"effective_on": uk_today().isoformat(), **body},
        headers=tokens(user),
    )


def _members(api, tokens, team: str) -> list[str]:
    response = api.get(f"/teams/{team}/capacity", headers=tokens("ada.admin"))
    assert response.status_code == 200, response.text
    return [row["practitioner_id"] for row in response.json()["practitioners"]]


def test_a_transfer_moves_the_practitioner_their_scope_and_the_team_figures(
    api, tokens, allocation_store
):
    leaving, joining = _team(), _team()
    practitioner_id = register_practitioner(api, tokens, team=leaving, user="hana.head")
    register_practitioner(api, tokens, team=joining, user="hana.head")  # places the new team
    case_id = open_case(api, tokens, "community", "C1", team=leaving, user="hana.head")
    assert allocate_case(api, tokens, case_id, practitioner_id, user="hana.head").is_success

    moved = _transfer(
        api, tokens, practitioner_id, team_id=joining, region_id="R-NORTH", line_manager_id="P-9"
    )

    assert moved.status_code == 200, moved.text
    assert (moved.json()["team_id"], moved.json()["line_manager_id"]) == (joining, "P-9")
    [*_, event] = allocation_store.read_stream(f"practitioner-{practitioner_id}")
    assert event.type == "practitioner-transferred"
    assert (event.data["previous_team_id"], event.data["team_id"]) == (leaving, joining)
    assert practitioner_id not in _members(api, tokens, leaving)
    assert practitioner_id in _members(api, tokens, joining)
    capacity = api.get(f"/teams/{joining}/capacity", headers=tokens("hana.head")).json()
    row = next(r for r in capacity["practitioners"] if r["practitioner_id"] == practitioner_id)
    assert row["total_points"] == 50  # their caseload moves with them


def test_a_transfer_to_come_changes_nothing_before_its_day(api, tokens):
    leaving, joining = _team(), _team()
    practitioner_id = register_practitioner(api, tokens, team=leaving, user="hana.head")
    tomorrow = (uk_today() + timedelta(days=1)).isoformat()

    moved = _transfer(
        api, tokens, practitioner_id, team_id=joining, region_id="R-NORTH", effective_on=tomorrow
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["team_id"] == leaving
    assert practitioner_id in _members(api, tokens, leaving)
    # Until then the line manager stays theirs to change in the new team, with the transfer.
    refused = api.put(
        f"/practitioners/{practitioner_id}/line-manager",
        json={"line_manager_id": "P-7"},
        headers=tokens("hana.head"),
    )
    assert_problem(refused, 409, "line_manager_id")


def test_a_transfer_needs_the_caller_in_both_places(api, tokens, allocation_store):
    practitioner_id = register_practitioner(api, tokens)  # mo.manager's team, T-NORTH-1
    south = _team("SOUTH")
    in_the_north = register_practitioner(api, tokens, team=_team(), user="hana.head")
    stream = f"practitioner-{practitioner_id}"

    to_another_team = _transfer(
        api, tokens, practitioner_id, "mo.manager", team_id=_team(), region_id="R-NORTH"
    )
    assert assert_problem(to_another_team, 403, "team_id")["type"].endswith("/outside-scope")
    to_another_region = _transfer(api, tokens, practitioner_id, team_id=south, region_id="R-SOUTH")
    assert_problem(to_another_region, 403, "region_id")
    from_another_region = _transfer(
        api, tokens, in_the_north, "hugo.head", team_id=south, region_id="R-SOUTH"
    )
    assert_problem(from_another_region, 403, "practitioner_id")
    assert [e.type for e in allocation_store.read_stream(stream)] == ["practitioner-registered"]

    by_admin = _transfer(
        api, tokens, practitioner_id, "ada.admin", team_id=south, region_id="R-SOUTH"
    )
    assert by_admin.status_code == 200, by_admin.text
    assert api.get(f"/practitioners/{practitioner_id}", headers=tokens("hugo.head")).is_success
    gone = api.get(f"/practitioners/{practitioner_id}", headers=tokens("hana.head"))
    assert_problem(gone, 403, "practitioner_id")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"team_id": "T-NORTH-1", "region_id": "R-NORTH"}, 409, "team_id"),
        ({"team_id": "T NORTH", "region_id": "R-NORTH"}, 422, "team_id"),
        (
            {"team_id": "T-X", "region_id": "R-NORTH", "effective_on": "2001-01-01"},
            422,
            "effective_on",
        ),
    ],
    ids=["same-team", "bad-id", "before-they-started"],
)
def test_a_bad_transfer_is_refused_and_records_nothing(
    api, tokens, allocation_store, body, status, field
):
    practitioner_id = register_practitioner(api, tokens)

    refused = _transfer(api, tokens, practitioner_id, **body)

    assert_problem(refused, status, field)
    assert len(allocation_store.read_stream(f"practitioner-{practitioner_id}")) == 1


def test_someone_who_has_left_is_not_transferred(api, tokens):
    practitioner_id = register_practitioner(api, tokens)
    leaving = {"leaving_date": uk_today().isoformat()}
    assert api.post(
        f"/practitioners/{practitioner_id}/leaving", json=leaving, headers=tokens("mo.manager")
    ).is_success

    refused = _transfer(api, tokens, practitioner_id, team_id=_team(), region_id="R-NORTH")

    assert assert_problem(refused, 409, "practitioner_id")["type"].endswith("/practitioner-left")


def test_the_line_manager_changes_from_today(api, tokens, allocation_store):
    practitioner_id = register_practitioner(api, tokens)
    path = f"/practitioners/{practitioner_id}/line-manager"

    changed = api.put(path, json={"line_manager_id": "P-0101"}, headers=tokens("mo.manager"))

    assert changed.status_code == 200, changed.text
    assert changed.json()["line_manager_id"] == "P-0101"
    [*_, event] = allocation_store.read_stream(f"practitioner-{practitioner_id}")
    assert (event.type, event.data["previous_line_manager_id"]) == ("line-manager-changed", None)
    again = api.put(path, json={"line_manager_id": "P-0101"}, headers=tokens("mo.manager"))
    assert again.status_code == 200
    assert len(allocation_store.read_stream(f"practitioner-{practitioner_id}")) == 2
    assert (
        api.put(path, json={"line_manager_id": "P-1"}, headers=tokens("hugo.head")).status_code
        == 403
    )
    as_themself = api.put(path, json={"line_manager_id": None}, headers=tokens("pat.practitioner"))
    assert as_themself.status_code == 403


# Records outside the caller's scope look like records that do not exist.


def test_a_case_elsewhere_and_no_case_at_all_are_refused_alike(api, tokens):
    south = _team("SOUTH")
    register_practitioner_in_south = {
        "practitioner_id": f"P-S-{fresh_suffix()}",
        "name": "South Tester",
        "grade": "PO",
        "team_id": south,
        "region_id": "R-SOUTH",
        "contracted_hours": "37",
        "start_date": "2024-09-02",
    }
    assert api.post(
        "/practitioners", json=register_practitioner_in_south, headers=tokens("hugo.head")
    ).is_success
    elsewhere = open_case(api, tokens, "community", "C1", team=south, user="hugo.head")
    nowhere = f"X{fresh_suffix()}"

    for path in ("", "/tier"):
        method = api.get if not path else api.put
        kwargs = {} if not path else {"json": {"tier": "A3"}}
        answers = [
            method(f"/cases/{case_id}{path}", headers=tokens("mo.manager"), **kwargs)
            for case_id in (elsewhere, nowhere)
        ]
        problems = [assert_problem(answer, 403, "case_id") for answer in answers]
        cases = (elsewhere, nowhere)
        details = [p["detail"].replace(c, "X") for p, c in zip(problems, cases, strict=True)]
        assert details[0] == details[1], details
        assert south not in problems[0]["detail"]
        assert "R-SOUTH" not in problems[0]["detail"]
    assert_problem(api.get(f"/cases/{nowhere}", headers=tokens("ada.admin")), 404, "case_id")
    mine = register_practitioner(api, tokens)
    for case_id in (elsewhere, nowhere):
        assert_problem(allocate_case(api, tokens, case_id, mine), 403, "case_id")


def test_allocating_to_someone_unknown_or_elsewhere_is_refused_alike(api, tokens):
    case_id = open_case(api, tokens, "community", "C1")
    elsewhere = register_practitioner(api, tokens, team=_team(), user="hana.head")
    nobody = f"P-T-{fresh_suffix()}"

    refusals = [
        assert_problem(allocate_case(api, tokens, case_id, practitioner_id), 403, "practitioner_id")
        for practitioner_id in (elsewhere, nobody)
    ]

    assert refusals[0]["detail"].replace(elsewhere, "X") == refusals[1]["detail"].replace(
        nobody, "X"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/cases/X%201",
        "/practitioners/P%2C1/capacity",
        "/teams/T%20/capacity",
        "/regions/-R/capacity",
    ],
)
def test_a_malformed_id_in_a_path_is_a_clean_422(api, tokens, path):
    response = api.get(path, headers=tokens("ada.admin"))

    assert_problem(response, 422, None)
