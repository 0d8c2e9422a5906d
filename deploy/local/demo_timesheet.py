"""The timesheet chapter of the story, told by the running stack.

`chapter(endpoints, told)` tells it (`python deploy/local/demo_timesheet.py` runs it alone):

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

import sys
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from plimsoll_events.catalogue import topic_for
from plimsoll_platform.clock import is_working_day
from story import (
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

TOPIC = topic_for("timesheet")
WHY = "Entered by Mo from Sam's paper timesheet while she waits for her laptop"


def refused(response: httpx.Response, kind: str, field: str | None) -> None:
    show_problem(response, kind, field, indent="    ")


def monday(weeks_ago: int) -> date:
    today = datetime.now(ZoneInfo("Europe/London")).date()
    return today - timedelta(days=today.weekday(), weeks=weeks_ago)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def chapter(endpoints: Json, told: Json) -> str:
    services, issuer = endpoints["services"], endpoints["keycloak_issuer"]
    allocation = Api(services["allocation"], issuer)
    timesheet = Api(services["timesheet"], issuer)
    kafka = kafka_from_now(endpoints, TOPIC)
    sam = fresh("P-SAM-")
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
    until(
        "the timesheet service to hear of Sam",
        lambda: timesheet.ask("mo.manager", "GET", f"{base}/days/2024-09-02").status_code == 200,
    )
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
    last_week = iso_week(weeks[3])
    figures = timesheet.call(
        "mo.manager", "GET", f"{base}/working-time", 200, params={"until": last_week}
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
        "mo.manager", "GET", f"{base}/working-time", 200, params={"until": last_week}
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
        "ollie.ops", "GET", f"/teams/{TEAM}/working-time", 200, params={"until": last_week}
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
    found = read_events(kafka, {sam}, expected)
    kafka.close()
    check(all(m["subject"] == sam for _, m in found), "a subject is not Sam")
    print_counts(found)
    return (
        f"a paper fortnight imported once, a long week above contract, TOIL "
        f"{booked['toil_balance_minutes']} minutes after a correction and a TOIL day; "
        f"{len(found)} events on Kafka"
    )


if __name__ == "__main__":
    sys.exit(run_alone(chapter))
