"""The allocation service's workforce API, end to end: real tokens, real store, real Kafka.

Each test registers practitioners with fresh ids: the service's database persists
between runs. "No event written" is checked on the practitioner's stream in the
service's own event store.
"""

import json
import time
import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaConsumer, TopicPartition
from plimsoll_allocation.settings import AllocationSettings
from plimsoll_events.store import EventStore
from plimsoll_platform.app import create_service_app

from ..calendar import uk_today

pytestmark = pytest.mark.stack


def _id() -> str:
    return f"P-T-{uuid.uuid4().hex[:10]}"


def _registration(practitioner_id: str, **changes) -> dict:
    body = {
        "practitioner_id": practitioner_id,
        "name": "Test Practitioner",
        "grade": "PO",
        "team_id": "T-NORTH-1",
        "region_id": "R-NORTH",
        "contracted_hours": "37",
        "start_date": "2024-09-02",
        "line_manager_id": "P-0100",
    }
    return {**body, **changes}


def _register(api, tokens, practitioner_id: str, **changes) -> dict:
    response = api.post(
        "/practitioners",
        json=_registration(practitioner_id, **changes),
        headers=tokens("mo.manager"),
    )
    assert response.status_code == 201, response.text
    return response.json()


def _versions(store: EventStore, practitioner_id: str) -> int:
    return len(store.read_stream(f"practitioner-{practitioner_id}"))


