"""The duty-of-care chapter of the story, told by the running stack.

`chapter(endpoints, told)` tells it (`python deploy/local/demo_duty_of_care.py` runs it alone):

1. Mo registers Noor, a probation officer on 18.5 hours (1,088 points) starting today, with
   himself as her line manager; the policy in force says where amber and red begin.
2. He allocates her licence A1 cases (163 points each). The seventh takes her past 100%, the
   eighth to 119.9%: each needs a written reason, and he gives one (below 120%, no head of
   service is needed). Nobody asks wellbeing anything.
3. Wellbeing hears allocation's `capacity-changed` on Kafka, judges it under the policy and
   opens a capacity breach, red (and amber), judged on the figure and citing the event, with
   working-day deadlines to acknowledge it before it goes up. Mo reads it, and Noor's
   duty-of-care view, through wellbeing's HTTP API.
4. hugo.head, of another region, may not acknowledge it; Mo does, with a note; a second
   acknowledgement is refused.
5. `breach-opened` and `breach-acknowledged` are on `plimsoll.wellbeing`, keyed by Noor.

The breach is left in `told["breach"]` for the notifications chapter. Each step checks the
answers (StoryBroken with a message if one is wrong); ids are fresh on every run.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from plimsoll_events.catalogue import topic_for
from story import (
    MO,
    REGION,
    TEAM,
    Api,
    Json,
    check,
    event_kind,
    fresh,
    kafka_from_now,
    print_counts,
    read_events,
    run_alone,
    show_problem,
    step,
    until,
)

TOPIC = topic_for("wellbeing")
CASES = 8  # licence A1, 163 points each: 8 x 163 = 1304 of 1088 points = 119.9%
BREACH_WAIT_S = 90.0
"""Allocation's relay, wellbeing's projection and judgement, its relay. Usually under a second;
but a policy just adopted (the wellbeing chapter adopts one) has wellbeing judge every
practitioner and team again first, which on a stack holding a thousand takes seconds."""


def overload(allocation: Api, suffix: str) -> tuple[str, Json, datetime]:
    """Noor, on 18.5 hours with Mo as line manager, given eight licence A1 cases (the ones past
    100% with a reason): her id, her capacity as allocation answers it, and when the last
    allocation (the one past red) was asked for."""
    noor = f"P-N-{suffix}"
    today = datetime.now(ZoneInfo("Europe/London")).date()
    body = {
        "practitioner_id": noor,
        "name": "Noor Haddad",
        "grade": "PO",
        "team_id": TEAM,
        "region_id": REGION,
        "contracted_hours": "18.5",
        "start_date": str(today),  # new in post: no supervision is overdue yet
        "line_manager_id": MO,
    }
    registered = allocation.call("mo.manager", "POST", "/practitioners", 201, json=body).json()
    print(f"  {noor} Noor Haddad, 18.5 h a week: {registered['available_points']} points")
    for n in range(CASES):
        case_id = f"XN{suffix}{n}"
        case = {"case_id": case_id, "team_id": TEAM, "case_type": "licence", "tier": "A1"}
        allocation.call("mo.manager", "POST", "/cases", 201, json=case)
        allocate: Json = {"practitioner_id": noor}
        last_at = datetime.now(UTC)
        if n >= 6:  # the seventh and the eighth take her past 100%
            allocate["override_reason"] = "Court-ordered licence conditions; cover for a vacancy"
        done = allocation.call(
            "mo.manager", "POST", f"/cases/{case_id}/allocation", 201, json=allocate
        ).json()
        check(done["override_recorded"] == (n >= 6), f"case {n + 1}: {done}")
        if n >= 5:
            reason = ", with a reason (override recorded)" if n >= 6 else ""
            print(f"  case {n + 1} ({case_id}): {done['capacity_after_percent']}%{reason}")
    capacity: Json = allocation.call(
        "mo.manager", "GET", f"/practitioners/{noor}/capacity", 200
    ).json()
    check(capacity["capacity_percent"] == "119.9", f"not 1304 / 1088 = 119.9%: {capacity}")
    return noor, capacity, last_at


def breach_of(wellbeing: Api, practitioner_id: str, rule: str) -> Json:
    """The open breach of `rule` for the practitioner, once wellbeing has opened it."""

    def probe() -> Json | None:
        path, query = "/breaches", {"practitioner_id": practitioner_id, "status": "open"}
        answer = wellbeing.ask("mo.manager", "GET", path, params=query)
        if answer.status_code == 404:  # wellbeing has not heard of her yet
            return None
        check(answer.status_code == 200, f"GET /breaches: {answer.status_code} {answer.text}")
        found = [b for b in answer.json()["breaches"] if b["rule"] == rule]
        return found[-1] if found else None

    return until(f"wellbeing to open {rule} for {practitioner_id}", probe, BREACH_WAIT_S)


def chapter(endpoints: Json, told: Json) -> str:
    services, issuer = endpoints["services"], endpoints["keycloak_issuer"]
    allocation, wellbeing = Api(services["allocation"], issuer), Api(services["wellbeing"], issuer)
    kafka = kafka_from_now(endpoints, TOPIC)
    suffix = fresh("")

    step(f"D1. Mo registers Noor in {TEAM}, reporting to him; the policy says where red begins")
    policy = wellbeing.call("mo.manager", "GET", "/policy", 200).json()
    amber = policy["thresholds"]["capacity_amber"]["percent"]
    red = policy["thresholds"]["capacity_red"]["percent"]
    print(f"  policy v{policy['policy_version']} in force: amber above {amber}%, red above {red}%")
    check(Decimal(red) < Decimal("119.9"), f"red at {red}%: 119.9% would not breach it")

    step(f"D2. He allocates her {CASES} licence A1 cases, the last two past 100% with a reason")
    noor, capacity, last_at = overload(allocation, suffix)
    figures = f"{capacity['total_points']} / {capacity['available_points']} points"
    print(f"  allocation: {figures} = {capacity['capacity_percent']}%")

    step("D3. Wellbeing hears it on Kafka and opens a capacity breach (nobody asked it to)")
    breach = breach_of(wellbeing, noor, "capacity-red")
    opened_in = (datetime.fromisoformat(breach["opened_at"]) - last_at).total_seconds()
    check(breach["facts"]["capacity_percent"] == "119.9", f"judged on: {breach['facts']}")
    check(breach["cause"]["event_type"] == "capacity-changed", f"cause: {breach['cause']}")
    check(breach["cause"]["source"] == "/plimsoll/allocation", f"cause: {breach['cause']}")
    check(breach["subject_id"] == noor and breach["acknowledged"] is None, f"{breach}")
    bid = breach["breach_id"]
    print(
        f"  {bid}: {breach['rule']}, judged on {breach['facts']['capacity_percent']}% under "
        f"policy v{breach['policy_version']} (red above "
        f"{breach['thresholds']['capacity_red']['percent']}%), opened {opened_in:.1f} s after "
        "the allocation that took her there"
    )
    print(
        f"  cause: {breach['cause']['event_type']} from {breach['cause']['source']}; "
        f"acknowledge by {breach['acknowledge_by']}, else it goes to the manager; "
        f"by {breach['escalate_by']}, to the head of service"
    )
    if opened_in > 3:
        print(
            "  (wellbeing judges every practitioner and team again when a policy is adopted, as "
            "in the wellbeing chapter: a new figure waits its turn)"
        )
    view = wellbeing.call("mo.manager", "GET", f"/practitioners/{noor}/duty-of-care", 200).json()
    held = view["capacity"]
    check(held["status"] == "red" and held["capacity_percent"] == "119.9", f"view: {held}")
    rules = sorted(b["rule"] for b in view["breaches"] if b["status"] == "open")
    check("capacity-red" in rules, f"her open breaches: {rules}")
    print(
        f"  GET /practitioners/{noor}/duty-of-care: capacity {held['status']} since "
        f"{held['red_since']}; open breaches: {', '.join(rules)}"
    )

    step("D4. The breach is acknowledged by who may, once")
    path = f"/breaches/{bid}/acknowledgement"
    print("  hugo.head, head of service of R-SOUTH:")
    outside = wellbeing.call("hugo.head", "POST", path, 403, json={})
    show_problem(outside, "outside-scope", "breach_id", indent="    ")
    note = "Two cases move to a colleague this week; we meet on Friday"
    acknowledged = wellbeing.call("mo.manager", "POST", path, 200, json={"note": note}).json()
    ack = acknowledged["acknowledged"]
    check((ack["by"], ack["note"]) == ("mo.manager", note), f"acknowledged: {ack}")
    check(acknowledged["status"] == "open", "acknowledging a breach does not resolve it")
    print(f"  mo.manager acknowledges it: {ack['note']!r} (it stays open; it goes no higher)")
    print("  hana.head acknowledges it again:")
    twice = wellbeing.call("hana.head", "POST", path, 409, json={})
    show_problem(twice, "already-acknowledged", "breach_id", indent="    ")

    step(f"D5. The breach's events are on {TOPIC}, keyed by Noor")
    expected = Counter({"breach-opened": 2, "breach-acknowledged": 1})  # amber and red
    found = read_events(kafka, {noor}, expected, deadline_s=BREACH_WAIT_S)
    kafka.close()
    print_counts(found)
    ours = [m for _, m in found if m["data"].get("breach_id") == bid]
    check(
        [event_kind(m) for m in ours] == ["breach-opened", "breach-acknowledged"],
        f"the breach's events: {[event_kind(m) for m in ours]}",
    )
    for message in ours:
        print(f"  {event_kind(message):<20} {bid} actor {message['actor']}")
    told["breach"] = {"breach_id": bid, "practitioner_id": noor, "opened_at": breach["opened_at"]}
    return (
        f"Noor at 119.9% opened {bid} ({breach['rule']}) {opened_in:.1f} s after the "
        f"allocation; Mo acknowledged it; breach-opened and breach-acknowledged on {TOPIC}"
    )


if __name__ == "__main__":
    sys.exit(run_alone(chapter))
