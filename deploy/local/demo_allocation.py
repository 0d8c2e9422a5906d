"""The allocation chapter of the story, told by the running stack.

`chapter(endpoints, told)` tells it (`python deploy/local/demo_allocation.py` runs it alone):
Mo (mo.manager, team T-NORTH-1) signs in through Keycloak (a forged token is refused),
registers two probation officers, opens cases and allocates them; the service answers with
capacity as HMPPS's Workload Measurement Tool (WMT) computes it (the worked example: 1315 /
2176 points = 60.4%). Past 100% a written reason is needed and recorded; past 120% only a
head of service (hana.head) may allocate, in her own region only; ops see a team's figures
without names. Every change is an event on Kafka, as CloudEvents and as HMPPS domain events.
Each step checks the answers; ids are fresh on every run.
"""

from __future__ import annotations

import base64
import json
import sys
from collections import Counter
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import httpx
from plimsoll_events.catalogue import topic_for
from plimsoll_events.envelope import TYPE_PREFIX
from plimsoll_events.hmpps import HMPPS_TOPIC
from story import (
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
)

EVENTS_TOPIC = topic_for("allocation")  # the service's CloudEvents
NEW_PO = {"grade": "PO", "team_id": TEAM, "region_id": REGION, "start_date": "2024-09-02"}


def wmt_percent(total_points: int, available_points: int) -> Decimal:
    """WMT's capacity, worked out here too: total / available, half up to 3 places, in %."""
    if total_points <= 0 or available_points <= 0:
        return Decimal("0")
    ratio = Decimal(total_points) / Decimal(available_points)
    return ratio.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) * 100


def show_capacity(api: Api, practitioner: Json, points: int) -> Json:
    """A practitioner's capacity as the service computes it, checked against WMT's arithmetic."""
    path = f"/practitioners/{practitioner['practitioner_id']}/capacity"
    answer: Json = api.call("mo.manager", "GET", path, 200).json()
    total, available = answer["total_points"], answer["available_points"]
    check(total == points, f"{practitioner['name']} carries {total} points, not {points}")
    check(available == practitioner["available_points"], f"available points moved: {answer}")
    wmt = wmt_percent(total, available)
    check(Decimal(answer["capacity_percent"]) == wmt, f"WMT makes it {wmt}%, not: {answer}")
    percent = answer["capacity_percent"]
    print(f"  {practitioner['name']:<11} {total:>5} / {available} points = {percent}%")
    return answer


