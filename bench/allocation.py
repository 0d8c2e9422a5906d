"""Issue 4's allocation latencies, over HTTP, against a loaded allocation service.

A scratch database gets a realistic workforce and caseload by bulk import
(``EventStore.import_events``): practitioners in 50-person teams, each carrying
about 15 open, allocated probation cases weighted by the domain's
``DEFAULT_PROBATION_SCHEME`` (nobody above 100%). A separate allocation
service process (uvicorn, as the local stack starts it) serves that database;
one untimed request makes its caseload read model catch up over every
imported event. Then, one request at a time over a keep-alive connection,
with real Keycloak tokens:

* ``allocation_capacity_p99``: ``GET /practitioners/{id}/capacity``;
* ``team_capacity_p99``: ``GET /teams/{team}/capacity`` (50 people);
* ``allocation_command_p99``: ``POST /cases/{id}/allocation`` to a practitioner
  with room, command to 201 (the case is opened beforehand, untimed).

The three share one loaded service when run by ``bench.run`` (inside
:data:`SHARED`); called on their own, each loads its own.

The service's Kafka bootstrap is a closed loopback port, on purpose: its
outbox relays would otherwise publish every imported event to the shared
stack's ``plimsoll.allocation`` topics (whose consumers would take them for
real), and would compete with the requests for the process while doing so.
Readiness is therefore waited for on its database check only.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import sqlalchemy
from plimsoll_allocation.domain import DEFAULT_PROBATION_SCHEME, case_stream, practitioner_stream
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.records import Metadata, NewEvent
from plimsoll_events.store import EventStore
from plimsoll_events.types.allocation import CaseAllocated, CaseOpened, PractitionerRegistered

from bench.harness import (
    ScratchDatabase,
    Settings,
    durability,
    endpoints,
    environment,
    scratch_database,
    settle,
)
from bench.results import Result
from bench.services import WEB_CLIENT, SharedLoad, Tokens, percentile, service_process

TEAM_SIZE = 50
CASES_PER_PRACTITIONER = 15
SEED = 20261130
HEAD = ("hana.head", "hana.head-local-only")  # head of service of R-NORTH
CATCH_UP_TIMEOUT = 1800.0
UNTIMED_WARMUP_REQUESTS = 20
ALLOCATED_CASE = ("community", "D1")  # what the timed allocations give: 29 points


@dataclass(frozen=True)
class Scale:
    practitioners: int
    requests: int  # timed requests per benchmark

    @classmethod
    def of(cls, settings: Settings) -> Scale:
        return cls(1_000, 100) if settings.quick else cls(20_000, 1_000)

    @property
    def teams(self) -> int:
        return self.practitioners // TEAM_SIZE

    @property
    def cases(self) -> int:
        return self.practitioners * CASES_PER_PRACTITIONER


# --- the data -----------------------------------------------------------------------------


@dataclass
class Practitioner:
    practitioner_id: str
    team_id: str
    available_points: int
    total_points: int = 0

    @property
    def room(self) -> int:
        return self.available_points - self.total_points


@dataclass
class Workforce:
    practitioners: list[Practitioner] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    events: int = 0
    grades: dict[str, int] = field(default_factory=dict)
    hours: dict[str, int] = field(default_factory=dict)
    case_types: dict[str, int] = field(default_factory=dict)


def _team(n: int) -> tuple[str, str]:
    """Team and region; the first team is mo.manager's own. Every team is in R-NORTH, the
    area of hana.head, whose token the timed requests carry."""
    if n == 0:
        return "T-NORTH-1", "R-NORTH"
    return f"T-{n:04d}", "R-NORTH"


# Probation case types and WMT tiers as they come, roughly: most community, low tiers common.
_CASE_TYPES = (
    ("community", 55),
    ("licence", 20),
    ("custody", 20),
    ("standard-court-report", 3),
    ("fast-court-report", 2),
)
_TIERS = (
    ("A", 5),
    ("B", 20),
    ("C", 40),
    ("D", 35),
)
_HOURS = ((Decimal(37), 80), (Decimal(30), 10), (Decimal("22.5"), 6), (Decimal("18.5"), 4))
_GRADES = (("PO", 60), ("PSO", 40))
_FALLBACK = ("custody", "D1")  # 13 points: what a nearly full caseload is topped up with


def _pick(rng: random.Random, weighted: tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([v for v, _ in weighted], weights=[w for _, w in weighted])[0]


def _points(case_type: str, tier: str | None) -> int:
    scheme = DEFAULT_PROBATION_SCHEME
    if case_type == "standard-court-report":
        return scheme.court_report_points["standard"]
    if case_type == "fast-court-report":
        return scheme.court_report_points["fast"]
    assert tier is not None
    return scheme.tier_points[case_type][tier]  # type: ignore[index]


def _available(grade: str, hours: Decimal) -> int:
    allowance = DEFAULT_PROBATION_SCHEME.grades[grade]
    return int(allowance.nominal_target_points * hours / allowance.default_contracted_hours)


def _event(data: Any, metadata: Metadata) -> NewEvent:
    return CATALOGUE.new_event(data, metadata)


def _streams(scale: Scale, workforce: Workforce) -> Iterator[tuple[str, list[NewEvent]]]:
    """Every practitioner's stream, then every case's (opened, allocated), built lazily."""
    rng = random.Random(SEED)
    onboarding = Metadata(actor="ada.admin", correlation_id=uuid4())
    start = date(2010, 1, 4)
    for n in range(scale.practitioners):
        team_id, region_id = _team(n // TEAM_SIZE)
        if n % TEAM_SIZE == 0:
            workforce.teams.append(team_id)
        grade: str = _pick(rng, _GRADES)
        hours: Decimal = _pick(rng, _HOURS)
        practitioner_id = f"P-{n:06d}"
        registered = PractitionerRegistered(
            practitioner_id=practitioner_id,
            name=f"Practitioner {n:06d}",
            grade=grade,
            team_id=team_id,
            region_id=region_id,
            contracted_hours=hours,
            line_manager_id=f"{team_id}-SPO",
            start_date=start + timedelta(days=rng.randrange(5_400)),
        )
        workforce.practitioners.append(
            Practitioner(practitioner_id, team_id, _available(grade, hours))
        )
        workforce.grades[grade] = workforce.grades.get(grade, 0) + 1
        workforce.hours[str(hours)] = workforce.hours.get(str(hours), 0) + 1
        workforce.events += 1
        yield practitioner_stream(practitioner_id), [_event(registered, onboarding)]

    opened_from = date(2024, 12, 1)
    case_number = 0
    for practitioner in workforce.practitioners:
        # Each carries 55% to 90% of what they can: nobody above 100%, most with room.
        budget = int(practitioner.available_points * rng.uniform(0.55, 0.90))
        for _ in range(CASES_PER_PRACTITIONER):
            for _attempt in range(5):
                case_type: str = _pick(rng, _CASE_TYPES)
                tier = (
                    None
                    if "court-report" in case_type
                    else _pick(rng, _TIERS) + str(rng.randrange(4))
                )
                points = _points(case_type, tier)
                if practitioner.total_points + points <= budget:
                    break
            else:
                case_type, tier = _FALLBACK
                points = _points(case_type, tier)
            practitioner.total_points += points
            workforce.case_types[case_type] = workforce.case_types.get(case_type, 0) + 1
            case_id = f"X{case_number:07d}"
            case_number += 1
            opened = CaseOpened(
                case_id=case_id,
                team_id=practitioner.team_id,
                case_type=case_type,
                tier=tier,
                t2a=False,
                stage=None,
                points=points,
                scheme_name=DEFAULT_PROBATION_SCHEME.name,
                scheme_version=DEFAULT_PROBATION_SCHEME.version,
                opened_on=opened_from + timedelta(days=rng.randrange(700)),
            )
            allocated = CaseAllocated(
                practitioner_id=practitioner.practitioner_id,
                case_id=case_id,
                team_id=practitioner.team_id,
                tier=tier,
                case_type=case_type,
                points=points,
                allocated_by=f"{practitioner.team_id}-SPO",
                reason="INITIAL_ALLOCATION",
            )
            workforce.events += 2
            yield (
                case_stream(case_id),
                [
                    _event(opened, Metadata(actor="case-feed", correlation_id=uuid4())),
                    _event(allocated, Metadata(actor="case-feed", correlation_id=uuid4())),
                ],
            )
        if practitioner.total_points > practitioner.available_points:
            raise RuntimeError(f"{practitioner} would be above 100%")


# --- the service --------------------------------------------------------------------------


@dataclass
class Loaded:
    """A scratch database loaded with a workforce, and an allocation service serving it."""

    scale: Scale
    db: ScratchDatabase
    base_url: str
    client: httpx.Client
    tokens: Tokens
    workforce: Workforce
    log_path: Path
    facts: dict[str, Any]
    rng: random.Random = field(default_factory=lambda: random.Random(SEED + 1))


def _service(
    db: ScratchDatabase, log_path: Path, kafka: dict[str, str] | None = None
) -> AbstractContextManager[tuple[str, float]]:
    """An allocation service on `db`. Without `kafka` (settings), its Kafka is a closed port;
    never a member of the real service's consumer group of wellbeing's agreements."""
    settings = {"PLIMSOLL_CONSUME_WORKLOAD_AGREEMENTS": "false", **(kafka or {})}
    checks = ("database",) if kafka is None else ("database", "kafka")
    return service_process("allocation", db.sqlalchemy_url, log_path, settings, checks)


def _count(db: ScratchDatabase, query: str) -> int:
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
        return int(row[0]) if row else 0


@contextmanager
def _load(settings: Settings) -> Iterator[Loaded]:
    scale = Scale.of(settings)
    workforce = Workforce()
    with ExitStack() as stack:
        db = stack.enter_context(scratch_database("allocation"))
        durability_before = durability(db.conninfo)
        engine = sqlalchemy.create_engine(db.sqlalchemy_url)
        store = EventStore(engine)
        try:
            store.create_schema()
            began = time.perf_counter()
            imported = store.import_events(_streams(scale, workforce))
            load_seconds = time.perf_counter() - began
        finally:
            store.close()
            engine.dispose()
        expected = scale.practitioners + 2 * scale.cases
        if imported != expected or workforce.events != expected:
            raise RuntimeError(f"imported {imported} events, expected {expected}")

        log_path = Path(tempfile.mkstemp(prefix="bench-allocation-", suffix=".log")[1])
        base_url, startup_seconds = stack.enter_context(_service(db, log_path))
        client = stack.enter_context(httpx.Client(base_url=base_url, timeout=CATCH_UP_TIMEOUT))
        tokens = Tokens(str(endpoints()["keycloak_issuer"]), *HEAD)

        # Untimed: the first read catches the caseload read model up over every event.
        first = workforce.practitioners[0]
        began = time.perf_counter()
        answer = client.get(
            f"/practitioners/{first.practitioner_id}/capacity", headers=tokens.headers()
        )
        catch_up_seconds = time.perf_counter() - began
        answer.raise_for_status()
        if answer.json()["total_points"] != first.total_points:
            raise RuntimeError(f"{first.practitioner_id}: {answer.json()} vs {first}")
        open_cases = _count(
            db, "select count(*) from caseload_cases where open and practitioner_id is not null"
        )
        if open_cases != scale.cases:
            raise RuntimeError(f"the read model holds {open_cases} cases, not {scale.cases}")
        # Untimed too: the capacity process manager works out every imported event's figures
        # (a new deployment's history) before anything is timed beside it.
        figures_seconds = wait_for_figures(db)
        settle_seconds = settle(db)
        loads = [p.total_points / p.available_points for p in workforce.practitioners]
        facts = {
            "practitioners": scale.practitioners,
            "teams": scale.teams,
            "team_size": TEAM_SIZE,
            "open_cases": scale.cases,
            "events_imported": imported,
            "grades": workforce.grades,
            "contracted_hours": workforce.hours,
            "case_types": workforce.case_types,
            "weighting": f"{DEFAULT_PROBATION_SCHEME.name} v{DEFAULT_PROBATION_SCHEME.version}",
            "capacity_percent_mean": round(100 * sum(loads) / len(loads), 1),
            "capacity_percent_max": round(100 * max(loads), 1),
            "load_seconds": round(load_seconds, 2),
            "load_note": "building the events (catalogue models, validated) and "
            "EventStore.import_events (binary COPY, one transaction) together",
            "service_startup_seconds": round(startup_seconds, 2),
            "catch_up_seconds": round(catch_up_seconds, 2),
            "catch_up_note": "the first request, untimed: the caseload read model applies "
            "every imported event",
            "capacity_history_seconds": round(figures_seconds, 2),
            "capacity_history_note": "untimed: the capacity process manager publishing the "
            "figures of every imported event into the store (the relays are idle)",
            "settle_seconds": round(settle_seconds, 2),
            "settle_note": "untimed: vacuum (analyze) and a checkpoint after the load (see "
            "bench.harness.settle)",
            "database": db.name,
            "durability_before_load": durability_before,
            "service_log": str(log_path),
        }
        yield Loaded(scale, db, base_url, client, tokens, workforce, log_path, facts)


FIGURES_TIMEOUT = 3600.0


def wait_for_figures(db: ScratchDatabase) -> float:
    """Until the process managers (capacity figures, re-weighing) have caught up with the
    store's head; how long."""
    began = time.perf_counter()
    while time.perf_counter() - began < FIGURES_TIMEOUT:
        done = _count(
            db,
            "select count(*) = 2 and bool_and(position >= "
            "(select last_position from event_log_head)) from read_model_checkpoints "
            "where name in ('allocation-capacity', 'allocation-scheme-reweighing')",
        )
        if done:
            return time.perf_counter() - began
        time.sleep(0.5)
    raise RuntimeError(f"the capacity figures did not catch up in {FIGURES_TIMEOUT}s")


