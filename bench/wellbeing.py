"""Issue 11's team view latency, over HTTP, against a loaded wellbeing service.

A scratch database gets teams of 50 practitioners in R-NORTH with a year of wellbeing
records each, by bulk import (``EventStore.import_events``): about 18 supervisions
(scheduled and held every three weeks, one cancelled, the next one scheduled), four
workload agreements (two since resumed), a closed declaration (every fifth practitioner
has an open one too) and two stress risk assessments (the second reviewing the first).
Placements (who is in which team) are written by the kit's own `PlacementsProjection`
from `practitioner-registered` events, as Kafka would have delivered them. A wellbeing
service process (uvicorn, as the local stack starts it) serves that database; one untimed
request catches its records read model up over every imported event. Then, one request at a
time over a keep-alive connection, with a real Keycloak token:

* ``wellbeing_team_view_p99``: ``GET /teams/{team}/wellbeing`` (50 practitioners: last and
  next supervision, due date under the policy in force, agreements in force, open
  declarations, next review), a random team each time, as its head of service.

The service's Kafka bootstrap is a closed loopback port, on purpose (see bench/allocation.py):
nothing is published to the shared stack and no consumer competes with the requests.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import httpx
import sqlalchemy
from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.projection import Delivered
from plimsoll_events.records import Metadata, NewEvent
from plimsoll_events.store import EventStore
from plimsoll_events.types.allocation import PractitionerRegistered
from plimsoll_events.types.wellbeing import (
    DeclarationAnswered,
    DeclarationClosed,
    StressRiskAssessmentRecorded,
    SupervisionCancelled,
    SupervisionHeld,
    SupervisionScheduled,
    WorkloadDeclared,
    WorkMarkedNotToBeDone,
    WorkResumed,
    WorkSuspended,
)
from plimsoll_platform.placements import PlacementsProjection
from plimsoll_wellbeing.domain.assessment import assessments_stream
from plimsoll_wellbeing.domain.declaration import declaration_stream
from plimsoll_wellbeing.domain.supervision import supervision_record_stream

from bench.harness import Settings, durability, endpoints, environment, scratch_database
from bench.results import Result
from bench.services import Tokens, percentile, service_process

TEAM_SIZE = 50
SEED = 20261201
HEAD = ("hana.head", "hana.head-local-only")  # head of service of R-NORTH
CATCH_UP_TIMEOUT = 1800.0
UNTIMED_WARMUP_REQUESTS = 20
GOAL_MS = 30.0


def _scale(settings: Settings) -> tuple[int, int]:
    """(teams, timed requests)."""
    return (4, 100) if settings.quick else (20, 1_000)


def _team(n: int) -> str:
    return "T-NORTH-1" if n == 0 else f"T-W{n:04d}"


# --- the data -----------------------------------------------------------------------------


def _year(practitioner_id: str, today: date, rng: random.Random) -> list[tuple[str, list[Any]]]:
    """A practitioner's year of wellbeing records, stream by stream."""
    p = practitioner_id
    record: list[EventData] = []
    first = today - timedelta(days=365 - rng.randrange(14))
    for k in range(18):
        day = first + timedelta(days=21 * k)
        if day > today:
            break
        sid = f"S-{k:03d}"
        record.append(
            SupervisionScheduled(
                practitioner_id=p,
                supervision_id=sid,
                supervisor_id="P-0100",
                scheduled_for=day,
                supervisor_reason=None,
            )
        )
        if k == 5:
            record.append(
                SupervisionCancelled(
                    practitioner_id=p,
                    supervision_id=sid,
                    reason="Supervisor on leave",
                    cancelled_on=day - timedelta(days=1),
                )
            )
            continue
        record.append(
            SupervisionHeld(
                practitioner_id=p,
                supervision_id=sid,
                supervisor_id="P-0100",
                line_manager_id="P-0100",
                held_on=day,
                duration_minutes=60 + 15 * (k % 3),
                workload_reviewed=True,
                wellbeing_discussed=k % 2 == 0,
                agreed_actions=[f"Action {k} agreed in supervision"],
                supervisor_reason=None,
            )
        )
        if k in (3, 8, 12, 15):
            agreement: dict[str, Any] = dict(
                practitioner_id=p,
                agreement_id=f"A-{k:03d}",
                case_id=f"X{p[-6:]}{k:02d}",
                supervision_id=sid,
                reason="Agreed in supervision",
                court_or_partner_must_be_told=k % 2 == 1,
                agreed_on=day,
            )
            if k == 12:
                record.append(WorkMarkedNotToBeDone(**agreement))
            else:
                record.append(WorkSuspended(**agreement, until=None))
            if k in (3, 8):
                record.append(
                    WorkResumed(
                        practitioner_id=p,
                        agreement_id=f"A-{k:03d}",
                        case_id=f"X{p[-6:]}{k:02d}",
                        resumed_on=day + timedelta(days=40),
                        cause="agreed",
                        reason="Work can go ahead again",
                    )
                )
    record.append(
        SupervisionScheduled(
            practitioner_id=p,
            supervision_id="S-next",
            supervisor_id="P-0100",
            scheduled_for=today + timedelta(days=rng.randrange(1, 21)),
            supervisor_reason=None,
        )
    )
    streams: list[tuple[str, list[Any]]] = [(supervision_record_stream(p), record)]

    declared_on = today - timedelta(days=200)
    declaration: dict[str, Any] = dict(
        practitioner_id=p,
        team_id="T",
        region_id="R-NORTH",
        line_manager_id="P-0100",
        what_is_unsafe="Too many high-risk cases",
        case_ids=[],
        tasks=[],
        details=None,
        answer_within_working_days=5,
        policy_version=1,
    )
    closed = [
        WorkloadDeclared(
            **declaration,
            declaration_id=f"D-{p}-1",
            declared_on=declared_on,
            answer_due_by=declared_on + timedelta(days=7),
        ),
        DeclarationAnswered(
            practitioner_id=p,
            declaration_id=f"D-{p}-1",
            answered_by="mo.manager",
            answered_on=declared_on + timedelta(days=3),
            response="actions-agreed",
            actions=["Two cases reallocated"],
            reasons=None,
        ),
        DeclarationClosed(
            practitioner_id=p,
            declaration_id=f"D-{p}-1",
            closed_on=declared_on + timedelta(days=4),
            closed_by="practitioner-accepted-answer",
        ),
    ]
    streams.append((declaration_stream(f"D-{p}-1"), closed))
    if rng.randrange(5) == 0:
        recent = today - timedelta(days=2)
        streams.append(
            (
                declaration_stream(f"D-{p}-2"),
                [
                    WorkloadDeclared(
                        **declaration,
                        declaration_id=f"D-{p}-2",
                        declared_on=recent,
                        answer_due_by=today + timedelta(days=5),
                    )
                ],
            )
        )
    assessed = today - timedelta(days=300)
    assessment: dict[str, Any] = dict(
        practitioner_id=p,
        assessed_by="mo.manager",
        risk_level="medium",
        outcome="Workload and travel",
        measures=["Caseload capped at 95%"],
    )
    streams.append(
        (
            assessments_stream(p),
            [
                StressRiskAssessmentRecorded(
                    **assessment,
                    assessment_id="RA-1",
                    assessed_on=assessed,
                    review_on=assessed + timedelta(days=180),
                    reviews=None,
                ),
                StressRiskAssessmentRecorded(
                    **assessment,
                    assessment_id="RA-2",
                    assessed_on=assessed + timedelta(days=180),
                    review_on=today + timedelta(days=60),
                    reviews="RA-1",
                ),
            ],
        )
    )
    return streams