def _assert_problem(response: httpx.Response, status: int, field: str | None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == status
    if field is not None:
        assert [p["name"] for p in problem["invalid-params"]] == [field], problem
    return problem


# Registering and reading.


def test_registered_practitioner_shows_wmt_available_points(api, tokens, allocation_store):
    practitioner_id = _id()
    registered = _register(api, tokens, practitioner_id)
    assert registered["available_points"] == 2176
    assert registered["weighting_scheme"] == "wmt"

    view = api.get(f"/practitioners/{practitioner_id}", headers=tokens("mo.manager")).json()
    assert view == registered
    assert view["team_id"] == "T-NORTH-1"
    assert Decimal(view["reduction_hours"]) == 0
    assert view["reductions"] == []
    assert view["has_left"] is False
    (event,) = allocation_store.read_stream(f"practitioner-{practitioner_id}")
    assert event.type == "practitioner-registered"
    assert event.metadata.actor == "mo.manager"


def test_retried_registration_with_idempotency_key_writes_nothing(api, tokens, allocation_store):
    practitioner_id = _id()
    headers = {**tokens("mo.manager"), "Idempotency-Key": uuid.uuid4().hex}
    body = _registration(practitioner_id)
    first = api.post("/practitioners", json=body, headers=headers)
    again = api.post("/practitioners", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert _versions(allocation_store, practitioner_id) == 1


def test_second_registration_without_key_is_refused(api, tokens, allocation_store):
    practitioner_id = _id()
    _register(api, tokens, practitioner_id)
    response = api.post(
        "/practitioners", json=_registration(practitioner_id), headers=tokens("mo.manager")
    )
    problem = _assert_problem(response, 409, "practitioner_id")
    assert problem["type"].endswith("/already-exists")
    assert _versions(allocation_store, practitioner_id) == 1


def test_unknown_practitioner_is_a_404_problem(api, tokens):
    """To admins and services; to anyone else it looks like one outside their scope."""
    unknown = _id()
    response = api.get(f"/practitioners/{unknown}", headers=tokens("ada.admin"))
    _assert_problem(response, 404, "practitioner_id")

    south = _id()
    body = _registration(south, team_id=f"T-SOUTH-{uuid.uuid4().hex[:6]}", region_id="R-SOUTH")
    registered = api.post("/practitioners", json=body, headers=tokens("hugo.head"))
    assert registered.status_code == 201, registered.text
    as_head = [
        api.get(f"/practitioners/{practitioner_id}", headers=tokens("hana.head"))
        for practitioner_id in (unknown, south)
    ]
    problems = [_assert_problem(response, 403, "practitioner_id") for response in as_head]
    assert [p["type"].rsplit("/", 1)[-1] for p in problems] == ["outside-scope"] * 2
    # Neither says whether the id exists, nor where the other practitioner is.
    assert problems[0]["detail"].replace(unknown, "X") == problems[1]["detail"].replace(south, "X")
    assert "R-SOUTH" not in problems[1]["detail"]
    assert "T-SOUTH" not in problems[1]["detail"]


@pytest.mark.parametrize("bad", ["%20P-1", "P%201", "P-1%00", "-P-1", "x" * 101])
def test_a_malformed_practitioner_id_is_a_clean_422(api, tokens, bad):
    response = api.get(f"/practitioners/{bad}", headers=tokens("ada.admin"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


# Changes.


def test_contracted_hours_change_available_points(api, tokens):
    practitioner_id = _id()
    _register(api, tokens, practitioner_id)
    response = api.put(
        f"/practitioners/{practitioner_id}/contracted-hours",
        json={"contracted_hours": "18.5"},
        headers=tokens("hana.head"),
    )
    assert response.status_code == 200, response.text
    assert Decimal(response.json()["contracted_hours"]) == Decimal("18.5")
    assert response.json()["available_points"] == 1088  # trunc(2176 * 18.5 / 37)


def test_percent_reduction_takes_its_hours_off_then_ends(api, tokens, allocation_store):
    practitioner_id = _id()
    _register(api, tokens, practitioner_id)
    response = api.post(
        f"/practitioners/{practitioner_id}/reductions",
        json={
            "reduction_id": "R-1",
            "reason": "Trade Union Facility Time",
            "percent": "10",
            "effective_from": uk_today().isoformat(),
        },
        headers=tokens("mo.manager"),
    )
    assert response.status_code == 201, response.text
    view = response.json()
    assert Decimal(view["reduction_hours"]) == Decimal("3.7")
    assert view["available_points"] == int(2176 * 33.3 / 37) == 1958
    (reduction,) = view["reductions"]
    assert reduction["status"] == "active"
    assert Decimal(reduction["hours"]) == Decimal("3.7")

    ended = api.delete(
        f"/practitioners/{practitioner_id}/reductions/R-1", headers=tokens("mo.manager")
    )
    assert ended.status_code == 200, ended.text
    assert ended.json()["available_points"] == 2176
    assert ended.json()["reductions"] == []
    types = [e.type for e in allocation_store.read_stream(f"practitioner-{practitioner_id}")]
    assert types == ["practitioner-registered", "reduction-started", "reduction-ended"]


def test_future_reduction_is_scheduled_and_can_be_withdrawn(api, tokens):
    practitioner_id = _id()
    _register(api, tokens, practitioner_id)
    start = uk_today() + timedelta(days=30)
    view = api.post(
        f"/practitioners/{practitioner_id}/reductions",
        json={"reason": "Long Term Sickness Absence", "effective_from": start.isoformat()},
        headers=tokens("mo.manager"),
    ).json()
    (reduction,) = view["reductions"]
    assert reduction["status"] == "scheduled"
    assert view["available_points"] == 2176
    withdrawn = api.delete(
        f"/practitioners/{practitioner_id}/reductions/{reduction['reduction_id']}",
        headers=tokens("mo.manager"),
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["reductions"] == []


def test_after_leaving_changes_are_refused_and_record_nothing(api, tokens, allocation_store):
    practitioner_id = _id()
    _register(api, tokens, practitioner_id)
    left = api.post(
        f"/practitioners/{practitioner_id}/leaving",
        json={"leaving_date": (uk_today() + timedelta(days=14)).isoformat()},
        headers=tokens("mo.manager"),
    )
    assert left.status_code == 200, left.text
    assert left.json()["has_left"] is True
    before = _versions(allocation_store, practitioner_id)
    response = api.put(
        f"/practitioners/{practitioner_id}/contracted-hours",
        json={"contracted_hours": "30"},
        headers=tokens("mo.manager"),
    )
    problem = _assert_problem(response, 409, "practitioner_id")
    assert problem["type"].endswith("/practitioner-left")
    assert _versions(allocation_store, practitioner_id) == before == 2


# Bad input: the field is named and nothing is recorded.


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"contracted_hours": "-1"}, "contracted_hours"),
        ({"contracted_hours": "37.6"}, "contracted_hours"),
        ({"grade": "ACE"}, "grade"),
        ({"name": "  "}, "name"),
        ({"start_date": "not a date"}, "start_date"),
    ],
)
def test_bad_registration_names_the_field(api, tokens, allocation_store, changes, field):
    practitioner_id = _id()
    response = api.post(
        "/practitioners",
        json=_registration(practitioner_id, **changes),
        headers=tokens("mo.manager"),
    )
    _assert_problem(response, 422, field)
    assert _versions(allocation_store, practitioner_id) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {
                "reason": "Special Leave",
                "effective_from": uk_today().isoformat(),
                "effective_to": (uk_today() - timedelta(days=1)).isoformat(),
            },
            "effective_to",
        ),
        ({"reason": "Napping", "effective_from": uk_today().isoformat()}, "reason"),
        (
            {"reason": "Special Leave", "hours": "40", "effective_from": uk_today().isoformat()},
            "hours",
        ),
    ],
)
def test_bad_reduction_names_the_field(api, tokens, allocation_store, body, field):
    practitioner_id = _id()
    _register(api, tokens, practitioner_id)
    response = api.post(
        f"/practitioners/{practitioner_id}/reductions", json=body, headers=tokens("mo.manager")
    )
    _assert_problem(response, 422, field)
    assert _versions(allocation_store, practitioner_id) == 1


def test_bad_contracted_hours_change_names_the_field(api, tokens, allocation_store):
    practitioner_id = _id()
    _register(api, tokens, practitioner_id)
    response = api.put(
        f"/practitioners/{practitioner_id}/contracted-hours",
        json={"contracted_hours": "38"},
        headers=tokens("mo.manager"),
    )
    _assert_problem(response, 422, "contracted_hours")
    assert _versions(allocation_store, practitioner_id) == 1