SHARED = SharedLoad(_load)


# --- measuring ----------------------------------------------------------------------------


def _timed(
    loaded: Loaded, request: Callable[[dict[str, str]], httpx.Response], expect: int
) -> float:
    headers = loaded.tokens.headers()  # untimed: a renewal, if due, is not the service's time
    began = time.perf_counter()
    answer = request(headers)
    elapsed = time.perf_counter() - began
    if answer.status_code != expect:
        raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:500]}")
    return elapsed * 1000


def _result(
    name: str,
    what: str,
    goal_ms: float,
    samples_ms: list[float],
    loaded: Loaded,
    settings: Settings,
    extra: dict[str, Any],
) -> Result:
    ordered = sorted(samples_ms)
    p99 = percentile(ordered, 0.99)
    return Result(
        name=name,
        value=p99,
        unit="ms p99",
        baseline=f"the issue's goal for {what} (not a measured system)",
        baseline_value=goal_ms,
        goal=f"p99 <= {goal_ms:g} ms (lower is better; ratio = baseline_value / value)",
        goal_ratio=1.0,
        lower_is_better=True,
        details={
            "mode": settings.mode,
            "timed_requests": len(ordered),
            "statistic": "p99 (nearest rank) of sequential requests, one keep-alive "
            "connection, client-side wall time",
            "p50_ms": round(percentile(ordered, 0.50), 2),
            "p95_ms": round(percentile(ordered, 0.95), 2),
            "p99_ms": round(p99, 2),
            "max_ms": round(ordered[-1], 2),
            "mean_ms": round(sum(ordered) / len(ordered), 2),
            "untimed_warmup_requests": UNTIMED_WARMUP_REQUESTS,
            "token": f"{HEAD[0]} (head of service), Keycloak password grant on {WEB_CLIENT}",
            **extra,
            **loaded.facts,
            "durability": durability(loaded.db.conninfo),
            "kafka": "a closed loopback port (relays idle), see bench/allocation.py",
            "environment": environment(),
        },
    )


