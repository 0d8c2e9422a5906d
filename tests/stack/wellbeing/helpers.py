"""Helpers for the wellbeing stack tests: practitioners and cases made through allocation's API
(fresh ids each time), waiting for wellbeing to hear of them, and problem checks."""

import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from ..calendar import uk_today

TEAM, REGION, MANAGER = "T-NORTH-1", "R-NORTH", "P-0100"
DEADLINE_S = 30.0


def fresh(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    if field is not None:
        assert [p["name"] for p in problem["invalid-params"]] == [field], problem
    return problem


def eventually(probe: Callable[[], httpx.Response], done: Callable[[httpx.Response], bool]):
    """Ask until `done` (wellbeing hears of allocation's events through Kafka), or fail."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        response = probe()
        if done(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


class Wellbeing:
    """The wellbeing API (and allocation's, to make practitioners and cases) as demo users."""

    def __init__(self, service_api: Callable[..., httpx.Client]) -> None:
        self.api = service_api

    def __call__(self, user: str) -> httpx.Client:
        return self.api("wellbeing", user)

    def allocation(self, user: str = "mo.manager") -> httpx.Client:
        return self.api("allocation", user)

    def practitioner(
        self, *, start: str = "2024-09-02", grade: str = "PO", line_manager: str | None = MANAGER
    ) -> str:
        """A practitioner in T-NORTH-1 under mo.manager, once wellbeing knows them."""
        practitioner_id = fresh("P-W-")
        body = {
            "practitioner_id": practitioner_id,
            "name": f"Wellbeing {practitioner_id}",
            "grade": grade,
            "team_id": TEAM,
            "region_id": REGION,
            "contracted_hours": "37",
            "start_date": start,
            "line_manager_id": line_manager,
        }
        response = self.allocation().post("/practitioners", json=body)
        assert response.status_code == 201, response.text
        known = eventually(
            lambda: self("ada.admin").get(f"/practitioners/{practitioner_id}/supervisions"),
            lambda r: r.status_code == 200,
        )
        assert known.status_code == 200, f"wellbeing never heard of {practitioner_id}"
        return practitioner_id

    def case_for(self, practitioner_id: str) -> str:
        """A community C1 case allocated to the practitioner."""
        case_id = fresh("XW")
        body = {"case_id": case_id, "team_id": TEAM, "case_type": "community", "tier": "C1"}
        assert self.allocation().post("/cases", json=body).status_code == 201
        allocated = self.allocation().post(
            f"/cases/{case_id}/allocation", json={"practitioner_id": practitioner_id}
        )
        assert allocated.status_code == 201, allocated.text
        return case_id

    def hold(self, practitioner_id: str, user: str = "mo.manager", **body: Any) -> httpx.Response:
        """Record a supervision held today (body fields override), retrying while wellbeing
        has not yet heard that a case to suspend is theirs."""
        fields = {
            "held_on": uk_today().isoformat(),
            "duration_minutes": 60,
            "workload_reviewed": True,
            "wellbeing_discussed": True,
            **body,
        }
        path = f"/practitioners/{practitioner_id}/supervisions/held"
        return eventually(
            lambda: self(user).post(path, json=fields),
            lambda r: not r.text.count("case-not-carried"),
        )

    def declare(self, practitioner_id: str, user: str = "ada.admin", **body: Any) -> dict:
        fields = {"what_is_unsafe": "Three new high-risk cases on top of 112%", **body}
        response = self(user).post(f"/practitioners/{practitioner_id}/declarations", json=fields)
        assert response.status_code == 201, response.text
        return dict(response.json())
