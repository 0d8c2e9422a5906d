"""The timesheet chapter of the story, told by the running stack.

`timesheet_story(endpoints)` tells it (`python deploy/local/demo_timesheet.py` runs it alone):

1. Mo registers a probation officer, Sam, on 37 hours (allocation); the timesheet service
   learns where she works and her hours from allocation's events (placements).
2. Sam keeps a paper timesheet; Mo imports her fortnight from it as CSV, on her behalf and
   saying so. Importing the same sheet again records nothing.
3. One long week follows (10-hour days), then a normal one: her 4-week average goes above
   her contract, and the days beyond the contracted day earn TOIL.
4. One of the long days was 8 hours, not 10: a correction, with its reason, brings that
   day's TOIL down; nothing is edited in place.
5. Sam books a day of TOIL next week (planned leave); her balance drops by the day. Leave
   over it, time in the future, overlapping time, Pat logging for Sam and Mo recording
   overtime for her are refused, each naming the field.
6. The figures are read back and checked against what was logged; ops read the team's
   figures without names.
7. Every fact is a CloudEvent on `plimsoll.timesheet`, with Sam as subject.

Each step checks the answers (StoryBroken with a message if one is wrong); ids are fresh on
every run, so it is safe to re-run.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from plimsoll_events.catalogue import topic_for
from plimsoll_events.kafka import KafkaAccess
from plimsoll_platform.clock import is_working_day

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("PLIMSOLL_STACK_DIR", ROOT / ".stack"))
TOPIC = topic_for("timesheet")
TEAM, REGION = "T-NORTH-1", "R-NORTH"
DEADLINE_S = 30.0
WHY = "Entered by Mo from Sam's paper timesheet while she waits for her laptop"
Json = dict[str, Any]


class StoryBroken(Exception):
    """The stack did not answer as the story says."""


def check(ok: bool, what: str) -> None:
    if not ok:
        raise StoryBroken(what)


def step(text: str) -> None:
    print(f"\n== {text}", flush=True)


class Api:
    """One service over HTTP, as one demo user or another (password grant, local only).
    Every write carries a new Idempotency-Key unless given one."""

    def __init__(self, base_url: str, issuer: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.issuer = issuer
        self.tokens: dict[str, str] = {}

    def call(self, user: str, method: str, path: str, expect: int, **kw: Any) -> httpx.Response:
        if user not in self.tokens:
            form = {"grant_type": "password", "client_id": "plimsoll-web", "username": user}
            form["password"] = f"{user}-local-only"
            answer = httpx.post(f"{self.issuer}/protocol/openid-connect/token", data=form)
            check(answer.status_code == 200, f"Keycloak refused {user}: {answer.text}")
            self.tokens[user] = str(answer.json()["access_token"])
        headers = {"Authorization": f"Bearer {self.tokens[user]}", **kw.pop("headers", {})}
        if method == "POST":
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
        response = self.http.request(method, path, headers=headers, **kw)
        said = f"{response.status_code} {response.text[:400]}"
        check(response.status_code == expect, f"{user}: {method} {path}: not {expect} but {said}")
        return response


def refused(response: httpx.Response, kind: str, field: str | None) -> None:
    """Print an RFC 9457 problem, checking its type and the field it names."""
    problem = response.json()
    check(problem["type"].endswith(f"/{kind}"), f"expected a {kind} problem, got {problem}")
    named = [p["name"] for p in problem.get("invalid-params") or []]
    check(field is None or named == [field], f"not on {field}: {problem}")
    print(f"    {problem['status']} {kind}{f' on {field}' if field else ''}: {problem['detail']}")


def monday(weeks_ago: int) -> date:
    today = datetime.now(ZoneInfo("Europe/London")).date()
    return today - timedelta(days=today.weekday(), weeks=weeks_ago)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def kafka_from_now(endpoints: Json) -> KafkaConsumer:
    """A consumer of the timesheet's topic (no group), placed after its last messages."""
    security = endpoints["kafka_security"]
    admin = security["principals"]["admin"]
    password = json.loads((STATE / "secrets.json").read_text())[admin["password_secret"]]
    access = KafkaAccess(
        endpoints["kafka_bootstrap"], admin["username"], password, security["sasl_mechanism"]
    )
    consumer = KafkaConsumer(**access.options(), enable_auto_commit=False)
    partitions = [TopicPartition(TOPIC, p) for p in consumer.partitions_for_topic(TOPIC) or ()]
    check(bool(partitions), f"no topic {TOPIC}")
    consumer.assign(partitions)
    for partition in partitions:
        consumer.position(partition)  # resolved now (to the end), not at the first poll
    return consumer


