"""Leave and the 48-hour opt-out through the public API."""

from datetime import timedelta

import pytest

from .sheet import PAT, a_monday, assert_problem, key, register, stream_length, today

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def practitioner(service_api) -> str:
    return register(service_api)


def _leave(client, practitioner, headers=None, **body):
    return client.post(f"/practitioners/{practitioner}/leave", json=body, headers=headers or key())


def test_planned_leave_is_recorded_listed_and_cancelled_before_it_starts(service_api, practitioner):
    mo = service_api("timesheet", "mo.manager")
    first = today() + timedelta(days=30)

    recorded = _leave(
        mo,
        practitioner,
        kind="annual",
        first_day=str(first),
        last_day=str(first + timedelta(days=4)),
        note="Half term",
    )
    leave_id = recorded.json()["leave_id"]
    cancelled = mo.post(
        f"/practitioners/{practitioner}/leave/{leave_id}/cancellation",
        json={"reason": "Moved to the summer"},
        headers=key(),
    )
    listed = mo.get(f"/practitioners/{practitioner}/leave").json()

    assert recorded.status_code == 201, recorded.text
    assert cancelled.status_code == 200, cancelled.text
    assert [(item["leave_id"], item["cancelled"]) for item in listed] == [(leave_id, True)]


def test_leave_overlapping_leave_is_refused_and_nothing_written(
    service_api, practitioner, timesheet_store
):
    mo = service_api("timesheet", "mo.manager")
    monday = a_monday(20)
    assert (
        _leave(
            mo,
            practitioner,
            kind="sickness",
            first_day=str(monday),
            last_day=str(monday + timedelta(days=2)),
        ).status_code
        == 201
    )
    before = stream_length(timesheet_store, f"leave-{practitioner}")

    answer = _leave(
        mo,
        practitioner,
        kind="training",
        first_day=str(monday + timedelta(days=2)),
        last_day=str(monday + timedelta(days=3)),
    )

    assert assert_problem(answer, 409, "first_day")["type"].endswith("/overlapping-leave")
    assert stream_length(timesheet_store, f"leave-{practitioner}") == before


def test_leave_that_has_started_cannot_be_cancelled(service_api, practitioner):
    mo = service_api("timesheet", "mo.manager")
    monday = a_monday(22)
    leave_id = _leave(
        mo, practitioner, kind="annual", first_day=str(monday), last_day=str(monday)
    ).json()["leave_id"]

    answer = mo.post(
        f"/practitioners/{practitioner}/leave/{leave_id}/cancellation",
        json={"reason": "Too late"},
        headers=key(),
    )

    assert assert_problem(answer, 409, "leave_id")["type"].endswith("/leave-started")


def test_a_retried_leave_without_an_id_answers_with_the_first_id(service_api, practitioner):
    mo = service_api("timesheet", "mo.manager")
    headers = key()
    monday = a_monday(24)
    body = {
        "kind": "toil",
        "first_day": str(monday),
        "last_day": str(monday),
        "minutes_per_day": 222,
    }

    first = _leave(mo, practitioner, headers=headers, **body)
    again = _leave(mo, practitioner, headers=headers, **body)

    assert first.status_code == again.status_code == 201
    assert first.json()["leave_id"] == again.json()["leave_id"]


def test_leave_of_an_unknown_kind_is_refused(service_api, practitioner):
    mo = service_api("timesheet", "mo.manager")
    answer = _leave(
        mo, practitioner, kind="sabbatical", first_day="2026-01-05", last_day="2026-01-06"
    )
    assert_problem(answer, 422, "kind")


def test_the_practitioner_alone_opts_out_and_withdraws(service_api, timesheet_store):
    pat = service_api("timesheet", "pat.practitioner")
    path = f"/practitioners/{PAT}/working-time/opt-out"
    body = {"effective_from": str(today())}
    first = pat.post(path, json=body, headers=key())
    if first.status_code == 409:  # opted out by an earlier run: withdraw, then opt out
        assert pat.post(f"{path}/withdrawal", json=body, headers=key()).status_code == 200
        first = pat.post(path, json=body, headers=key())

    withdrawn = pat.post(f"{path}/withdrawal", json=body, headers=key())

    assert first.status_code == 201, first.text
    assert first.json() == {"opted_out": True, "effective_from": str(today())}
    assert withdrawn.json() == {"opted_out": False, "effective_from": str(today())}


@pytest.mark.parametrize("user", ["mo.manager", "hana.head", "ada.admin"])
def test_nobody_else_records_a_practitioners_opt_out(service_api, timesheet_store, user):
    before = stream_length(timesheet_store, f"working-time-{PAT}")

    answer = service_api("timesheet", user).post(
        f"/practitioners/{PAT}/working-time/opt-out",
        json={"effective_from": str(today())},
        headers=key(),
    )

    problem = assert_problem(answer, 403, "practitioner_id")
    assert problem["type"].endswith("/practitioner-only")
    assert stream_length(timesheet_store, f"working-time-{PAT}") == before


def test_an_opt_out_is_never_backdated(service_api):
    answer = service_api("timesheet", "pat.practitioner").post(
        f"/practitioners/{PAT}/working-time/opt-out",
        json={"effective_from": str(today() - timedelta(days=1))},
        headers=key(),
    )
    assert_problem(answer, 422, "effective_from")