# Who may.


def test_practitioner_reads_themself_but_nobody_else(api, tokens, allocation_store):
    if _versions(allocation_store, "P-0001") == 0:
        _register(api, tokens, "P-0001", name="Pat Practitioner")
    own = api.get("/practitioners/P-0001", headers=tokens("pat.practitioner"))
    assert own.status_code == 200, own.text
    other = _id()
    _register(api, tokens, other)
    response = api.get(f"/practitioners/{other}", headers=tokens("pat.practitioner"))
    _assert_problem(response, 403, None)


def test_ops_gets_no_personal_record(api, tokens):
    practitioner_id = _id()
    _register(api, tokens, practitioner_id)
    response = api.get(f"/practitioners/{practitioner_id}", headers=tokens("ollie.ops"))
    _assert_problem(response, 403, None)


def test_service_account_reads_a_practitioner(api, stack, tokens):
    practitioner_id = _id()
    _register(api, tokens, practitioner_id)
    headers = {"Authorization": f"Bearer {stack.service_token('wellbeing')}"}
    assert api.get(f"/practitioners/{practitioner_id}", headers=headers).status_code == 200


def test_manager_cannot_register_or_change_outside_their_team(api, tokens, allocation_store):
    practitioner_id = _id()
    response = api.post(
        "/practitioners",
        json=_registration(practitioner_id, team_id="T-SOUTH-9"),
        headers=tokens("mo.manager"),
    )
    problem = _assert_problem(response, 403, None)
    assert problem["type"].endswith("/outside-scope")
    assert _versions(allocation_store, practitioner_id) == 0

    # A head of service registers into any team; the manager of another cannot change them.
    registered = api.post(
        "/practitioners",
        json=_registration(practitioner_id, team_id="T-SOUTH-9"),
        headers=tokens("hana.head"),
    )
    assert registered.status_code == 201, registered.text
    change = api.put(
        f"/practitioners/{practitioner_id}/contracted-hours",
        json={"contracted_hours": "20"},
        headers=tokens("mo.manager"),
    )
    _assert_problem(change, 403, None)
    read = api.get(f"/practitioners/{practitioner_id}", headers=tokens("mo.manager"))
    _assert_problem(read, 403, None)
    assert _versions(allocation_store, practitioner_id) == 1


def test_practitioner_cannot_register_anyone(api, tokens):
    response = api.post(
        "/practitioners", json=_registration(_id()), headers=tokens("pat.practitioner")
    )
    _assert_problem(response, 403, None)


def test_unauthenticated_is_401(api):
    response = api.post("/practitioners", json=_registration(_id()))
    _assert_problem(response, 401, None)
    assert api.get("/practitioners/P-0001").status_code == 401


# Kafka.


def test_registration_reaches_kafka_as_a_cloudevent(api, stack, tokens):
    topic = "plimsoll.allocation"
    consumer = KafkaConsumer(**stack.kafka.options(), enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        for partition, offset in consumer.end_offsets(partitions).items():
            consumer.seek(partition, offset)
        practitioner_id = _id()
        correlation_id = str(uuid.uuid4())
        response = api.post(
            "/practitioners",
            json=_registration(practitioner_id),
            headers={**tokens("mo.manager"), "X-Correlation-Id": correlation_id},
        )
        assert response.status_code == 201, response.text

        deadline = time.monotonic() + 30
        found = None
        while found is None and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    event = json.loads(record.value)
                    # Their first capacity-changed follows, on the same key.
                    registered = event.get("type", "").endswith(".practitioner-registered.v1")
                    if event.get("subject") == practitioner_id and registered:
                        found = (record, event)
        assert found is not None, "the registration did not reach Kafka within 30s"
        record, event = found
        assert record.key == practitioner_id.encode()
        assert event["type"] == "org.example.plimsoll.practitioner-registered.v1"
        assert event["source"] == "/plimsoll/allocation"
        assert event["actor"] == "mo.manager"
        assert event["correlationid"] == correlation_id
        assert event["traceparent"].startswith("00-")
        assert Decimal(str(event["data"]["contracted_hours"])) == 37
    finally:
        consumer.close()


# The wiring when Kafka cannot be reached.


def test_event_sourced_app_starts_answers_and_stops_while_kafka_is_unreachable(
    stack, scratch_database
):
    settings = AllocationSettings(
        database_url=scratch_database,
        kafka_bootstrap="127.0.0.1:1",  # nothing listens there
        keycloak_issuer=stack.keycloak_issuer,
        readiness_timeout_seconds=1.0,
    )
    app = create_service_app(settings, title="t", description="", event_sourced=True)
    started = time.monotonic()
    with TestClient(app) as client:
        assert time.monotonic() - started < 5
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"]["kafka"]["status"] == "failing"
        assert ready.json()["checks"]["database"]["status"] == "ok"
        time.sleep(1)  # the relay thread is now retrying
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 5
    assert not app.state.event_sourcing._thread.is_alive()
