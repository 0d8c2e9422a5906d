"""Allocation under bad input and hostile callers (issue 9), through the running service.

Numbers and days bounded so that every store holds them (422 naming the field, nothing
written); a control character in a CSV cell rejects that row only; the impact preview shows
no case outside the caller's scope; one idempotency key used at once for two practitioners is
never a 404; and no 403 names the other record's team or region.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from .api import allocate_case, assert_problem, fresh_suffix, open_case, register_practitioner

pytestmark = pytest.mark.stack

NORTH, SOUTH = "hana.head", "hugo.head"


def _south_case(api, tokens) -> tuple[str, str, str]:
    """A practitioner and a case of theirs (community A3: 206 points) in a team of R-SOUTH."""
    body = {
        "practitioner_id": f"P-S-{fresh_suffix()}",
        "name": "South Tester",
        "grade": "PO",
        "team_id": f"T-Z-{fresh_suffix()}",
        "region_id": "R-SOUTH",
        "contracted_hours": "37",
        "start_date": "2024-09-02",
    }
    assert api.post("/practitioners", json=body, headers=tokens(SOUTH)).status_code == 201
    case_id = open_case(api, tokens, "community", "A3", team=body["team_id"], user=SOUTH)
    allocated = allocate_case(api, tokens, case_id, body["practitioner_id"], user=SOUTH)
    assert allocated.status_code == 201, allocated.text
    return str(body["practitioner_id"]), case_id, str(body["team_id"])


# --- bounds ------------------------------------------------------------------------------------


def test_scheme_points_beyond_32_bits_are_refused_at_the_edge_naming_the_field(
    api, tokens, allocation_store
):
    scheme = api.get("/weighting-schemes/probation", headers=tokens("ada.admin")).json()["scheme"]
    written = len(allocation_store.read_stream("weighting-scheme-probation"))
    too_many = {
        **scheme,
        "version": scheme["version"] + 1,
        "tier_points": {
            **scheme["tier_points"],
            "community": {**scheme["tier_points"]["community"], "C1": 2**31},
        },
    }

    refused = api.put("/weighting-schemes/probation", json=too_many, headers=tokens("ada.admin"))

    assert_problem(refused, 422, "probation.tier_points.community.C1")
    assert len(allocation_store.read_stream("weighting-scheme-probation")) == written


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/reductions",
            {"reason": "Maternity Leave", "effective_from": "9999-12-20"},
            "effective_from",
        ),
        (
            "/reductions",
            {"reason": "Maternity Leave", "effective_from": "2199-12-20"},  # ends in 2200
            "effective_from",
        ),
        (
            "/reductions",
            {
                "reason": "Long Term Sickness Absence",
                "effective_from": "2026-01-05",
                "effective_to": "9999-12-31",
            },
            "effective_to",
        ),
        ("/leaving", {"leaving_date": "9999-12-31"}, "leaving_date"),
    ],
)
def test_days_no_store_could_hold_are_refused_naming_the_field(
    api, tokens, allocation_store, path, body, field
):
    practitioner_id = register_practitioner(api, tokens)
    stream = f"practitioner-{practitioner_id}"
    written = len(allocation_store.read_stream(stream))

    refused = api.post(
        f"/practitioners/{practitioner_id}{path}", json=body, headers=tokens("mo.manager")
    )

    assert_problem(refused, 422, field)
    assert len(allocation_store.read_stream(stream)) == written


def test_a_registration_or_a_case_in_year_9999_is_refused_naming_the_day(api, tokens):
    registration = {
        "practitioner_id": f"P-T-{fresh_suffix()}",
        "name": "Far Future",
        "grade": "PO",
        "team_id": "T-NORTH-1",
        "region_id": "R-NORTH",
        "contracted_hours": "37",
        "start_date": "9999-12-31",
    }
    refused = api.post("/practitioners", json=registration, headers=tokens("mo.manager"))
    assert_problem(refused, 422, "start_date")

    opening = {
        "case_id": f"X{fresh_suffix()}",
        "team_id": "T-NORTH-1",
        "case_type": "community",
        "tier": "C1",
        "opened_on": "9999-12-31",
    }
    assert_problem(api.post("/cases", json=opening, headers=tokens("mo.manager")), 422, "opened_on")
    case_id = open_case(api, tokens, "community", "C1")
    closing = api.post(
        f"/cases/{case_id}/closure", json={"closed_on": "9999-12-31"}, headers=tokens("mo.manager")
    )
    assert_problem(closing, 422, "closed_on")


# --- CSV ---------------------------------------------------------------------------------------


def test_a_control_character_in_a_csv_cell_rejects_that_row_by_line_and_column(api, tokens):
    ids = [f"P-CSV-{fresh_suffix()}" for _ in range(3)]
    rows = [
        f"{ids[0]},First Row,PO,T-NORTH-1,R-NORTH,37,2024-09-02,",
        f"{ids[1]},Nul\x00Name,PO,T-NORTH-1,R-NORTH,37,2024-09-02,",
        f"{ids[2]}\x00,Third Row,PO,T-NORTH-1,R-NORTH,37,2024-09-02,",
        f"P-CSV-{fresh_suffix()},Bell\x07,PO,T-NORTH-1,R-NORTH,37,2024-09-02,",
    ]
    header = (
        "practitioner_id,name,grade,team_id,region_id,contracted_hours,start_date,line_manager_id"
    )
    body = "\n".join([header, *rows]) + "\n"

    answer = api.post(
        "/onboarding/practitioners",
        content=body.encode(),
        headers={**tokens("ada.admin"), "Content-Type": "text/csv"},
    )

    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["accepted"] == 1
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [
        (3, "name"),
        (4, "practitioner_id"),
        (5, "name"),
    ]
    assert "U+0000" in report["rejected"][0]["reason"]
    assert api.get(f"/practitioners/{ids[0]}", headers=tokens("ada.admin")).status_code == 200


# --- scope -------------------------------------------------------------------------------------


def test_the_impact_preview_shows_no_case_outside_the_callers_scope(api, tokens):
    mine = register_practitioner(api, tokens)
    _, theirs, _ = _south_case(api, tokens)
    unknown = f"X{fresh_suffix()}"

    outside = api.get(
        f"/practitioners/{mine}/impact", params={"case_id": theirs}, headers=tokens("mo.manager")
    )
    nowhere = api.get(
        f"/practitioners/{mine}/impact", params={"case_id": unknown}, headers=tokens("mo.manager")
    )
    head = api.get(
        f"/practitioners/{mine}/impact", params={"case_id": theirs}, headers=tokens(NORTH)
    )
    admin = api.get(
        f"/practitioners/{mine}/impact", params={"case_id": theirs}, headers=tokens("ada.admin")
    )

    for refused in (outside, nowhere, head):
        problem = assert_problem(refused, 403, "case_id")
        assert problem["type"].endswith("/outside-scope")
        assert "case_points" not in problem
        assert "R-SOUTH" not in refused.text  # neither the case's region...
        assert "T-Z-" not in refused.text  # ...nor its team
    assert outside.json()["detail"] == nowhere.json()["detail"].replace(unknown, theirs)
    assert admin.status_code == 200, admin.text
    assert admin.json()["case_points"] == 206


def test_no_refusal_names_the_other_records_team_or_region(api, tokens):
    south_practitioner, south_case, south_team = _south_case(api, tokens)
    mine = register_practitioner(api, tokens)
    north_case = open_case(api, tokens, "community", "C1")
    # A head of R-NORTH claiming a team of R-SOUTH is in R-NORTH.
    claimed = {
        "practitioner_id": f"P-T-{fresh_suffix()}",
        "name": "Claimed",
        "grade": "PO",
        "team_id": south_team,
        "region_id": "R-NORTH",
        "contracted_hours": "37",
        "start_date": "2024-09-02",
    }
    moving = {"team_id": south_team, "region_id": "R-NORTH", "effective_on": "2026-01-05"}
    # Each refusal, and whether the caller named the other team themself (it may be echoed).
    attempts = [
        (api.post("/practitioners", json=claimed, headers=tokens(NORTH)), True),
        (api.post(f"/practitioners/{mine}/transfer", json=moving, headers=tokens(NORTH)), True),
        (api.get(f"/practitioners/{south_practitioner}", headers=tokens("mo.manager")), False),
        (api.get(f"/practitioners/{south_practitioner}/capacity", headers=tokens(NORTH)), False),
        (api.get(f"/cases/{south_case}", headers=tokens("mo.manager")), False),
        (api.get(f"/cases/{south_case}", headers=tokens(NORTH)), False),
        (allocate_case(api, tokens, north_case, south_practitioner), False),
        (allocate_case(api, tokens, north_case, south_practitioner, user=NORTH), False),
        (
            api.post(
                f"/cases/{south_case}/reallocation",
                json={"practitioner_id": mine, "reason": "CASELOAD_ADJUSTMENT"},
                headers=tokens("mo.manager"),
            ),
            False,
        ),
        (api.put(f"/cases/{south_case}/tier", json={"tier": "D1"}, headers=tokens(NORTH)), False),
        (
            api.get(
                f"/practitioners/{mine}/impact",
                params={"case_id": south_case},
                headers=tokens("mo.manager"),
            ),
            False,
        ),
    ]
    for refused, named in attempts:
        assert refused.status_code == 403, refused.text
        assert "R-SOUTH" not in refused.text, refused.text
        if not named:
            assert south_team not in refused.text, refused.text


# --- idempotency keys --------------------------------------------------------------------------


def test_one_idempotency_key_used_at_once_for_two_practitioners_is_never_a_404(api, tokens):
    headers = tokens("mo.manager")

    def register(key: str, practitioner_id: str) -> int:
        body = {
            "practitioner_id": practitioner_id,
            "name": f"Key Tester {practitioner_id}",
            "grade": "PO",
            "team_id": "T-NORTH-1",
            "region_id": "R-NORTH",
            "contracted_hours": "37",
            "start_date": "2024-09-02",
        }
        answer = api.post("/practitioners", json=body, headers={**headers, "Idempotency-Key": key})
        if answer.status_code == 422:
            assert answer.json()["type"].endswith("/idempotency-key-reused"), answer.text
        return answer.status_code

    outcomes = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(6):
            key = str(uuid.uuid4())
            both = [pool.submit(register, key, f"P-K-{fresh_suffix()}") for _ in range(2)]
            outcomes.append(sorted(f.result() for f in both))

    assert all(pair == [201, 422] for pair in outcomes), outcomes
