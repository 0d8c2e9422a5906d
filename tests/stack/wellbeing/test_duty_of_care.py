"""Duty of care through the real services: allocations push a practitioner past 110% and a breach
opens (and is on Kafka), a reallocation resolves it citing the figure that cleared it, a long
month opens the 4-week average, acknowledgements and decisions by who may, escalation on its
deadlines, views now and as of a past instant, and the refusals (problem details, nothing
written)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_platform.clock import add_working_days
from plimsoll_wellbeing.domain.breach import breach_stream

from .duty_helpers import Duty, last_weeks_mondays, until
from .helpers import assert_problem, uk_today
from .test_events import _end_offsets, _messages_about

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def duty(service_api) -> Duty:
    return Duty(service_api)


@pytest.fixture(scope="module")
def overloaded(duty):
    """A practitioner on 18.5 hours (1,088 points) given eight licence A1 cases (163 each):
    119.9%, above red; a colleague to take cases from them later."""
    pat, colleague = duty.register(), duty.register(hours="37")
    cases = [duty.case() for _ in range(8)]
    for case_id in cases:
        duty.allocate(case_id, pat)
    return {"pat": pat, "colleague": colleague, "cases": cases}


def test_allocations_past_110_percent_open_capacity_breaches_judged_on_the_figure(duty, overloaded):
    pat = overloaded["pat"]
    red = duty.breach_of(pat, "capacity-red")

    assert red["facts"]["capacity_percent"] == "119.9"
    assert red["facts"]["total_points"] == 8 * 163
    assert red["thresholds"] == {"capacity_red": red["thresholds"]["capacity_red"]}
    assert red["thresholds"]["capacity_red"]["percent"] > 0
    assert red["cause"]["event_type"] == "capacity-changed"
    assert red["cause"]["source"] == "/plimsoll/allocation"
    assert red["policy_version"] >= 1
    amber = duty.breach_of(pat, "capacity-amber")
    assert datetime.fromisoformat(amber["breached_since"]) <= datetime.fromisoformat(
        red["breached_since"]
    )
    # one open breach per rule and practitioner, however many figures came after
    opened = [b for b in duty.breaches(practitioner_id=pat) if b["rule"] == "capacity-red"]
    assert len(opened) == 1


def test_breaches_are_cloudevents_on_the_wellbeing_topic_keyed_by_the_practitioner(stack, duty):
    offsets = _end_offsets(stack.kafka)
    pat = duty.register()
    case_ids = [duty.case() for _ in range(8)]
    for case_id in case_ids:
        duty.allocate(case_id, pat)
    duty.breach_of(pat, "capacity-red")

    records = _messages_about(stack.kafka, offsets, pat, count=2, types={"breach-opened"})
    opened = [r for r in records if b"breach-opened" in r.value]
    assert opened, [r.value[:120] for r in records]
    rules = set()
    for record in opened:
        message = json.loads(record.value)
        data = CATALOGUE.decode("breach-opened", 1, message["data"])
        assert message["subject"] == pat == record.key.decode()
        assert message["actor"] == "system:duty-of-care"
        rules.add(data.rule)  # type: ignore[attr-defined]
    assert {"capacity-red", "capacity-amber"} & rules


def test_reallocating_work_resolves_the_breach_citing_the_figure_that_cleared_it(duty, overloaded):
    pat, colleague = overloaded["pat"], overloaded["colleague"]
    red = duty.breach_of(pat, "capacity-red")
    for case_id in overloaded["cases"][:2]:
        duty.reallocate(case_id, colleague)

    resolved = duty.breach_of(pat, "capacity-red", status="resolved")
    assert resolved["breach_id"] == red["breach_id"]
    assert resolved["resolution"]["how"] == "condition-cleared"
    assert resolved["resolution"]["cause"]["event_type"] == "capacity-changed"
    # judged on the figure committed when the recorder looked: after one case moved, or both
    assert resolved["resolution"]["facts"]["capacity_percent"] in {"104.9", "89.9"}
    amber = duty.breach_of(pat, "capacity-amber", status="resolved")
    assert amber["resolution"]["facts"]["capacity_percent"] == "89.9"  # and the second


def test_acknowledging_a_breach_by_who_may_and_only_once(duty, wellbeing_store):
    pat = duty.register()
    breach = duty.breach_of(pat, "supervision-overdue")
    path = f"/breaches/{breach['breach_id']}/acknowledgement"
    stream = breach_stream("supervision-overdue", "practitioner", pat)
    recorded = len(wellbeing_store.read_stream(stream))

    outside = duty.wellbeing("hugo.head").post(path, json={}, headers={"Idempotency-Key": "a1"})
    assert_problem(outside, 403, "breach_id")
    practitioner = duty.wellbeing("pat.practitioner").post(path, json={})
    assert_problem(practitioner, 403)
    assert len(wellbeing_store.read_stream(stream)) == recorded  # nothing written

    done = duty.wellbeing("mo.manager").post(path, json={"note": "Booked for Friday"})
    assert done.status_code == 200, done.text
    assert done.json()["acknowledged"]["by"] == "mo.manager"
    assert done.json()["acknowledged"]["note"] == "Booked for Friday"

    twice = duty.wellbeing("hana.head").post(path, json={})
    problem = assert_problem(twice, 409, "breach_id")
    assert problem["type"].endswith("/already-acknowledged")
    types = [e.type for e in wellbeing_store.read_stream(stream)]
    assert types[recorded:] == ["breach-acknowledged"]


def test_a_decision_resolves_a_breach_which_then_takes_nothing_more(duty):
    pat = duty.register()
    breach = duty.breach_of(pat, "supervision-overdue")
    path = f"/breaches/{breach['breach_id']}"

    by_practitioner_manager = duty.wellbeing("mo.manager").post(
        f"{path}/resolution", json={"reason": "Supervision booked; the gap is agreed"}
    )
    assert by_practitioner_manager.status_code == 200, by_practitioner_manager.text
    resolution = by_practitioner_manager.json()["resolution"]
    assert (resolution["how"], resolution["decided_by"]) == ("decision", "mo.manager")

    ack = duty.wellbeing("mo.manager").post(f"{path}/acknowledgement", json={})
    assert assert_problem(ack, 409, "breach_id")["type"].endswith("/breach-resolved")
    again = duty.wellbeing("mo.manager").post(f"{path}/resolution", json={"reason": "again"})
    assert_problem(again, 409, "breach_id")
    # the condition still holds, but the decision covers it: judged again, nothing reopens
    ran = duty.wellbeing().post("/duty-of-care/run")
    assert ran.status_code == 200, ran.text
    overdue = [
        b
        for b in duty.breaches(practitioner_id=pat, status="all")
        if b["rule"] == "supervision-overdue"
    ]
    assert [b["status"] for b in overdue] == ["resolved"]


def test_unacknowledged_breaches_escalate_on_their_working_day_deadlines(duty):
    pat = duty.register()
    breach = duty.breach_of(pat, "supervision-overdue")
    acknowledge_by = datetime.fromisoformat(breach["acknowledge_by"]).date()
    escalate_by = datetime.fromisoformat(breach["escalate_by"]).date()
    assert acknowledge_by == add_working_days(uk_today(), 2) or acknowledge_by > uk_today()

    def run(day):
        at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
        answer = duty.wellbeing().post("/duty-of-care/run", params={"as_of": at.isoformat()})
        assert answer.status_code == 200, answer.text

    run(acknowledge_by)
    assert duty.wellbeing().get(f"/breaches/{breach['breach_id']}").json()["level"] is None
    run(acknowledge_by + timedelta(days=1))
    manager = duty.wellbeing().get(f"/breaches/{breach['breach_id']}").json()
    assert manager["level"] == "manager"
    assert manager["escalations"][0]["deadline_missed"] == acknowledge_by.isoformat()
    run(escalate_by + timedelta(days=1))
    head = duty.wellbeing().get(f"/breaches/{breach['breach_id']}").json()
    assert [e["level"] for e in head["escalations"]] == ["manager", "head-of-service"]
    run(escalate_by + timedelta(days=2))  # never twice
    assert len(duty.wellbeing().get(f"/breaches/{breach['breach_id']}").json()["escalations"]) == 2
    only_admins = duty.wellbeing("hana.head").post("/duty-of-care/run")
    assert_problem(only_admins, 403)


def test_a_long_month_opens_the_four_week_average_breach(duty):
    pat = duty.register(hours="37")
    for monday in last_weeks_mondays(4):
        for n in range(5):
            duty.log_hours(pat, monday + timedelta(days=n), 9 * 60 + 30)
    breach = duty.breach_of(pat, "average-hours")
    window = breach["facts"]["complete_weeks"]
    assert window["weeks_counted"] == 4
    assert float(window["average_hours"]) > float(window["contracted_average_hours"])
    assert breach["cause"]["event_type"] == "hours-logged"
    assert breach["cause"]["source"] == "/plimsoll/timesheet"


def test_views_now_and_as_of_a_past_instant(duty):
    # its own practitioner, taken past red (119.9%) and back to green (89.9%)
    pat, colleague = duty.register(), duty.register(hours="37")
    cases = [duty.case() for _ in range(8)]
    for case_id in cases:
        duty.allocate(case_id, pat)
    red = duty.breach_of(pat, "capacity-red")
    for case_id in cases[:2]:
        duty.reallocate(case_id, colleague)
    duty.breach_of(pat, "capacity-amber", status="resolved")
    now = duty.wellbeing("mo.manager").get(f"/practitioners/{pat}/duty-of-care")
    assert now.status_code == 200, now.text
    view = now.json()
    assert view["capacity"]["status"] == "green"
    assert view["capacity"]["capacity_percent"] == "89.9"
    assert {c["rule"] for c in view["conditions"]} >= {"capacity-red", "supervision-overdue"}

    registered_at = until(
        "the first event of the practitioner", lambda: _first_breach_time(duty, pat)
    )
    then = duty.wellbeing("mo.manager").get(
        f"/practitioners/{pat}/duty-of-care",
        params={"as_of": (registered_at - timedelta(milliseconds=1)).isoformat()},
    )
    assert then.status_code == 200, then.text
    assert then.json()["breaches"] == []
    # as of the instant red opened: the figure then, red, and its breach open
    red_then = duty.wellbeing("mo.manager").get(
        f"/practitioners/{pat}/duty-of-care", params={"as_of": red["opened_at"]}
    )
    assert red_then.status_code == 200, red_then.text
    assert red_then.json()["capacity"]["capacity_percent"] == "119.9"
    assert red_then.json()["capacity"]["status"] == "red"
    assert {(b["rule"], b["status"]) for b in red_then.json()["breaches"]} >= {
        ("capacity-red", "open"),
        ("capacity-amber", "open"),
    }
    assert {(b["rule"], b["status"]) for b in view["breaches"]} >= {
        ("capacity-red", "resolved"),
        ("capacity-amber", "resolved"),
    }

    future = duty.wellbeing("mo.manager").get(
        f"/practitioners/{pat}/duty-of-care",
        params={"as_of": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
    )
    assert_problem(future, 422, "as_of")
    before = duty.wellbeing("mo.manager").get(
        f"/practitioners/{pat}/duty-of-care", params={"as_of": "2020-01-01T00:00:00Z"}
    )
    assert_problem(before, 422, "as_of")

    team = duty.wellbeing("mo.manager").get("/teams/T-NORTH-1/duty-of-care").json()
    assert any(p["practitioner_id"] == pat for p in team["practitioners"])
    ops = duty.wellbeing("ollie.ops").get("/teams/T-NORTH-1/duty-of-care").json()
    assert ops["practitioners"] is None
    assert ops["figures"]["practitioners"] == team["figures"]["practitioners"]
    region = duty.wellbeing("ollie.ops").get("/regions/R-NORTH/duty-of-care").json()
    assert region["teams"] is None
    assert region["figures"]["practitioners"] >= team["figures"]["practitioners"]
    outside = duty.wellbeing("hugo.head").get("/regions/R-NORTH/duty-of-care")
    assert_problem(outside, 403)


def _first_breach_time(duty, pat):
    found = duty.breaches(practitioner_id=pat, status="all")
    return min((datetime.fromisoformat(b["opened_at"]) for b in found), default=None)