def _load_placements(engine: sqlalchemy.Engine, people: list[tuple[str, str]]) -> None:
    """Placements as the kit's projection writes them, from `practitioner-registered`."""
    projection = PlacementsProjection("wellbeing")
    now = datetime.now(UTC)
    delivered = [
        Delivered(
            event_id=uuid4(),
            type=PractitionerRegistered.type,
            data=PractitionerRegistered(
                practitioner_id=pid,
                name=f"Practitioner {pid}",
                grade="PO",
                team_id=team,
                region_id="R-NORTH",
                contracted_hours=Decimal(37),
                line_manager_id="P-0100",
                start_date=date(2015, 1, 5),
            ),
            subject=pid,
            time=now,
            source="/plimsoll/allocation",
            position=n + 1,
            traceparent=None,
            topic="plimsoll.allocation",
            partition=0,
            offset=n,
        )
        for n, (pid, team) in enumerate(people)
    ]
    with engine.begin() as conn:
        projection.create(conn)
        projection.apply(conn, delivered)


def _import(engine: sqlalchemy.Engine, teams: int, today: date) -> tuple[int, list[str]]:
    rng = random.Random(SEED)
    metadata = Metadata(actor="bench", correlation_id=uuid4())
    people = [(f"P-W{t:03d}{i:03d}", _team(t)) for t in range(teams) for i in range(TEAM_SIZE)]
    _load_placements(engine, people)

    def streams() -> Iterator[tuple[str, list[NewEvent]]]:
        for pid, _ in people:
            for stream, data in _year(pid, today, rng):
                yield stream, [CATALOGUE.new_event(d, metadata) for d in data]

    store = EventStore(engine)
    try:
        store.create_schema()
        return store.import_events(streams()), [_team(t) for t in range(teams)]
    finally:
        store.close()


