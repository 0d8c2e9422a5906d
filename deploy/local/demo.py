"""The whole story of Plimsoll, told by the running stack (`make demo`), checked as it goes.

Six chapters, in this order, each driven only through the services' public HTTP APIs (tokens
from Keycloak), Kafka and the stack's SMTP maildir:

1. allocation (`demo_allocation.py`): Mo (mo.manager) registers probation officers and
   allocates cases; capacity as HMPPS's Workload Measurement Tool computes it (1315 / 2176 =
   60.4%); past 100% a written reason, past 120% a head of service, each reader in their area;
   the events on Kafka as CloudEvents and HMPPS domain events.
2. timesheet (`demo_timesheet.py`): a paper fortnight imported once, a long week above
   contract, TOIL earned, corrected and booked, the rules' refusals, the facts on Kafka.
3. wellbeing (`demo_wellbeing.py`): work on a case suspended in supervision weighs nothing
   in allocation any more; an unsafe-workload declaration nobody answers is escalated and
   closed by a three-way meeting; a policy adopted by union and employer.
4. duty of care (`demo_duty_of_care.py`): allocations past 100% (with reasons) take a
   practitioner to 119.9%; wellbeing opens a capacity breach by itself; Mo acknowledges it;
   `breach-opened` and `breach-acknowledged` on Kafka.
5. notifications (`demo_notifications.py`): that breach in Mo's mailbox and inbox; he reads
   and acknowledges it; the notification's events on Kafka and its history; Pat's inbox
   holds his declaration's escalation, which he acknowledges; a partner system (a receiver
   the story runs, `partner.py`, subscribed before the first chapter) got the declaration
   and the breach as signed webhooks and verified each.
6. audit (`demo_audit.py`), last, so its bundle holds what the story did: Pat's evidence
   bundle exported, verified offline by `plimsoll-verify`, a one-byte forgery refused.

Each chapter runs alone too (`python deploy/local/demo_<chapter>.py`). Any answer other than
the story's stops the demo with `DEMO FAILED: ...` and exit 1. Ids are fresh on every run, so
it is safe to run again and again on the same stack.
"""

from __future__ import annotations

import sys
import time

import demo_allocation
import demo_audit
import demo_duty_of_care
import demo_notifications
import demo_timesheet
import demo_wellbeing
from partner import Partner
from story import BROKEN, Api, Chapter, Json, load_endpoints, step

CHAPTERS: list[tuple[str, Chapter]] = [
    ("allocation", demo_allocation.chapter),
    ("timesheet", demo_timesheet.chapter),
    ("wellbeing", demo_wellbeing.chapter),
    ("duty of care", demo_duty_of_care.chapter),
    ("notifications", demo_notifications.chapter),
    ("audit", demo_audit.chapter),
]


def main() -> int:
    started = time.monotonic()
    endpoints = load_endpoints()
    if endpoints is None:
        return 1
    told: Json = {}  # what one chapter leaves for the next (the breach, for notifications)
    summaries: list[tuple[str, float, str]] = []
    notifications = Api(endpoints["services"]["notifications"], endpoints["keycloak_issuer"])
    # A partner system subscribes before anything happens: the declaration and the breach
    # of the story reach it by webhook (the notifications chapter reads what it received).
    told["partner"] = partner = Partner()
    try:
        partner.subscribe(notifications)
        for name, chapter in CHAPTERS:
            print(f"\n\n######## {name.upper()} ########", flush=True)
            began = time.monotonic()
            try:
                summary = chapter(endpoints, told)
            except BROKEN as error:
                print(f"\nDEMO FAILED: {name}: {error}", file=sys.stderr)
                return 1
            summaries.append((name, time.monotonic() - began, summary))
    except BROKEN as error:
        print(f"\nDEMO FAILED: the partner's subscription: {error}", file=sys.stderr)
        return 1
    finally:
        partner.close(notifications)
    step(f"The whole story, told and checked in {time.monotonic() - started:.1f} s")
    for name, seconds, summary in summaries:
        print(f"  {name:<14} {seconds:5.1f} s  {summary}")
    print("  Read more: README.md, docs/ARCHITECTURE.md, docs/EVENTS.md, docs/asyncapi.yaml.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
