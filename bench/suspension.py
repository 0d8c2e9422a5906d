"""Issue 11's suspended work: a supervision suspending work on a case, to allocation's
``capacity-changed`` on Kafka that no longer counts the case.

On the running stack's services (shared with other work; their own topics and consumer
groups, as in production). Each sample is a practitioner registered in T-NORTH-1 with one
case allocated (untimed), then, once wellbeing has heard of both through Kafka,
``POST /practitioners/{id}/supervisions/held`` by their line manager with one agreement
suspending work on the case. Timed from just before that request (the one answered 201;
earlier attempts answered 409 ``case-not-carried`` because wellbeing had not yet heard of the
allocation, and wrote nothing) to the moment a consumer of ``plimsoll.allocation`` receives
the practitioner's ``capacity-changed`` with no points carried. The path: wellbeing's store,
its relay, ``plimsoll.wellbeing``, allocation's workload-agreements consumer, the re-weighing
(``case-weighting-changed`` citing the suspension), the capacity process manager, allocation's
relay, ``plimsoll.allocation``.

The value is the p95 (goal: at most 500 ms).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import date

import httpx
from kafka import KafkaConsumer, TopicPartition

from bench.harness import Settings, endpoints, environment, kafka
from bench.results import Result
from bench.services import Tokens, percentile

GOAL_MS = 500.0
MANAGER = ("mo.manager", "mo.manager-local-only")  # line manager P-0100 of T-NORTH-1
TEAM, REGION, LINE_MANAGER = "T-NORTH-1", "R-NORTH", "P-0100"
TOPIC = "plimsoll.allocation"
HEARD_SECONDS = 120.0
ARRIVAL_SECONDS = 30.0


class _Arrivals(threading.Thread):
    """Reads the topic from its end; notes when each watched practitioner's capacity, once
    above 0 (their case allocated), first comes back to 0 points carried."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(**kafka().options(), enable_auto_commit=False)
        parts = [TopicPartition(TOPIC, p) for p in self.consumer.partitions_for_topic(TOPIC)]
        self.consumer.assign(parts)
        for tp, end in self.consumer.end_offsets(parts).items():
            self.consumer.seek(tp, end)
        self.watched: set[str] = set()
        self.carrying: set[str] = set()
        self.emptied: dict[str, float] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for batch in self.consumer.poll(timeout_ms=20).values():
                now = time.perf_counter()
                for record in batch:
                    key = (record.key or b"").decode()
                    if key not in self.watched or b"capacity-changed" not in record.value:
                        continue
                    event = json.loads(record.value)
                    if ".capacity-changed." not in event["type"]:
                        continue
                    if event["data"]["total_points"] > 0:
                        self.carrying.add(key)
                    elif key in self.carrying:
                        self.emptied.setdefault(key, now)
        self.consumer.close()


def suspension_capacity_p95(settings: Settings) -> Result:
    found = endpoints()
    services, issuer = found["services"], str(found["keycloak_issuer"])
    samples = 10 if settings.quick else 40
    manager = Tokens(issuer, *MANAGER)
    arrivals = _Arrivals()
    arrivals.start()
    latencies: list[float] = []
    refused_first = 0
    with (
        httpx.Client(base_url=services["allocation"], timeout=60) as allocation,
        httpx.Client(base_url=services["wellbeing"], timeout=60) as wellbeing,
    ):

        def prepared() -> tuple[str, str]:
            """A practitioner carrying one case, and wellbeing has heard of them."""
            pid, case_id = f"P-BS-{uuid.uuid4().hex[:10]}", f"XS{uuid.uuid4().hex[:10]}"
            arrivals.watched.add(pid)
            registered = {
                "practitioner_id": pid,
                "name": f"Bench {pid}",
                "grade": "PO",
                "team_id": TEAM,
                "region_id": REGION,
                "contracted_hours": "37",
                "start_date": "2024-09-02",
                "line_manager_id": LINE_MANAGER,
            }
            case = {"case_id": case_id, "team_id": TEAM, "case_type": "community", "tier": "B2"}
            for path, body in (
                ("/practitioners", registered),
                ("/cases", case),
                (f"/cases/{case_id}/allocation", {"practitioner_id": pid}),
            ):
                allocation.post(path, json=body, headers=manager.headers()).raise_for_status()
            deadline = time.monotonic() + HEARD_SECONDS
            known = f"/practitioners/{pid}/supervisions"
            while wellbeing.get(known, headers=manager.headers()).status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"wellbeing never heard of {pid}")
                time.sleep(0.2)
            return pid, case_id

        for _ in range(samples):
            pid, case_id = prepared()
            body = {
                "held_on": date.today().isoformat(),
                "duration_minutes": 60,
                "workload_reviewed": True,
                "wellbeing_discussed": True,
                "agreements": [
                    {
                        "kind": "suspend",
                        "case_id": case_id,
                        "until": None,
                        "reason": "Person remanded in custody: no contact possible",
                        "court_or_partner_must_be_told": True,
                    }
                ],
            }
            deadline = time.monotonic() + HEARD_SECONDS
            while True:
                headers = {**manager.headers(), "Idempotency-Key": str(uuid.uuid4())}
                began = time.perf_counter()
                answer = wellbeing.post(
                    f"/practitioners/{pid}/supervisions/held", json=body, headers=headers
                )
                if answer.status_code == 201:
                    break
                if answer.status_code != 409 or time.monotonic() > deadline:
                    raise RuntimeError(f"{answer.status_code}: {answer.text[:300]}")
                refused_first += 1
                time.sleep(0.2)
            wait_until = time.monotonic() + ARRIVAL_SECONDS
            while pid not in arrivals.emptied and time.monotonic() < wait_until:
                time.sleep(0.01)
            arrived = arrivals.emptied.get(pid)
            latencies.append((arrived - began) * 1000 if arrived else float("inf"))
    arrivals.stop.set()
    arrivals.join(10)
    latencies.sort()
    missing = sum(1 for value in latencies if value == float("inf"))
    return Result(
        name="suspension_capacity_p95",
        value=percentile(latencies, 0.95),
        unit="ms p95",
        baseline="the issue's goal for a suspension -> capacity-changed on Kafka (not a "
        "measured system)",
        baseline_value=GOAL_MS,
        goal="p95 <= 500 ms (lower is better; ratio = baseline_value / value)",
        goal_ratio=1.0,
        lower_is_better=True,
        details={
            "mode": settings.mode,
            "samples": len(latencies),
            "missing": missing,
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "max_ms": round(latencies[-1], 1),
            "attempts_refused_before_wellbeing_heard_of_the_case": refused_first,
            "path": "POST supervisions/held 201 (wellbeing) -> plimsoll.wellbeing "
            "work-suspended -> allocation-workload-agreements -> case-weighting-changed -> "
            "capacity process manager -> relay -> plimsoll.allocation capacity-changed (0 "
            "points), read by a consumer",
            "stack": "the running local stack's services (shared with other work)",
            "load_average": os.getloadavg(),
            "environment": environment(),
        },
    )
