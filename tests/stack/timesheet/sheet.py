"""Helpers for the timesheet stack tests: practitioners placed, writes with idempotency keys,
fresh days, problems checked.

Each test registers its practitioners through the allocation API, with fresh ids (the
databases persist between runs), and waits until the timesheet service's placements
have them. Pat (pat.practitioner, P-0001) is the one demo practitioner: tests acting as
Pat use a day of hers nothing was logged on yet.
"""

import random
import time
import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from plimsoll_platform.clock import is_working_day

TEAM = "T-NORTH-1"
REGION = "R-NORTH"
PAT = "P-0001"
STARTED = date(2025, 1, 6)
"""Fresh practitioners start on this Monday: every day since is a day in post."""
PLACEMENT_TIMEOUT = 60.0


def today() -> date:
    return datetime.now(ZoneInfo("Europe/London")).date()


def key() -> dict[str, str]:
    """A new Idempotency-Key header."""
    return {"Idempotency-Key": str(uuid.uuid4())}


def register(service_api, *, hours: str = "37", team: str = TEAM, region: str = REGION) -> str:
    """A new practitioner, registered by an admin through the allocation API, and known to
    the timesheet service's placements."""
    practitioner_id = f"P-TS-{uuid.uuid4().hex[:10]}"
    answer = service_api("allocation", "ada.admin").post(
        "/practitioners",
        json={
            "practitioner_id": practitioner_id,
            "name": f"Tester {practitioner_id}",
            "grade": "PO",
            "team_id": team,
            "region_id": region,
            "contracted_hours": hours,
            "start_date": STARTED.isoformat(),
            "line_manager_id": "P-0100",
        },
    )
    assert answer.status_code == 201, answer.text
    wait_until_placed(service_api, practitioner_id)
    return practitioner_id


def wait_until_placed(service_api, practitioner_id: str) -> None:
    """Until the timesheet service answers for them (its placements come through Kafka)."""
    admin = service_api("timesheet", "ada.admin")
    deadline = time.monotonic() + PLACEMENT_TIMEOUT
    while time.monotonic() < deadline:
        answer = admin.get(f"/practitioners/{practitioner_id}/days/{STARTED}")
        if answer.status_code == 200:
            return
        assert answer.status_code == 404, answer.text
        time.sleep(0.2)
    raise AssertionError(f"the timesheet service did not place {practitioner_id} in time")


def fresh_day_of_pat(service_api) -> date:
    """A past working day of Pat's with nothing logged yet."""
    pat = service_api("timesheet", "pat.practitioner")
    first, last = date(2024, 9, 2), today() - timedelta(days=1)
    for _ in range(50):
        day = first + timedelta(days=random.randrange((last - first).days))
        if day.weekday() >= 5:
            continue
        answer = pat.get(f"/practitioners/{PAT}/days/{day}")
        assert answer.status_code == 200, answer.text
        if not answer.json()["entries"] and not answer.json()["overtime_minutes"]:
            return day
    raise AssertionError("no free day of Pat's found")


def a_monday(weeks_ago: int) -> date:
    """The Monday `weeks_ago` weeks before this week's."""
    now = today()
    return now - timedelta(days=now.weekday(), weeks=weeks_ago)


def a_working_day(weeks_ago: int, nth: int = 0) -> date:
    """The `nth` working day (England and Wales) of the week `weeks_ago` weeks back."""
    days = [a_monday(weeks_ago) + timedelta(days=n) for n in range(5)]
    return [d for d in days if is_working_day(d)][nth]


def log(client: httpx.Client, practitioner_id: str, headers=None, **body) -> httpx.Response:
    return client.post(
        f"/practitioners/{practitioner_id}/hours", json=body, headers=headers or key()
    )


def logged(client: httpx.Client, practitioner_id: str, **body) -> dict:
    answer = log(client, practitioner_id, **body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    if field is not None:
        assert [p["name"] for p in problem["invalid-params"]] == [field], problem
    return problem


def stream_length(store, stream: str) -> int:
    return len(store.read_stream(stream))
