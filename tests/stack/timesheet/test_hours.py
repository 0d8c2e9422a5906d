"""Logging, correcting and withdrawing time through the public API: every bad input of the
issue refused with problem details naming the field and nothing written; retries never
counting twice."""

import uuid
from datetime import timedelta

import pytest

from .sheet import (
    PAT,
    a_working_day,
    assert_problem,
    fresh_day_of_pat,
    key,
    log,
    logged,
    register,
    stream_length,
    today,
)

pytestmark = pytest.mark.stack

REASON = "Logged from the practitioner's paper diary while she is off sick"


@pytest.fixture(scope="module")
def practitioner(service_api) -> str:
    return register(service_api)


@pytest.fixture(scope="module")
def manager(service_api):
    return service_api("timesheet", "mo.manager")


def _stream(practitioner_id, day) -> str:
    return f"timesheet-{practitioner_id}-{day}"


def test_a_practitioner_logs_their_own_time_and_reads_the_day_back(service_api):
    pat = service_api("timesheet", "pat.practitioner")
    day = fresh_day_of_pat(service_api)

    answer = logged(
        pat, PAT, day=str(day), minutes=150, category="court", started_at="09:30", ended_at="12:00"
    )

    entry = answer["day"]["entries"][0]
    assert entry["entry_id"] == answer["entry_id"]
    assert (entry["minutes"], entry["category"], entry["started_at"]) == (150, "court", "09:30:00")
    assert answer["day"]["contracted_day_minutes"] == 444
    read = pat.get(f"/practitioners/{PAT}/days/{day}").json()
    assert read == answer["day"]


def test_work_beyond_the_contracted_day_accrues_toil(manager, practitioner):
    day = a_working_day(30)

    logged(
        manager,
        practitioner,
        day=str(day),
        minutes=400,
        category="casework",
        on_behalf_reason=REASON,
    )
    answer = logged(
        manager, practitioner, day=str(day), minutes=100, category="travel", on_behalf_reason=REASON
    )

    assert answer["day"]["worked_minutes"] == 500
    assert answer["day"]["toil_minutes"] == 56


def test_a_correction_and_a_withdrawal_name_the_entry_and_keep_the_toil_right(
    manager, practitioner, timesheet_store
):
    day = a_working_day(31)
    first = logged(
        manager,
        practitioner,
        day=str(day),
        minutes=300,
        category="casework",
        on_behalf_reason=REASON,
    )["entry_id"]
    second = logged(
        manager, practitioner, day=str(day), minutes=200, category="admin", on_behalf_reason=REASON
    )["entry_id"]
    base = f"/practitioners/{practitioner}/days/{day}/entries"

    corrected = manager.post(
        f"{base}/{second}/correction",
        json={"minutes": 150, "category": "admin", "reason": "Half an hour less"},
        headers=key(),
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["toil_minutes"] == 6
    withdrawn = manager.post(
        f"{base}/{first}/withdrawal", json={"reason": "Logged twice"}, headers=key()
    )
    assert withdrawn.status_code == 200, withdrawn.text
    view = withdrawn.json()
    assert (view["worked_minutes"], view["toil_minutes"]) == (150, 0)
    assert [e["withdrawn"] for e in view["entries"]] == [True, False]
    types = [e.type for e in timesheet_store.read_stream(_stream(practitioner, day))]
    assert types == [
        "hours-logged",
        "hours-logged",
        "toil-accrued",
        "hours-corrected",
        "toil-accrued",
        "hours-withdrawn",
        "toil-accrued",
    ]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"minutes": -30}, 422, "minutes"),
        ({"minutes": 0}, 422, "minutes"),
        ({"category": "napping"}, 422, "category"),
        ({"started_at": "11:00", "ended_at": "10:00", "minutes": 30}, 422, "ended_at"),
        ({"started_at": "09:00", "ended_at": "10:00", "minutes": 61}, 422, "minutes"),
        ({"started_at": "09:00"}, 422, "ended_at"),
        ({"started_at": "09:00+01:00", "ended_at": "10:00", "minutes": 60}, 422, "started_at"),
        ({"on_behalf_reason": None}, 422, "on_behalf_reason"),
        ({"note": "\u0000"}, 422, "note"),
        ({"overtime": True}, 422, "overtime"),
    ],
    ids=[
        "negative-minutes",
        "no-minutes",
        "unknown-category",
        "end-before-start",
        "more-than-the-interval",
        "half-an-interval",
        "a-zoned-time",
        "no-on-behalf-reason",
        "control-character",
        "unknown-field",
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    manager, practitioner, timesheet_store, change, status, field
):
    day = a_working_day(40)
    before = stream_length(timesheet_store, _stream(practitioner, day))
    body = {"day": str(day), "minutes": 60, "category": "casework", "on_behalf_reason": REASON}

    answer = log(manager, practitioner, **{**body, **change})

    assert_problem(answer, status, field)
    assert stream_length(timesheet_store, _stream(practitioner, day)) == before