def timesheet_story(endpoints: Json) -> None:
    services, issuer = endpoints["services"], endpoints["keycloak_issuer"]
    allocation = Api(services["allocation"], issuer)
    timesheet = Api(services["timesheet"], issuer)
    kafka = kafka_from_now(endpoints)
    sam = f"P-SAM-{uuid.uuid4().hex[:6]}"
    base = f"/practitioners/{sam}"

    step(f"1. Mo registers Sam ({sam}), a probation officer on 37 hours, in {TEAM}")
    body = {
        "practitioner_id": sam,
        "name": "Sam Adeyemi",
        "grade": "PO",
        "team_id": TEAM,
        "region_id": REGION,
        "contracted_hours": "37",
        "start_date": "2024-09-02",
    }
    allocation.call("mo.manager", "POST", "/practitioners", 201, json=body)
    deadline = time.monotonic() + DEADLINE_S
    while (
        timesheet.http.get(
            f"{base}/days/2024-09-02",
            headers={"Authorization": f"Bearer {allocation.tokens['mo.manager']}"},
        ).status_code
        != 200
    ):
        check(time.monotonic() < deadline, "the timesheet service never heard of Sam")
        time.sleep(0.3)
    print("  the timesheet service knows her team, region and hours (placements, from Kafka)")

    weeks = [monday(n) for n in (4, 3, 2, 1)]  # the 4 weeks ending last week
    fortnight = [d for w in weeks[:2] for d in (w + timedelta(days=n) for n in range(5))]
    step(f"2. Mo imports Sam's fortnight ({iso_week(weeks[0])}, {iso_week(weeks[1])}) as CSV")
    sheet = "date,minutes,category,start,end,note\n" + "".join(
        f"{d},444,casework,09:00,17:00,\n" for d in fortnight
    )
    params = {"on_behalf_reason": WHY}
    headers = {"Content-Type": "text/csv"}
    first = timesheet.call(
        "mo.manager",
        "POST",
        f"{base}/timesheet",
        200,
        content=sheet,
        params=params,
        headers=headers,
    ).json()
    again = timesheet.call(
        "mo.manager",
        "POST",
        f"{base}/timesheet",
        200,
        content=sheet,
        params=params,
        headers=headers,
    ).json()
    check(first["accepted"] == 10 and not first["rejected"], f"the sheet: {first}")
    check(again == {"accepted": 0, "already_imported": 10, "rejected": []}, f"again: {again}")
    print(
        f"  first import: {first['accepted']} rows accepted; the same sheet again: "
        f"{again['already_imported']} already imported, nothing recorded"
    )

    step(f"3. A long week ({iso_week(weeks[2])}: 10-hour days), then a normal one")
    long_days = [weeks[2] + timedelta(days=n) for n in range(5)]
    entries = []
    for day in long_days:
        entries.append(
            timesheet.call(
                "mo.manager",
                "POST",
                f"{base}/hours",
                201,
                json={
                    "day": str(day),
                    "minutes": 600,
                    "category": "court",
                    "started_at": "08:00",
                    "ended_at": "18:30",
                    "on_behalf_reason": WHY,
                },
            ).json()
        )
    for n in range(5):
        timesheet.call(
            "mo.manager",
            "POST",
            f"{base}/hours",
            201,
            json={
                "day": str(weeks[3] + timedelta(days=n)),
                "minutes": 444,
                "category": "casework",
                "on_behalf_reason": WHY,
            },
        )
    until = iso_week(weeks[3])
    figures = timesheet.call(
        "mo.manager", "GET", f"{base}/working-time", 200, params={"until": until}
    ).json()
    four = figures["four_weeks"]
    check(four["counted_minutes"] == 15 * 444 + 5 * 600, f"not what was logged: {four}")
    check(four["above_contract"], f"a 10-hour week should show: {four}")
    toil = figures["toil_balance_minutes"]
    print(
        f"  4-week average {four['average_hours']} h a week against a contract of "
        f"{float(four['contracted_average_minutes']) / 60:.2f} h: above contract"
    )
    print(f"  TOIL balance {toil} minutes (the long days beyond the 444-minute contracted day)")

    step("4. One long day was 8 hours, not 10: Mo corrects the entry, saying why")
    day, entry = long_days[1], entries[1]["entry_id"]
    corrected = timesheet.call(
        "mo.manager",
        "POST",
        f"{base}/days/{day}/entries/{entry}/correction",
        200,
        json={
            "minutes": 480,
            "category": "court",
            "started_at": "08:00",
            "ended_at": "16:30",
            "reason": "The hearing finished at 4",
        },
    ).json()
    check(
        corrected["toil_minutes"] == max(0, 480 - (corrected["contracted_day_minutes"] or 0)),
        f"the day's TOIL: {corrected}",
    )
    after = timesheet.call(
        "mo.manager", "GET", f"{base}/working-time", 200, params={"until": until}
    ).json()
    check(after["toil_balance_minutes"] == toil - 120, f"TOIL after the correction: {after}")
    check(after["four_weeks"]["counted_minutes"] == four["counted_minutes"] - 120, "average")
    print(
        f"  {day}: 600 -> 480 minutes; the day's TOIL is now {corrected['toil_minutes']}; "
        f"4-week average {after['four_weeks']['average_hours']} h, still above contract"
    )

    step("5. Sam books a day of TOIL next week; what the rules refuse")
    next_week = next(
        d for d in (monday(-1) + timedelta(days=n) for n in range(7)) if is_working_day(d)
    )
    timesheet.call(
        "mo.manager",
        "POST",
        f"{base}/leave",
        201,
        json={
            "leave_id": "L-TOIL-1",
            "kind": "toil",
            "first_day": str(next_week),
            "last_day": str(next_week),
            "note": "Back from the long week",
        },
    )
    booked = timesheet.call(
        "mo.manager", "GET", f"{base}/working-time", 200, params={"until": iso_week(next_week)}
    ).json()
    check(booked["toil_balance_minutes"] == after["toil_balance_minutes"] - 444, f"{booked}")
    print(
        f"  TOIL day on {next_week}: the balance goes from {after['toil_balance_minutes']} to "
        f"{booked['toil_balance_minutes']} minutes"
    )
    print("  annual leave over the same day:")
    refused(
        timesheet.call(
            "mo.manager",
            "POST",
            f"{base}/leave",
            409,
            json={"kind": "annual", "first_day": str(next_week), "last_day": str(next_week)},
        ),
        "overlapping-leave",
        "first_day",
    )
    print("  time logged for next week:")
    refused(
        timesheet.call(
            "mo.manager",
            "POST",
            f"{base}/hours",
            422,
            json={
                "day": str(next_week),
                "minutes": 60,
                "category": "admin",
                "on_behalf_reason": WHY,
            },
        ),
        "in-the-future",
        "day",
    )
    print("  an hour overlapping a long day's 08:00 to 18:30:")
    refused(
        timesheet.call(
            "mo.manager",
            "POST",
            f"{base}/hours",
            409,
            json={
                "day": str(long_days[0]),
                "minutes": 60,
                "category": "travel",
                "started_at": "18:00",
                "ended_at": "19:00",
                "on_behalf_reason": WHY,
            },
        ),
        "overlapping-time",
        "started_at",
    )
    print("  Pat logging time for Sam:")
    refused(
        timesheet.call(
            "pat.practitioner",
            "POST",
            f"{base}/hours",
            403,
            json={"day": str(long_days[0]), "minutes": 60, "category": "admin"},
        ),
        "outside-scope",
        "practitioner_id",
    )
    print("  Mo recording overtime for Sam (only she may: the right to work contracted hours):")
    refused(
        timesheet.call(
            "mo.manager",
            "POST",
            f"{base}/overtime",
            403,
            json={"day": str(long_days[0]), "minutes": 60},
        ),
        "practitioner-only",
        "practitioner_id",
    )

    step(f"6. The week reads back; ops see {TEAM}'s figures without names")
    week = timesheet.call("hana.head", "GET", f"{base}/weeks/{iso_week(weeks[2])}", 200).json()
    check(week["figures"]["minutes_by_category"] == {"court": 4 * 600 + 480}, f"{week}")
    print(
        f"  hana.head reads {week['week']}: {week['figures']['minutes_by_category']}, "
        f"contracted {week['figures']['contracted_minutes']} minutes"
    )
    team = timesheet.call(
        "ollie.ops", "GET", f"/teams/{TEAM}/working-time", 200, params={"until": until}
    )
    check(team.json()["members"] is None and sam not in team.text, "ops see names")
    pooled = team.json()["four_weeks"]
    print(
        f"  ollie.ops: {pooled['practitioners']} in post, {pooled['above_contract']} above "
        "their contract over 4 weeks, no names"
    )

    step(f"7. The facts are CloudEvents on {TOPIC}, with Sam as subject")
    expected = Counter(
        {"hours-logged": 20, "toil-accrued": 5, "hours-corrected": 1, "leave-recorded": 1}
    )
    seen: dict[str, Json] = {}
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        for records in kafka.poll(timeout_ms=500).values():
            for record in records:
                if record.key == sam.encode():
                    message = json.loads(record.value)
                    seen[message["id"]] = message  # at least once: a resend counts once
        kinds = Counter(m["type"].split(".")[-2] for m in seen.values())
        if kinds >= expected:
            break
    kafka.close()
    check(kinds >= expected, f"on Kafka: {dict(kinds)}, expected at least {dict(expected)}")
    check(all(m["subject"] == sam for m in seen.values()), "a subject is not Sam")
    for kind, count in sorted(kinds.items()):
        print(f"  {count:>3} x {kind}")


def main() -> int:
    started = time.monotonic()
    try:
        endpoints = json.loads((STATE / "endpoints.json").read_text())
    except FileNotFoundError:
        print(f"demo: no {STATE / 'endpoints.json'}: run `make up` first", file=sys.stderr)
        return 1
    try:
        timesheet_story(endpoints)
    except (StoryBroken, httpx.HTTPError, KafkaError) as error:
        print(f"\nDEMO FAILED: {error}", file=sys.stderr)
        return 1
    step(f"Done in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