def allocation_capacity_p99(settings: Settings) -> Result:
    with SHARED.loaded(settings) as loaded:
        people = loaded.workforce.practitioners

        def read(headers: dict[str, str]) -> httpx.Response:
            p = loaded.rng.choice(people)
            return loaded.client.get(
                f"/practitioners/{p.practitioner_id}/capacity", headers=headers
            )

        for _ in range(UNTIMED_WARMUP_REQUESTS):
            _timed(loaded, read, 200)
        samples = [_timed(loaded, read, 200) for _ in range(loaded.scale.requests)]
        return _result(
            "allocation_capacity_p99",
            "one practitioner's capacity (GET /practitioners/{id}/capacity)",
            20.0,
            samples,
            loaded,
            settings,
            {"route": "GET /practitioners/{id}/capacity, a random practitioner each time"},
        )


def team_capacity_p99(settings: Settings) -> Result:
    with SHARED.loaded(settings) as loaded:
        teams = loaded.workforce.teams

        def read(headers: dict[str, str]) -> httpx.Response:
            answer = loaded.client.get(
                f"/teams/{loaded.rng.choice(teams)}/capacity", headers=headers
            )
            if answer.status_code == 200 and answer.json()["practitioner_count"] != TEAM_SIZE:
                raise RuntimeError(f"a team of {answer.json()['practitioner_count']}")
            return answer

        for _ in range(UNTIMED_WARMUP_REQUESTS):
            _timed(loaded, read, 200)
        samples = [_timed(loaded, read, 200) for _ in range(loaded.scale.requests)]
        return _result(
            "team_capacity_p99",
            "a 50-person team's capacity (GET /teams/{team}/capacity)",
            50.0,
            samples,
            loaded,
            settings,
            {
                "route": "GET /teams/{team}/capacity, a random 50-person team each time",
                "timing_note": "includes the client decoding the JSON answer (50 rows)",
            },
        )


