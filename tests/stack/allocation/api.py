"""Helpers for the allocation service's stack tests: register, open, allocate, read, check."""

import uuid

import httpx

TEAM = "T-NORTH-1"


def fresh_suffix() -> str:
    return uuid.uuid4().hex[:10]


def register_practitioner(
    api, tokens, *, hours: str = "37", team: str = TEAM, user="mo.manager"
) -> str:
    practitioner_id = f"P-T-{fresh_suffix()}"
    body = {
        "practitioner_id": practitioner_id,
        "name": f"Tester {practitioner_id}",
        "grade": "PO",
        "team_id": team,
        "region_id": "R-NORTH",
        "contracted_hours": hours,
        "start_date": "2024-09-02",
    }
    response = api.post("/practitioners", json=body, headers=tokens(user))
    assert response.status_code == 201, response.text
    return practitioner_id


def open_case(
    api, tokens, case_type: str, tier: str | None, *, team=TEAM, user="mo.manager"
) -> str:
    case_id = f"X{fresh_suffix()}"
    body = {"case_id": case_id, "team_id": team, "case_type": case_type, "tier": tier}
    response = api.post("/cases", json=body, headers=tokens(user))
    assert response.status_code == 201, response.text
    return case_id


def allocate_case(api, tokens, case_id, practitioner_id, user="mo.manager", **extra):
    return api.post(
        f"/cases/{case_id}/allocation",
        json={"practitioner_id": practitioner_id, **extra},
        headers=tokens(user),
    )


def read_capacity(api, tokens, practitioner_id, user="mo.manager") -> dict:
    response = api.get(f"/practitioners/{practitioner_id}/capacity", headers=tokens(user))
    assert response.status_code == 200, response.text
    return response.json()


def assert_problem(response: httpx.Response, status: int, field: str | None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    if field is not None:
        assert [p["name"] for p in problem["invalid-params"]] == [field], problem
    return problem
