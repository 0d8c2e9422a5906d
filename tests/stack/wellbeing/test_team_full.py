"""A team reaching its full threshold opens a breach; its head of service declares it full and
lifts it, and courts and partners read both as HMPPS domain events on plimsoll.wellbeing.hmpps,
valid in the published envelope."""

import json
import time
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest
from kafka import KafkaConsumer, TopicPartition
from plimsoll_events import hmpps
from plimsoll_events.topics import ensure_event_topic
from plimsoll_wellbeing.domain.team_full import team_full_stream

from .duty_helpers import Duty, key, until
from .helpers import assert_problem, fresh, uk_today

pytestmark = pytest.mark.stack

SCHEMA = json.loads(
    (Path(__file__).parents[3] / "docs/reference/hmpps-domain-event.schema.json").read_text()
)
TOPIC = hmpps.WELLBEING_HMPPS_TOPIC


def _ends(kafka) -> dict[TopicPartition, int]:
    ensure_event_topic(kafka, TOPIC)
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    try:
        parts = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or []]
        return dict(consumer.end_offsets(parts))
    finally:
        consumer.close()


def _hmpps_messages(kafka, offsets, team: str, count: int) -> list[dict]:
    consumer = KafkaConsumer(**kafka.options(), enable_auto_commit=False)
    consumer.assign(list(offsets))
    for partition, offset in offsets.items():
        consumer.seek(partition, offset)
    found: dict[bytes, dict] = {}
    deadline = time.monotonic() + 30
    try:
        while len(found) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    if record.key == team.encode():
                        assert dict(record.headers)["content-type"] == b"application/json"
                        found[record.value] = json.loads(record.value)
    finally:
        consumer.close()
    return sorted(found.values(), key=lambda m: m["occurredAt"])


def test_a_full_team_is_declared_full_and_lifted_for_courts_and_partners(stack, service_api):
    duty = Duty(service_api)
    team = fresh("T-FULL-")
    pat = duty.register(team=team, user="ada.admin", manager=None)
    for _ in range(7):  # 7 x 163 on 1,088 points: 104.9%, the team's only member
        duty.allocate(duty.case(team=team, user="ada.admin"), pat, user="hana.head")

    def team_breach():
        found = [b for b in duty.breaches(team_id=team) if b["rule"] == "team-full"]
        return found[0] if found else None

    breach = until("the team-full breach", team_breach)
    assert breach["subject_kind"] == "team"
    assert breach["practitioner_id"] is None
    assert breach["facts"]["capacity"]["capacity_percent"] == "104.9"
    assert breach["facts"]["declared_full"] is False

    offsets = _ends(stack.kafka)
    path = f"/teams/{team}/full"
    body = {"reason": "Capacity at 104.9% with a vacancy unfilled", "expected_duration_days": 42}
    outside = duty.wellbeing("hugo.head").post(path, json=body, headers=key())
    assert_problem(outside, 403, "team_id")
    manager = duty.wellbeing("mo.manager").post(path, json=body, headers=key())
    assert_problem(manager, 403)

    declared = duty.wellbeing("hana.head").post(path, json=body, headers=key())
    assert declared.status_code == 201, declared.text
    assert declared.json()["full"] is True
    assert declared.json()["reason"] == body["reason"]
    again = duty.wellbeing("hana.head").post(path, json=body, headers=key())
    assert assert_problem(again, 409, "team_id")["type"].endswith("/team-already-full")
    assert duty.wellbeing("ollie.ops").get(path).json()["full"] is True

    lifted = duty.wellbeing("hana.head").post(
        f"{path}/lifting", json={"reason": "A new officer started"}, headers=key()
    )
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["full"] is False
    assert [s["type"] for s in lifted.json()["history"]] == [
        "team-full-declared",
        "team-full-lifted",
    ]
    not_full = duty.wellbeing("hana.head").post(
        f"{path}/lifting", json={"reason": "again"}, headers=key()
    )
    assert_problem(not_full, 409, "team_id")

    messages = _hmpps_messages(stack.kafka, offsets, team, 2)
    assert [m["eventType"] for m in messages] == [hmpps.TEAM_FULL_DECLARED, hmpps.TEAM_FULL_LIFTED]
    for message, contract in zip(
        messages, (hmpps.TeamFullDeclaredEvent, hmpps.TeamFullLiftedEvent), strict=True
    ):
        jsonschema.Draft202012Validator(SCHEMA).validate(message)
        assert contract.model_validate(message).kafka_key() == team
        assert message["detailUrl"].endswith(f"/teams/{team}/full")
    assert messages[0]["additionalInformation"]["reason"] == body["reason"]
    assert messages[0]["additionalInformation"]["regionCode"] == "R-NORTH"

    view = duty.wellbeing("hana.head").get(f"/teams/{team}/duty-of-care").json()
    assert "team-full" in view["team"]["rules_holding"]


def test_an_admin_declares_a_team_full_and_lifts_it(service_api, wellbeing_store):
    duty = Duty(service_api)
    team = fresh("T-FULL-")
    path = f"/teams/{team}/full"
    body = {"reason": "Two officers on long-term sick leave", "expected_duration_days": 14}
    nobody = duty.wellbeing().post(path, json=body, headers=key())
    assert_problem(nobody, 404, "team_id")  # nobody placed in it: its region is not known

    duty.register(team=team, user="ada.admin", manager=None)
    until(
        "wellbeing knows the team's region",
        lambda: duty.wellbeing().get(path).json()["region_id"] == "R-NORTH",
    )
    declared = duty.wellbeing("ada.admin").post(path, json=body, headers=key())
    assert declared.status_code == 201, declared.text
    view = declared.json()
    assert (view["full"], view["reason"]) == (True, body["reason"])
    today = uk_today()
    assert view["declared_on"] == today.isoformat()
    assert view["expected_until"] == (today + timedelta(days=14)).isoformat()
    assert [(s["type"], s["by"]) for s in view["history"]] == [("team-full-declared", "ada.admin")]
    [event] = wellbeing_store.read_stream(team_full_stream(team))
    assert event.metadata.actor == "ada.admin"
    assert event.data["region_id"] == "R-NORTH"
    assert event.data["breach_id"] is None  # no team-full breach was open: nobody has cases

    lifted = duty.wellbeing("ada.admin").post(
        f"{path}/lifting", json={"reason": "Both back at work"}, headers=key()
    )
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["full"] is False
    assert [(s["type"], s["by"]) for s in lifted.json()["history"]] == [
        ("team-full-declared", "ada.admin"),
        ("team-full-lifted", "ada.admin"),
    ]