def chapter(endpoints: Json, told: Json) -> str:
    services, issuer = endpoints["services"], endpoints["keycloak_issuer"]
    api = Api(services["allocation"], issuer)
    kafka = kafka_from_now(endpoints, EVENTS_TOPIC, HMPPS_TOPIC)  # this run's events come after

    step("Every service is live and ready; Mo signs in through Keycloak")
    for name, base in services.items():
        ready = httpx.get(f"{base}/health/ready", timeout=10)
        check(ready.status_code == 200, f"{name} is not ready: {ready.text}")
        print(f"  {name:<14} {base}  {ready.json()['status']}")
    me = api.call("mo.manager", "GET", "/me", 200).json()
    print(f"  /me: {me['username']}, roles {me['roles']}, team {me['team']}, region {me['region']}")
    header, payload, signature = api.token("mo.manager").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["realm_access"] = {"roles": ["admin"]}  # Mo edits his token to claim admin
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    forged = {"Authorization": f"Bearer {header}.{payload}.{signature}"}
    refused = httpx.get(f"{services['allocation']}/me", headers=forged, timeout=10)
    check(refused.status_code == 401, f"a forged token got {refused.status_code}")
    print(f"  his token edited to claim admin: {refused.status_code} {refused.json()['detail']}")

    suffix = fresh("")
    step(f"1. Mo registers two probation officers in {TEAM} (this run's ids end in {suffix})")
    staff = []
    for name, hours in (("Sam Okafor", "37"), ("Priya Shah", "18.5")):
        body = {**NEW_PO, "practitioner_id": f"P-{name[0]}-{suffix}", "name": name}
        body["contracted_hours"] = hours
        staff.append(api.call("mo.manager", "POST", "/practitioners", 201, json=body).json())
        points = staff[-1]["available_points"]
        print(f"  {body['practitioner_id']}  {name}, {hours} h a week: {points} available points")
    sam, priya = staff
    check([s["available_points"] for s in staff] == [2176, 1088], f"not 2176, 1088: {staff}")

    opened: list[Json] = []

    def open_case(case_type: str, tier: str) -> Json:
        body = {"case_id": f"X{suffix}{len(opened):02d}", "team_id": TEAM}
        body |= {"case_type": case_type, "tier": tier}
        opened.append(api.call("mo.manager", "POST", "/cases", 201, json=body).json())
        return opened[-1]

    def allocate(
        case: Json, to: Json, expect: int = 201, user: str = "mo.manager", **why: str
    ) -> httpx.Response:
        body = {"practitioner_id": to["practitioner_id"], **why}
        return api.call(user, "POST", f"/cases/{case['case_id']}/allocation", expect, json=body)

    step("2. He opens probation cases and allocates them; capacity as WMT computes it")
    cases = [open_case("community", "C1") for _ in range(10)]
    cases += [open_case("licence", "A1") for _ in range(5)]
    for case in cases:
        check(not allocate(case, sam).json()["override_recorded"], "an override below 100%")
    print("  Sam: 10 community C1 cases (50 points each) and 5 licence A1 cases (163 each)")
    shown = show_capacity(api, sam, sum(c["points"] for c in cases))
    weights = {(c["case_type"], c["tier"]): c["points"] for c in cases}
    worked = (shown["total_points"], shown["capacity_percent"]) == (1315, "60.4")
    check(worked, f"WMT's worked example needs its weights (C1 50, A1 163), not {weights}")
    print("  = WMT's worked example: 1315 / 2176 = 0.6043..., half up to 0.604, is 60.4%")
    for _ in range(6):
        allocate(open_case("licence", "A1"), priya)
    print("  Priya: 6 licence A1 cases")
    show_capacity(api, priya, 6 * 163)

    step("3. A licence A3 case for Priya? Mo previews the impact first")
    over = open_case("licence", "A3")
    path, params = f"/practitioners/{priya['practitioner_id']}/impact", {"case_id": over["case_id"]}
    impact = api.call("mo.manager", "GET", path, 200, params=params).json()
    for when in ("before", "after"):
        wmt = wmt_percent(impact[f"points_{when}"], impact["available_points"])
        check(Decimal(impact[f"capacity_{when}_percent"]) == wmt, f"WMT: {wmt}%, not {impact}")
    needs = (impact["needs_override_reason"], impact["needs_head_of_service"])
    check(needs == (True, False), f"a reason, not a head of service, is needed: {impact}")
    before, after = impact["capacity_before_percent"], impact["capacity_after_percent"]
    print(f"  case {over['case_id']} ({over['points']} points): {before}% -> {after}%")
    print("  needs_override_reason: true, needs_head_of_service: false")

    step("4. Allocating it without a reason is refused, and nothing is recorded")
    show_problem(allocate(over, priya, 422), "override-reason-required", "override_reason")
    still = api.call("mo.manager", "GET", f"/cases/{over['case_id']}", 200).json()
    check(still["practitioner_id"] is None, f"the refused case was allocated: {still}")
    print(f"  GET /cases/{over['case_id']}: still unallocated")
    show_capacity(api, priya, 6 * 163)

    step("5. With a written reason it goes through, and the decision is recorded")
    reason = "Only officer trained for this licence condition; cover until January"
    done = allocate(over, priya, override_reason=reason).json()
    check(done["override_recorded"] is True, f"no override recorded: {done}")
    print(f"  201, {done['capacity_after_percent']}%: allocation-override-recorded")
    ceiling = open_case("community", "A3")
    print(f"  case {ceiling['case_id']}, {ceiling['points']} points, would take her past 120%:")
    refused = allocate(ceiling, priya, 403, override_reason="cover")
    show_problem(refused, "head-of-service-required", "practitioner_id")
    reason = "Urgent risk case; reviewed with Mo, two cases move from Priya by Friday"
    done = allocate(ceiling, priya, user="hana.head", override_reason=reason).json()
    print(f"  hana.head, head of service of {REGION}, allocates it with a reason: 201")
    show_capacity(api, priya, 6 * 163 + over["points"] + ceiling["points"])
    since = datetime.now(ZoneInfo("Europe/London")).date().isoformat()  # the service's day
    params = {"since": since, "team_id": TEAM}
    listed = api.call("hana.head", "GET", "/overrides", 200, params=params).json()["overrides"]
    ours = [o for o in listed if o["case_id"] in (over["case_id"], ceiling["case_id"])]
    decided = [(o["decided_by"], o["exceeded"]) for o in ours]
    as_made = [("hana.head", "hard-ceiling"), ("mo.manager", "override-threshold")]
    check(decided == as_made, f"GET /overrides does not list the two decisions: {ours}")
    print("  hana.head reads GET /overrides (her region's, newest first):")
    for o in ours:
        who = f"{o['decided_by']} ({o['decided_by_role']})"
        print(f"    {o['case_id']} {o['exceeded']} by {who}: {o['reason']!r}")

    step("6. Each sees only their own area")
    print("  hana.head reads the capacity of R-SOUTH:")
    south = api.call("hana.head", "GET", "/regions/R-SOUTH/capacity", 403)
    show_problem(south, "outside-scope", None)
    team = api.call("ollie.ops", "GET", f"/teams/{TEAM}/capacity", 200)
    figures = team.json()
    named = figures["practitioners"] is not None or suffix in team.text
    check(not named, f"ops see names or ids: {figures}")
    points, available = figures["total_points"], figures["available_points"]
    print(f"  ollie.ops reads {TEAM}: {points} / {available} points = ", end="")
    print(f"{figures['capacity_percent']}%, {figures['practitioner_count']} in post, no names")

    step(f"7. The events are on Kafka: {EVENTS_TOPIC} and {HMPPS_TOPIC}")
    keys = {s["practitioner_id"] for s in staff} | {c["case_id"] for c in opened}
    keys |= {f"case-{c['case_id']}" for c in opened}  # the key of case-opened
    n = len(opened)  # event types of either topic, and how many of each this run recorded
    expected = Counter({"practitioner-registered": 2, "case-opened": n, "case-allocated": n})
    expected.update({"allocation-override-recorded": 2, "staff.available.hours.changed": 2})
    expected["person.community.manager.allocated"] = n
    found = read_events(kafka, keys, expected)
    kafka.close()
    print_counts(found)
    print(f"  the CloudEvents of Priya's two cases past 100% (type {TYPE_PREFIX}.<type>.v<n>):")
    streams = (f"case-{over['case_id']}", f"case-{ceiling['case_id']}")
    for topic, m in found:
        if topic == EVENTS_TOPIC and m["plimsollstream"] in streams:
            kind, subject = event_kind(m), m.get("subject") or "-"
            print(f"    {kind:<29} subject {subject:<10} actor {m['actor']}")
    crn = {"type": "CRN", "value": ceiling["case_id"]}
    hmpps = [m for t, m in found if m.get("personReference", {}).get("identifiers") == [crn]]
    check(len(hmpps) == 1, f"not one HMPPS message for {ceiling['case_id']}: {hmpps}")
    print(f"  the HMPPS message of case {ceiling['case_id']}, as HMPPS consumers read it:")
    print("    " + json.dumps(hmpps[0], indent=2).replace("\n", "\n    "))

    return (
        f"WMT's worked example 1315 / 2176 = 60.4%; past 100% with a reason, past 120% by a "
        f"head of service; scopes held; {len(found)} events on Kafka"
    )


if __name__ == "__main__":
    sys.exit(run_alone(chapter))