# --- the service --------------------------------------------------------------------------


def wellbeing_team_view_p99(settings: Settings) -> Result:
    teams, requests = _scale(settings)
    today = datetime.now(ZoneInfo("Europe/London")).date()
    with ExitStack() as stack:
        db = stack.enter_context(scratch_database("wellbeing"))
        durability_before = durability(db.conninfo)
        engine = sqlalchemy.create_engine(db.sqlalchemy_url)
        stack.callback(engine.dispose)
        began = time.perf_counter()
        imported, team_ids = _import(engine, teams, today)
        load_seconds = time.perf_counter() - began

        log_path = Path(tempfile.mkstemp(prefix="bench-wellbeing-", suffix=".log")[1])
        base_url, _ = stack.enter_context(service_process("wellbeing", db.sqlalchemy_url, log_path))
        client = stack.enter_context(httpx.Client(base_url=base_url, timeout=CATCH_UP_TIMEOUT))
        tokens = Tokens(str(endpoints()["keycloak_issuer"]), *HEAD)
        rng = random.Random(SEED + 1)

        def timed() -> float:
            headers = tokens.headers()  # untimed: a renewal is not the service's time
            team = rng.choice(team_ids)
            t0 = time.perf_counter()
            answer = client.get(f"/teams/{team}/wellbeing", headers=headers)
            elapsed = (time.perf_counter() - t0) * 1000
            if answer.status_code != 200 or answer.json()["figures"]["practitioners"] != TEAM_SIZE:
                raise RuntimeError(f"{team}: {answer.status_code} {answer.text[:300]}")
            return elapsed

        t0 = time.perf_counter()
        timed()  # the first read catches the records read model up over every event
        catch_up_seconds = time.perf_counter() - t0
        for _ in range(UNTIMED_WARMUP_REQUESTS):
            timed()
        ordered = sorted(timed() for _ in range(requests))
        p99 = percentile(ordered, 0.99)
        return Result(
            name="wellbeing_team_view_p99",
            value=p99,
            unit="ms p99",
            baseline="the issue's goal for a team's supervision and declaration view "
            "(50 practitioners, a year of records) (not a measured system)",
            baseline_value=GOAL_MS,
            goal=f"p99 <= {GOAL_MS:g} ms (lower is better; ratio = baseline_value / value)",
            goal_ratio=1.0,
            lower_is_better=True,
            details={
                "mode": settings.mode,
                "route": "GET /teams/{team}/wellbeing, a random 50-person team each time",
                "timed_requests": len(ordered),
                "statistic": "p99 (nearest rank) of sequential requests, one keep-alive "
                "connection, client-side wall time, JSON decoding included",
                "p50_ms": round(percentile(ordered, 0.50), 2),
                "p95_ms": round(percentile(ordered, 0.95), 2),
                "p99_ms": round(p99, 2),
                "max_ms": round(ordered[-1], 2),
                "mean_ms": round(sum(ordered) / len(ordered), 2),
                "untimed_warmup_requests": UNTIMED_WARMUP_REQUESTS,
                "token": f"{HEAD[0]} (head of service of R-NORTH), Keycloak password grant",
                "teams": teams,
                "practitioners": teams * TEAM_SIZE,
                "events_imported": imported,
                "records_per_practitioner": "a year: ~18 supervisions (one cancelled, the "
                "next scheduled), 4 agreements (2 resumed), 1-2 declarations, 2 assessments",
                "load_seconds": round(load_seconds, 2),
                "catch_up_seconds": round(catch_up_seconds, 2),
                "catch_up_note": "the first request, untimed: the records read model applies "
                "every imported event",
                "database": db.name,
                "durability_before_load": durability_before,
                "durability": durability(db.conninfo),
                "kafka": "a closed loopback port (relay and Kafka-fed projections idle)",
                "service_log": str(log_path),
                "environment": environment(),
            },
        )