def allocation_command_p99(settings: Settings) -> Result:
    with SHARED.loaded(settings) as loaded:
        case_type, tier = ALLOCATED_CASE
        points = _points(case_type, tier)
        people = loaded.workforce.practitioners
        prefix = f"B{uuid4().hex[:6].upper()}"
        count = [0]

        def timed_allocation() -> float:
            while True:
                p = loaded.rng.choice(people)
                if p.room >= points:
                    break
            count[0] += 1
            case_id = f"{prefix}-{count[0]:06d}"
            headers = loaded.tokens.headers()
            opened = loaded.client.post(  # untimed setup, on the same connection
                "/cases",
                json={
                    "case_id": case_id,
                    "team_id": p.team_id,
                    "case_type": case_type,
                    "tier": tier,
                },
                headers=headers,
            )
            if opened.status_code != 201:
                raise RuntimeError(f"opening {case_id}: {opened.status_code} {opened.text[:500]}")
            began = time.perf_counter()
            answer = loaded.client.post(
                f"/cases/{case_id}/allocation",
                json={"practitioner_id": p.practitioner_id},
                headers=headers,
            )
            elapsed = (time.perf_counter() - began) * 1000
            if answer.status_code != 201:
                raise RuntimeError(
                    f"allocating {case_id}: {answer.status_code} {answer.text[:500]}"
                )
            p.total_points += points
            return elapsed

        for _ in range(UNTIMED_WARMUP_REQUESTS):
            timed_allocation()
        samples = [timed_allocation() for _ in range(loaded.scale.requests)]
        return _result(
            "allocation_command_p99",
            "an allocation (POST /cases/{id}/allocation, command to 201)",
            50.0,
            samples,
            loaded,
            settings,
            {
                "route": "POST /cases/{id}/allocation to a random practitioner with room",
                "timed": "the allocation request only; POST /cases before it is untimed",
                "allocated_case": f"{case_type} {tier}, {points} points",
            },
        )
