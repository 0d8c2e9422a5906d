"""The wellbeing chapter of the story, told by the running stack.

`chapter(endpoints, told)` tells it (`python deploy/local/demo_wellbeing.py` runs it alone):

1. Mo registers a probation officer and gives her cases (allocation); wellbeing hears of her
   and of her cases from allocation's events.
2. In supervision they agree to suspend work on one case until the end of next month (the
   court must be told). Suspending a case she does not carry is refused, naming the field.
   Allocation hears of it (`work-suspended`, from Kafka) and counts the case for nothing:
   her capacity drops by exactly that case's points.
3. Pat declares his workload unsafe; nobody answers. The deadline sweep, run as of the day
   after the deadline (working days of England and Wales), escalates it to the head of
   service of his region; hana.head holds the three-way meeting, which closes it; hugo.head,
   of another region, may not.
4. The union proposes a policy (capacity red at 105%); one account cannot approve for both
   sides; the employer's approval adopts it, and the policy in force changes from that instant.
5. Every step is an event on `plimsoll.wellbeing`, keyed by the practitioner.

Each step checks the answers (StoryBroken with a message if one is wrong); ids are fresh on
every run, so it is safe to re-run.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

from plimsoll_events.catalogue import topic_for
from story import (
    MO,
    REGION,
    TEAM,
    Api,
    Json,
    check,
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
UK = ZoneInfo("Europe/London")


def chapter(endpoints: Json, told: Json) -> str:
    services, issuer = endpoints["services"], endpoints["keycloak_issuer"]
    allocation, wellbeing = Api(services["allocation"], issuer), Api(services["wellbeing"], issuer)
    kafka = kafka_from_now(endpoints, TOPIC)
    today = datetime.now(UK).date()
    suffix = fresh("")

    step(f"W1. Mo registers Rosa Mensah, a probation officer in {TEAM}, and gives her cases")
    rosa = f"P-R-{suffix}"
    allocation.call(
        "mo.manager",
        "POST",
        "/practitioners",
        201,
        json={
            "practitioner_id": rosa,
            "name": "Rosa Mensah",
            "grade": "PO",
            "team_id": TEAM,
            "region_id": REGION,
            "contracted_hours": "37",
            "start_date": "2023-04-03",
            "line_manager_id": MO,
        },
    )
    cases, points = [], {}
    for n, (case_type, tier) in enumerate(
        (("community", "B2"), ("licence", "A1"), ("community", "C1"))
    ):
        case_id = f"XR{suffix}{n}"
        opened = allocation.call(
            "mo.manager",
            "POST",
            "/cases",
            201,
            json={"case_id": case_id, "team_id": TEAM, "case_type": case_type, "tier": tier},
        )
        points[case_id] = opened.json()["points"]
        allocation.call(
            "mo.manager",
            "POST",
            f"/cases/{case_id}/allocation",
            201,
            json={"practitioner_id": rosa},
        )
        cases.append(case_id)
    capacity = allocation.call("mo.manager", "GET", f"/practitioners/{rosa}/capacity", 200).json()
    print(
        f"  {rosa}: cases {', '.join(cases)}; capacity {capacity['total_points']} / "
        f"{capacity['available_points']} points = {capacity['capacity_percent']}%"
    )
    known = f"/practitioners/{rosa}/supervisions"
    until(
        "wellbeing to hear of Rosa",
        lambda: wellbeing.ask("mo.manager", "GET", known).status_code == 200,
    )
    print("  wellbeing knows her (placements, from allocation's events on Kafka)")

    step("W2. In supervision, work on her licence case is suspended until next month's end")
    last_day = (today.replace(day=1) + timedelta(days=62)).replace(day=1) - timedelta(days=1)
    held_body: Json = {
        "held_on": str(today),
        "duration_minutes": 75,
        "workload_reviewed": True,
        "wellbeing_discussed": True,
        "agreed_actions": [f"Review the risk plan of {cases[0]} by Friday"],
        "agreements": [
            {
                "kind": "suspend",
                "case_id": cases[1],
                "until": str(last_day),
                "reason": "Person remanded in custody: no supervision contact possible",
                "court_or_partner_must_be_told": True,
            }
        ],
    }
    path = f"/practitioners/{rosa}/supervisions/held"
    stranger = dict(held_body, agreements=[dict(held_body["agreements"][0], case_id="X000NONE")])
    print("  first, Mo tries to suspend a case Rosa does not carry:")
    show_problem(
        wellbeing.call("mo.manager", "POST", path, 409, json=stranger),
        "case-not-carried",
        "agreements[0].case_id",
    )

    def hold() -> Json | None:
        answer = wellbeing.ask("mo.manager", "POST", path, json=held_body)
        return answer.json() if answer.status_code == 201 else None

    held = until("wellbeing to hear Rosa carries the case", hold)
    [agreement] = held["agreements"]
    print(
        f"  201: supervision {held['supervision']['supervision_id']} held {today} with "
        f"{held['supervision']['supervisor_id']} (her line manager)"
    )
    print(
        f"  work-suspended: {agreement['case_id']} until {agreement['until']}, court to be "
        f"told: {agreement['court_or_partner_must_be_told']}"
    )
    suspended_points = points[cases[1]]

    def lower() -> Json | None:
        now: Json = allocation.call(
            "mo.manager", "GET", f"/practitioners/{rosa}/capacity", 200
        ).json()
        return now if now["total_points"] < capacity["total_points"] else None

    after = until("allocation to re-weigh the suspended case", lower)
    check(
        after["total_points"] == capacity["total_points"] - suspended_points,
        f"not {suspended_points} points fewer: {after}",
    )
    print(
        f"  allocation hears of it (work-suspended, from Kafka) and counts the case for nothing: "
        f"{capacity['total_points']} -> {after['total_points']} points "
        f"({capacity['capacity_percent']}% -> {after['capacity_percent']}%)"
    )

    step("W3. Pat declares his workload unsafe; nobody answers; the deadline passes")
    declared = wellbeing.call(
        "pat.practitioner",
        "POST",
        "/practitioners/P-0001/declarations",
        201,
        json={
            "what_is_unsafe": f"Three new high-risk cases ({suffix}) "
            "on top of a caseload already above 110%",
            "tasks": ["Two pre-sentence reports due this week"],
        },
    )
    declaration = declared.json()
    did, due = declaration["declaration_id"], declaration["answer_due_by"]
    told["declaration"] = did  # for the notifications chapter: Pat's inbox, the partner
    print(
        f"  {did}: answer due by {due} ({declaration['answer_within_working_days']} working "
        f"days, England and Wales, policy v{declaration['policy_version']})"
    )
    morning_after = datetime.combine(
        datetime.fromisoformat(due).date() + timedelta(days=1), clock_time(9, 0), tzinfo=UK
    )
    swept = wellbeing.call(
        "ada.admin", "POST", "/deadlines/run", 200, params={"as_of": morning_after.isoformat()}
    ).json()
    check(did in swept["escalated"], f"{did} was not escalated: {swept}")
    view = wellbeing.call("hana.head", "GET", f"/declarations/{did}", 200).json()
    escalation = view["escalation"]
    check(escalation["because"] == "deadline-missed", f"not for the deadline: {escalation}")
    print(
        f"  the sweep, as of {morning_after:%a %d %b %H:%M}: escalated to the "
        f"{escalation['escalated_to']} of {escalation['region_id']}, three-way meeting "
        f"requested (actor system:declaration-deadlines)"
    )
    again = wellbeing.call(
        "ada.admin", "POST", "/deadlines/run", 200, params={"as_of": morning_after.isoformat()}
    ).json()
    check(did not in again["escalated"], "escalated twice")
    print("  run again: nothing more (once, across replicas too)")
    meeting = {
        "held_on": str(today),
        "outcome": "actions-agreed",
        "notes": "Two cases move to Rosa's team colleague; no new cases for a month",
        "actions": ["Reallocate two cases by Friday"],
    }
    print("  hugo.head, head of service of R-SOUTH, may not hold it:")
    show_problem(
        wellbeing.call(
            "hugo.head", "POST", f"/declarations/{did}/three-way-meeting", 403, json=meeting
        ),
        "outside-scope",
        "declaration_id",
    )
    closed = wellbeing.call(
        "hana.head", "POST", f"/declarations/{did}/three-way-meeting", 200, json=meeting
    ).json()
    check(closed["status"] == "closed", f"not closed: {closed}")
    print(
        f"  hana.head holds it: {closed['three_way_meeting']['outcome']}; the declaration is "
        f"closed by {closed['closing']['closed_by']}"
    )

    step("W4. The policy: red at 105%, proposed by the union, approved by both sides")
    before = wellbeing.call("uma.union", "GET", "/policy", 200).json()
    history = wellbeing.call("uma.union", "GET", "/policy/history", 200).json()
    version = max(v["policy_version"] for v in history["versions"]) + 1
    thresholds = json.loads(json.dumps(before["thresholds"]))
    thresholds["capacity_red"]["percent"] = 105
    thresholds["capacity_red"]["source"] = f"Joint negotiating committee, minute {suffix}"
    wellbeing.call(
        "uma.union",
        "POST",
        "/policy/proposals",
        201,
        json={
            "policy_version": version,
            "thresholds": thresholds,
            "reason": "Red at 105%, as agreed at the joint negotiating committee",
        },
    )
    red_before = before["thresholds"]["capacity_red"]["percent"]
    print(
        f"  uma.union proposes version {version} (in force now: v{before['policy_version']}, "
        f"red {red_before}%)"
    )
    wellbeing.call("uma.union", "POST", f"/policy/proposals/{version}/approval", 200, json={})
    print("  uma.union approves it for the union side; approving again with the same account:")
    show_problem(
        wellbeing.call("uma.union", "POST", f"/policy/proposals/{version}/approval", 409, json={}),
        "already-approved",
        "policy_version",
    )
    pending = wellbeing.call("mo.manager", "GET", "/policy", 200).json()
    check(pending["policy_version"] != version, "in force on one side's approval")
    adopted = wellbeing.call(
        "emil.employer", "POST", f"/policy/proposals/{version}/approval", 200, json={}
    ).json()
    check(adopted["status"] == "adopted", f"not adopted: {adopted}")
    now = wellbeing.call("mo.manager", "GET", "/policy", 200).json()
    check(
        (now["policy_version"], now["thresholds"]["capacity_red"]["percent"]) == (version, 105),
        f"not in force: {now}",
    )
    earlier = wellbeing.call(
        "mo.manager", "GET", "/policy", 200, params={"as_of": before["as_of"]}
    ).json()
    check(earlier["policy_version"] == before["policy_version"], f"as_of: {earlier}")
    print(
        f"  emil.employer approves: version {version} adopted at {now['adopted_at']}, "
        f"red {now['thresholds']['capacity_red']['percent']}%"
    )
    print(f"  GET /policy?as_of={before['as_of']}: version {earlier['policy_version']}")

    step(f"W5. The events are on Kafka: {TOPIC}, keyed by the practitioner")
    keys = {rosa, "P-0001", "wellbeing-policy"}
    expected = Counter(
        {
            "supervision-held": 1,
            "work-suspended": 1,
            "workload-declared": 1,
            "declaration-escalated": 1,
            "three-way-meeting-held": 1,
            "declaration-closed": 1,
            "policy-proposed": 1,
            "policy-approved": 2,
            "policy-adopted": 1,
        }
    )
    found = read_events(kafka, keys, expected)
    kafka.close()
    print_counts(found)
    suspended = next(m for _, m in found if m["type"].endswith("work-suspended.v1"))
    print(
        f"  work-suspended: subject {suspended['subject']}, actor {suspended['actor']}, data "
        + json.dumps(suspended["data"])
    )
    return (
        f"a case suspended in supervision weighs nothing in allocation "
        f"({capacity['capacity_percent']}% -> {after['capacity_percent']}%), an unanswered "
        f"declaration escalated and closed, policy v{version} adopted by both sides"
    )


if __name__ == "__main__":
    sys.exit(run_alone(chapter))
