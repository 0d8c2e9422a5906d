"""Helpers for the duty-of-care stack tests: practitioners, cases and hours made through the
allocation and timesheet APIs, and waiting for the breaches wellbeing records from them."""

import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx

from .helpers import REGION, TEAM, fresh, uk_today

DEADLINE_S = 45.0


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def until(what: str, probe: Callable[[], Any], deadline_s: float = DEADLINE_S) -> Any:
    """Ask until `probe` answers something truthy (events travel by Kafka), or fail."""
    deadline = time.monotonic() + deadline_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"never: {what}")
        time.sleep(0.3)


class Duty:
    """The three services as the duty-of-care tests drive them."""

    def __init__(self, service_api: Callable[..., httpx.Client]) -> None:
        self.api = service_api

    def wellbeing(self, user: str = "ada.admin") -> httpx.Client:
        return self.api("wellbeing", user)

    def register(
        self,
        *,
        hours: str = "18.5",
        team: str = TEAM,
        region: str = REGION,
        start: str = "2024-09-02",
        user: str = "mo.manager",
        manager: str | None = "P-0100",
    ) -> str:
        practitioner_id = fresh("P-D-")
        body = {
            "practitioner_id": practitioner_id,
            "name": f"Duty {practitioner_id}",
            "grade": "PO",
            "team_id": team,
            "region_id": region,
            "contracted_hours": hours,
            "start_date": start,
            "line_manager_id": manager,
        }
        answer = self.api("allocation", user).post("/practitioners", json=body)
        assert answer.status_code == 201, answer.text
        return practitioner_id

    def case(self, team: str = TEAM, user: str = "mo.manager") -> str:
        case_id = fresh("XD")
        body = {"case_id": case_id, "team_id": team, "case_type": "licence", "tier": "A1"}
        answer = self.api("allocation", user).post("/cases", json=body)
        assert answer.status_code == 201, answer.text
        return case_id

    def allocate(self, case_id: str, practitioner_id: str, user: str = "mo.manager") -> None:
        body = {"practitioner_id": practitioner_id, "override_reason": "Duty-of-care test"}
        answer = self.api("allocation", user).post(f"/cases/{case_id}/allocation", json=body)
        assert answer.status_code == 201, answer.text

    def reallocate(self, case_id: str, practitioner_id: str, user: str = "mo.manager") -> None:
        body = {
            "practitioner_id": practitioner_id,
            "reason": "CASELOAD_ADJUSTMENT",
            "override_reason": "Duty-of-care test",
        }
        answer = self.api("allocation", user).post(f"/cases/{case_id}/reallocation", json=body)
        assert answer.status_code == 201, answer.text

    def log_hours(self, practitioner_id: str, day: date, minutes: int) -> None:
        body = {
            "day": day.isoformat(),
            "minutes": minutes,
            "category": "casework",
            "on_behalf_reason": "From the diary, for the duty-of-care test",
        }
        client = self.api("timesheet", "mo.manager")
        answer = until(
            f"timesheet knows {practitioner_id}",
            lambda: (
                (
                    r := client.post(
                        f"/practitioners/{practitioner_id}/hours", json=body, headers=key()
                    )
                ).status_code
                != 403
                and r
            ),
        )
        assert answer.status_code == 201, answer.text

    def breaches(self, user: str = "ada.admin", **query: str) -> list[dict[str, Any]]:
        answer = self.wellbeing(user).get("/breaches", params=query)
        if answer.status_code == 404 and "practitioner_id" in query:
            return []  # wellbeing has not heard of them yet: allocation's events travel by Kafka
        assert answer.status_code == 200, answer.text
        return list(answer.json()["breaches"] or [])

    def breach_of(self, practitioner_id: str, rule: str, status: str = "open") -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            found = [
                b
                for b in self.breaches(practitioner_id=practitioner_id, status="all")
                if b["rule"] == rule and b["status"] == status
            ]
            return found[-1] if found else None

        return dict(until(f"{rule} {status} for {practitioner_id}", probe))


def last_weeks_mondays(weeks: int) -> list[date]:
    """The Mondays of the `weeks` complete weeks before this one, oldest first."""
    monday = uk_today() - timedelta(days=uk_today().weekday())
    return [monday - timedelta(weeks=n) for n in range(weeks, 0, -1)]