def test_more_than_24_hours_in_a_day_is_refused(manager, practitioner, timesheet_store):
    day = a_working_day(41, 1)
    logged(
        manager,
        practitioner,
        day=str(day),
        minutes=1000,
        category="casework",
        on_behalf_reason=REASON,
    )
    before = stream_length(timesheet_store, _stream(practitioner, day))

    answer = log(
        manager, practitioner, day=str(day), minutes=441, category="travel", on_behalf_reason=REASON
    )

    problem = assert_problem(answer, 409, "minutes")
    assert problem["type"].endswith("/more-than-a-day")
    assert stream_length(timesheet_store, _stream(practitioner, day)) == before


def test_time_overlapping_another_entry_of_the_day_is_refused(manager, practitioner):
    day = a_working_day(41, 2)
    logged(
        manager,
        practitioner,
        day=str(day),
        minutes=120,
        category="court",
        started_at="09:00",
        ended_at="11:00",
        on_behalf_reason=REASON,
    )

    answer = log(
        manager,
        practitioner,
        day=str(day),
        minutes=60,
        category="travel",
        started_at="10:30",
        ended_at="11:30",
        on_behalf_reason=REASON,
    )

    assert assert_problem(answer, 409, "started_at")["type"].endswith("/overlapping-time")


def test_time_in_the_future_is_refused(manager, practitioner):
    tomorrow = today() + timedelta(days=1)

    answer = log(
        manager,
        practitioner,
        day=str(tomorrow),
        minutes=60,
        category="casework",
        on_behalf_reason=REASON,
    )

    assert assert_problem(answer, 422, "day")["type"].endswith("/in-the-future")


def test_a_correction_of_an_entry_that_does_not_exist_or_is_someone_elses_is_refused(
    service_api, manager, practitioner, timesheet_store
):
    day = a_working_day(42)
    theirs = logged(
        manager,
        practitioner,
        day=str(day),
        minutes=60,
        category="casework",
        on_behalf_reason=REASON,
    )["entry_id"]
    someone_else = register(service_api)
    before = stream_length(timesheet_store, _stream(someone_else, day))
    body = {"minutes": 30, "category": "casework", "reason": "Shorter"}

    for entry_id in (theirs, str(uuid.uuid4())):
        answer = manager.post(
            f"/practitioners/{someone_else}/days/{day}/entries/{entry_id}/correction",
            json=body,
            headers=key(),
        )
        assert_problem(answer, 404, "entry_id")
    assert stream_length(timesheet_store, _stream(someone_else, day)) == before


def test_a_retried_request_never_counts_twice(manager, practitioner, timesheet_store):
    day = a_working_day(43)
    headers = key()
    body = {"day": str(day), "minutes": 90, "category": "casework", "on_behalf_reason": REASON}

    first = log(manager, practitioner, headers=headers, **body)
    again = log(manager, practitioner, headers=headers, **body)

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json() == again.json()
    assert stream_length(timesheet_store, _stream(practitioner, day)) == 1


def test_the_same_key_with_another_body_is_refused(manager, practitioner):
    day = a_working_day(44)
    headers = key()
    body = {"day": str(day), "minutes": 90, "category": "casework", "on_behalf_reason": REASON}
    assert log(manager, practitioner, headers=headers, **body).status_code == 201

    answer = log(manager, practitioner, headers=headers, **{**body, "minutes": 91})

    assert_problem(answer, 422, "Idempotency-Key")


def test_every_write_requires_an_idempotency_key(manager, practitioner, timesheet_store):
    day = a_working_day(45)
    body = {"day": str(day), "minutes": 90, "category": "casework", "on_behalf_reason": REASON}

    answer = manager.post(f"/practitioners/{practitioner}/hours", json=body)

    assert_problem(answer, 422, "Idempotency-Key")
    assert stream_length(timesheet_store, _stream(practitioner, day)) == 0


def test_a_day_before_the_practitioner_started_is_refused(manager, practitioner):
    answer = log(
        manager,
        practitioner,
        day="2024-12-31",
        minutes=60,
        category="casework",
        on_behalf_reason=REASON,
    )

    assert assert_problem(answer, 422, "day")["type"].endswith("/not-in-post")


def test_overtime_is_recorded_by_the_practitioner_only(service_api, manager, practitioner):
    pat = service_api("timesheet", "pat.practitioner")
    day = fresh_day_of_pat(service_api)

    own = pat.post(
        f"/practitioners/{PAT}/overtime",
        json={"day": str(day), "minutes": 120, "note": "Court duty rota"},
        headers=key(),
    )
    for_someone = manager.post(
        f"/practitioners/{practitioner}/overtime",
        json={"day": str(a_working_day(46)), "minutes": 120},
        headers=key(),
    )

    assert own.status_code == 201, own.text
    assert (own.json()["overtime_minutes"], own.json()["toil_minutes"]) == (120, 0)
    assert assert_problem(for_someone, 403, "practitioner_id")["type"].endswith(
        "/practitioner-only"
    )
