"""Issue 12's duty-of-care goals.

* ``duty_breach_latency_p95``: hours logged, accepted by the timesheet service (its 201), to
  `breach-opened` read from ``plimsoll.wellbeing``, on the running stack, while a steady 100
  events/s are written across allocation (cases opened), timesheet (hours) and wellbeing
  (supervisions scheduled) by paced HTTP clients. Each sample is a practitioner registered
  on 1 contracted hour a week from today, so that one 60-minute entry takes the 4-week average
  above their contract. Goal: p95 <= 500 ms.
* ``duty_rebuild_throughput``: a fresh duty-of-care projection catching up from the start of
  three test topics holding a generated year of three services' events (placements, capacity
  figures, hours, leave, supervisions, declarations): events/s from subscription to caught up,
  beside a bare kafka-python consumer reading the same topics. Goal: >= 20,000 events/s.
* ``duty_region_view_p99`` and ``duty_as_of_view``: a scratch database loaded through the
  projection (2,000 practitioners in 40 teams of one region, each with a year of events in full
  mode), every subject judged by the recorder, served by a wellbeing service process (uvicorn,
  its Kafka a closed port). ``GET /regions/{id}/duty-of-care`` as the region's head of service
  (goal p99 <= 100 ms); ``GET /practitioners/{id}/duty-of-care?as_of=`` replaying a year of
  one practitioner's events (goal <= 1 s, the p95 of 20).
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from plimsoll_events.catalogue import EventData
from plimsoll_events.envelope import encode, to_cloudevent
from plimsoll_events.projection import Delivered, ProjectionRunner
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.records import Metadata, RecordedEvent, new_event_id
from plimsoll_events.store import EventStore
from plimsoll_events.topics import ensure_event_topic
from plimsoll_events.types.allocation import CapacityChanged, PractitionerRegistered
from plimsoll_events.types.timesheet import HoursLogged, LeaveRecorded
from plimsoll_events.types.wellbeing import (
    DeclarationAnswered,
    SupervisionHeld,
    SupervisionScheduled,
    WorkloadDeclared,
)
from plimsoll_platform.clock import SystemClock, is_working_day
from plimsoll_platform.placements import PlacementsProjection
from plimsoll_wellbeing.breaches import TYPES, BreachesReadModel
from plimsoll_wellbeing.duty_projection import DutyOfCareProjection
from plimsoll_wellbeing.recorder import BreachRecorder

from bench.harness import Settings, durability, endpoints, environment, kafka, scratch_database
from bench.results import Result
from bench.services import Tokens, percentile, service_process

REGION, HEAD = "R-NORTH", ("hana.head", "hana.head-local-only")
ADMIN = ("ada.admin", "ada.admin-local-only")
Sent = tuple[str, EventData, datetime]


# --- a year of a practitioner's events -------------------------------------------------------


def _year(pid: str, team: str, today: date, rng: random.Random, days: int) -> Iterator[Sent]:
    """A practitioner's `days` of events from the three services, in recorded order."""
    first = today - timedelta(days=days)
    yield (
        "allocation",
        PractitionerRegistered(
            practitioner_id=pid,
            name=f"Bench {pid}",
            grade="PO",
            team_id=team,
            region_id=REGION,
            contracted_hours=Decimal(37),
            line_manager_id=f"M-{team}",
            start_date=first,
        ),
        datetime.combine(first, wall(8), tzinfo=UTC),
    )
    percent = Decimal(rng.randrange(70, 100))
    for n in range(days):
        day = first + timedelta(days=n)
        at = datetime.combine(day, wall(9), tzinfo=UTC)
        if n % 7 == 0:
            percent = max(Decimal(0), percent + Decimal(rng.randrange(-8, 9)))
            yield (
                "allocation",
                CapacityChanged(
                    practitioner_id=pid,
                    team_id=team,
                    region_id=REGION,
                    total_points=int(percent * 20),
                    available_points=2000,
                    capacity_percent=percent,
                    above=[],
                    override_threshold_percent=Decimal(100),
                    hard_ceiling_percent=Decimal(120),
                    previous_total_points=None,
                    previous_available_points=None,
                    previous_capacity_percent=None,
                    cause_event_id=uuid.uuid4(),
                    cause_type="case-allocated",
                    cause_position=1,
                ),
                at,
            )
        if is_working_day(day) and n % 61 != 30:
            # 7 h 10 a day: under a 37-hour contract's 7 h 24
            for start, end, minutes in (
                (wall(8, 30), wall(12), 210),
                (wall(12, 45), wall(16, 25), 220),
            ):
                yield (
                    "timesheet",
                    HoursLogged(
                        practitioner_id=pid,
                        day=day,
                        minutes=minutes,
                        category="casework",
                        started_at=start,
                        ended_at=end,
                        note=None,
                        on_behalf_reason=None,
                    ),
                    at + timedelta(hours=9),
                )
        if n % 61 == 30:
            yield (
                "timesheet",
                LeaveRecorded(
                    practitioner_id=pid,
                    leave_id=f"L-{n}",
                    kind="annual",
                    first_day=day,
                    last_day=day,
                    minutes_per_day=None,
                    note=None,
                ),
                at,
            )
        if n % 28 == 14:
            sid = f"S-{n}"
            yield (
                "wellbeing",
                SupervisionScheduled(
                    practitioner_id=pid,
                    supervision_id=sid,
                    supervisor_id=f"M-{team}",
                    scheduled_for=day,
                    supervisor_reason=None,
                ),
                at - timedelta(days=7),
            )
            yield (
                "wellbeing",
                SupervisionHeld(
                    practitioner_id=pid,
                    supervision_id=sid,
                    supervisor_id=f"M-{team}",
                    line_manager_id=f"M-{team}",
                    held_on=day,
                    duration_minutes=60,
                    workload_reviewed=True,
                    wellbeing_discussed=True,
                    agreed_actions=[],
                    supervisor_reason=None,
                ),
                at + timedelta(hours=2),
            )
        if n == days // 2:
            did = f"D-{pid}"
            yield (
                "wellbeing",
                WorkloadDeclared(
                    practitioner_id=pid,
                    declaration_id=did,
                    team_id=team,
                    region_id=REGION,
                    line_manager_id=f"M-{team}",
                    what_is_unsafe="Too many cases",
                    case_ids=[],
                    tasks=[],
                    details=None,
                    declared_on=day,
                    answer_due_by=day + timedelta(days=7),
                    answer_within_working_days=5,
                    policy_version=1,
                ),
                at,
            )
            yield (
                "wellbeing",
                DeclarationAnswered(
                    practitioner_id=pid,
                    declaration_id=did,
                    answered_by="mo.manager",
                    answered_on=day + timedelta(days=2),
                    response="actions-agreed",
                    actions=["Two cases moved"],
                    reasons=None,
                ),
                at + timedelta(days=2),
            )


def _recorded(service: str, data: EventData, at: datetime, position: int) -> RecordedEvent:
    return RecordedEvent(
        position=position,
        stream_id=data.subject or f"{data.type}-{position}",
        stream_version=position,
        event_id=new_event_id(),
        type=data.type,
        version=data.version,
        subject=data.subject,
        data=data.model_dump(mode="json"),
        metadata=Metadata(actor="bench", correlation_id=uuid.uuid4()),
        recorded_at=at,
    )


def _people(practitioners: int, teams: int) -> list[tuple[str, str]]:
    return [(f"P-DB-{n:05d}", f"T-DB-{n % teams:03d}") for n in range(practitioners)]


# --- rebuild -----------------------------------------------------------------------------------


def duty_rebuild_throughput(settings: Settings) -> Result:
    practitioners = 150 if settings.quick else 600
    access, rng, today = kafka(), random.Random(12), date.today()
    prefix = f"bench-duty-{uuid.uuid4().hex[:8]}"
    topics = {s: f"{prefix}.{s}" for s in ("allocation", "timesheet", "wellbeing")}
    for topic in topics.values():
        ensure_event_topic(access, topic)
    producer = KafkaProducer(
        **access.options(), acks="all", linger_ms=20, batch_size=256 * 1024, enable_idempotence=True
    )
    positions = dict.fromkeys(topics, 0)
    sent = 0
    for pid, team in _people(practitioners, 12):
        for service, data, at in _year(pid, team, today, rng, 365):
            positions[service] += 1
            value = encode(
                to_cloudevent(
                    _recorded(service, data, at, positions[service]), f"/plimsoll/{service}"
                )
            )
            producer.send(topics[service], key=pid.encode(), value=value)
            sent += 1
    producer.flush()
    producer.close()

    bare = KafkaConsumer(
        **access.options(),
        group_id=f"bench-bare-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=5000,
    )
    bare.subscribe(list(topics.values()))
    t0, read = time.perf_counter(), 0
    while read < sent:
        read += sum(len(b) for b in bare.poll(timeout_ms=500).values())
    bare_rate = sent / (time.perf_counter() - t0)
    bare.close()

    with scratch_database("duty_rebuild") as db:
        before = durability(db.conninfo)
        engine = sqlalchemy.create_engine(db.sqlalchemy_url)
        projection = DutyOfCareProjection(name=f"{prefix}-rebuild", topics=list(topics.values()))
        runner = ProjectionRunner(engine, projection, kafka=access)
        runner.create_schema()
        t0 = time.perf_counter()
        runner.run_until_caught_up(timeout_seconds=1800)
        seconds = time.perf_counter() - t0
        runner.close()
        with engine.connect() as conn:
            logged = conn.exec_driver_sql("select count(*) from duty_log").scalar_one()
        engine.dispose()
        rate = sent / seconds
        return Result(
            name="duty_rebuild_throughput",
            value=rate,
            unit="events/s",
            baseline="the issue's goal for rebuilding the duty-of-care model (not a measured "
            "system)",
            baseline_value=20_000,
            goal=">= 20,000 events/s from the topics' start to caught up (ratio = value / goal)",
            goal_ratio=1.0,
            details={
                "mode": settings.mode,
                "events": sent,
                "events_logged": logged,
                "practitioners": practitioners,
                "data": "a year each: registration, weekly capacity figures, two timed entries "
                "every working day, leave, supervisions every 4 weeks, a declaration answered",
                "seconds": round(seconds, 2),
                "bare_consumer_events_per_second": round(bare_rate),
                "durability_before": before,
                "environment": environment(),
            },
        )


# --- views ---------------------------------------------------------------------------------------


def _load(url: str, people: list[tuple[str, str]], days: int, year_pid: str) -> int:
    """Placements and the duty-of-care model through their projections, every subject judged."""
    engine = sqlalchemy.create_engine(url)
    store = EventStore(engine)
    store.create_schema()
    projection, placements = DutyOfCareProjection(), PlacementsProjection("wellbeing")
    rng, today, count = random.Random(7), date.today(), 0
    positions: dict[str, int] = {}
    with engine.begin() as conn:
        projection.create(conn)
        placements.create(conn)
    batch: list[Delivered] = []

    def flush() -> None:
        with engine.begin() as conn:
            projection.apply(conn, batch)
            placements.apply(conn, [d for d in batch if d.source == "/plimsoll/allocation"])
        batch.clear()

    for pid, team in [*people, (year_pid, people[0][1])]:
        for service, data, at in _year(pid, team, today, rng, 365 if pid == year_pid else days):
            positions[service] = positions.get(service, 0) + 1
            batch.append(
                Delivered(
                    event_id=new_event_id(),
                    type=data.type,
                    data=data,
                    subject=data.subject,
                    time=at,
                    source=f"/plimsoll/{service}",
                    position=positions[service],
                    traceparent=None,
                    topic=service,
                    partition=0,
                    offset=positions[service],
                )
            )
            count += 1
        if len(batch) > 5000:
            flush()
    flush()
    breaches = StoreFedReadModel(engine, store, BreachesReadModel(), types=TYPES)
    recorder = BreachRecorder(engine, store, breaches, SystemClock(), batch_size=500)
    recorder.create_schema()
    recorder.drain()
    store.close()
    engine.dispose()
    return count


def _views(settings: Settings) -> dict[str, Any]:
    people = _people(2000, 40)
    days = 30 if settings.quick else 365
    year_pid = "P-DB-YEAR"
    with ExitStack() as stack:
        db = stack.enter_context(scratch_database("duty_views"))
        before = durability(db.conninfo)
        t0 = time.perf_counter()
        events = _load(db.sqlalchemy_url, people, days, year_pid)
        load_seconds = time.perf_counter() - t0
        log = Path(tempfile.mkstemp(prefix="bench-duty-", suffix=".log")[1])
        base_url, _ = stack.enter_context(service_process("wellbeing", db.sqlalchemy_url, log))
        client = stack.enter_context(httpx.Client(base_url=base_url, timeout=600))
        tokens = Tokens(str(endpoints()["keycloak_issuer"]), *HEAD)
        admin = Tokens(str(endpoints()["keycloak_issuer"]), *ADMIN)
        # A service that has been running: its first clock slot (run at start) is over, and
        # the breaches read model is caught up.
        client.post("/duty-of-care/run", headers=admin.headers()).raise_for_status()
        time.sleep(5)
        region: list[float] = []
        for n in range((30 if settings.quick else 100) + (100 if settings.quick else 1000)):
            headers = tokens.headers()
            t = time.perf_counter()
            answer = client.get(f"/regions/{REGION}/duty-of-care", headers=headers)
            elapsed = (time.perf_counter() - t) * 1000
            if answer.status_code != 200:
                raise RuntimeError(answer.text[:300])
            if n >= (30 if settings.quick else 100):
                region.append(elapsed)
        practitioners = answer.json()["figures"]["practitioners"]
        as_of = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        then: list[float] = []
        for _ in range(21):
            headers = admin.headers()
            t = time.perf_counter()
            answer = client.get(
                f"/practitioners/{year_pid}/duty-of-care", params={"as_of": as_of}, headers=headers
            )
            then.append((time.perf_counter() - t) * 1000)
            if answer.status_code != 200:
                raise RuntimeError(answer.text[:300])
        return {
            "region": sorted(region),
            "as_of": sorted(then[1:]),
            "practitioners": practitioners,
            "events": events,
            "load_seconds": round(load_seconds, 1),
            "database": db.name,
            "durability": before,
            "service_log": str(log),
            "days": days,
        }


_VIEWS: dict[str, dict[str, Any]] = {}


def _measured(settings: Settings) -> dict[str, Any]:
    if settings.mode not in _VIEWS:  # both view benchmarks share one loaded service
        _VIEWS[settings.mode] = _views(settings)
    return _VIEWS[settings.mode]


def duty_region_view_p99(settings: Settings) -> Result:
    found = _measured(settings)
    ordered = found["region"]
    p99 = percentile(ordered, 0.99)
    return Result(
        name="duty_region_view_p99",
        value=p99,
        unit="ms p99",
        baseline="the issue's goal for a region view of 2,000 practitioners (not a measured "
        "system)",
        baseline_value=100.0,
        goal="p99 <= 100 ms (lower is better; ratio = baseline_value / value)",
        goal_ratio=1.0,
        lower_is_better=True,
        details={
            "mode": settings.mode,
            "route": "GET /regions/{id}/duty-of-care as its head of service",
            "practitioners": found["practitioners"],
            "teams": 40,
            "timed_requests": len(ordered),
            "p50_ms": round(percentile(ordered, 0.5), 2),
            "p95_ms": round(percentile(ordered, 0.95), 2),
            "max_ms": round(ordered[-1], 2),
            "events_loaded": found["events"],
            "days_of_events_each": found["days"],
            "load_seconds": found["load_seconds"],
            "durability": found["durability"],
            "service_log": found["service_log"],
            "environment": environment(),
        },
    )


def duty_as_of_view(settings: Settings) -> Result:
    found = _measured(settings)
    ordered = found["as_of"]
    p95 = percentile(ordered, 0.95)
    return Result(
        name="duty_as_of_view",
        value=p95,
        unit="ms p95",
        baseline="the issue's goal for an as-of practitioner view over a year of events (not a "
        "measured system)",
        baseline_value=1000.0,
        goal="<= 1 s = 1,000 ms (p95 of 20; lower is better; ratio = baseline_value / value)",
        goal_ratio=1.0,
        lower_is_better=True,
        details={
            "mode": settings.mode,
            "route": "GET /practitioners/{id}/duty-of-care?as_of=<an hour ago>, as an admin",
            "events_replayed": "a year: ~600 events (registration, 52 figures, ~500 entries, "
            "leave, 26 supervisions, a declaration)",
            "p50_ms": round(percentile(ordered, 0.5), 1),
            "max_ms": round(ordered[-1], 1),
            "environment": environment(),
        },
    )


# --- hours logged -> breach-opened, under load ---------------------------------------------


class _Paced(threading.Thread):
    """Calls `write` `per_second` times a second until stopped; counts what succeeded."""

    def __init__(self, write: Any, per_second: float, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.write, self.interval, self.stop_event = write, 1 / per_second, stop
        self.done = self.failed = 0

    def run(self) -> None:
        due = time.monotonic()
        while not self.stop_event.is_set():
            due += self.interval
            try:
                self.done += bool(self.write())
            except Exception:
                self.failed += 1
            time.sleep(max(0.0, due - time.monotonic()))


def duty_breach_latency_p95(settings: Settings) -> Result:
    found = endpoints()
    services, issuer = found["services"], str(found["keycloak_issuer"])
    samples = 15 if settings.quick else 60
    admin, manager = Tokens(issuer, *ADMIN), Tokens(issuer, "mo.manager", "mo.manager-local-only")
    access = kafka()
    today = date.today()
    team = f"T-BENCH-{uuid.uuid4().hex[:6]}"
    with ExitStack() as stack:
        api = {
            s: stack.enter_context(httpx.Client(base_url=services[s], timeout=60))
            for s in ("allocation", "timesheet", "wellbeing")
        }

        def register(hours: str, start: date, into: str, tokens: Tokens) -> str:
            pid = f"P-BD-{uuid.uuid4().hex[:10]}"
            body = {
                "practitioner_id": pid,
                "name": f"Bench {pid}",
                "grade": "PO",
                "team_id": into,
                "region_id": REGION,
                "contracted_hours": hours,
                "start_date": start.isoformat(),
                "line_manager_id": "P-0100",
            }
            answer = api["allocation"].post("/practitioners", json=body, headers=tokens.headers())
            answer.raise_for_status()
            return pid

        def log(pid: str, day: date, minutes: int) -> httpx.Response:
            body = {
                "day": day.isoformat(),
                "minutes": minutes,
                "category": "casework",
                "on_behalf_reason": "benchmark",
            }
            return api["timesheet"].post(
                f"/practitioners/{pid}/hours",
                json=body,
                headers={**admin.headers(), "Idempotency-Key": str(uuid.uuid4())},
            )

        targets = [register("1", today, team, admin) for _ in range(samples)]
        background = [register("37", date(2024, 9, 2), "T-NORTH-1", manager) for _ in range(10)]
        deadline = time.monotonic() + 120
        for pid in [*targets[-1:], *background]:  # timesheet hears of them through Kafka
            while log(pid, today - timedelta(days=400), 1).status_code == 403:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"timesheet never heard of {pid}")
                time.sleep(0.5)

        consumer = KafkaConsumer(**access.options(), enable_auto_commit=False)
        parts = [
            TopicPartition("plimsoll.wellbeing", p)
            for p in consumer.partitions_for_topic("plimsoll.wellbeing") or []
        ]
        consumer.assign(parts)
        for tp, end in consumer.end_offsets(parts).items():
            consumer.seek(tp, end)
        opened: dict[str, float] = {}
        watching = threading.Event()

        def watch() -> None:
            while not watching.is_set():
                for batch in consumer.poll(timeout_ms=100).values():
                    now = time.monotonic()
                    for record in batch:
                        key = (record.key or b"").decode()
                        if key in wanted and b"breach-opened" in record.value:
                            event = json.loads(record.value)
                            if event["data"]["rule"] == "average-hours":
                                opened.setdefault(key, now)

        wanted = set(targets)
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()

        stop = threading.Event()
        rng = random.Random(3)
        counter = iter(range(10**9))

        def hours_write() -> bool:
            n = next(counter)
            pid = background[n % len(background)]
            day = today - timedelta(days=30 + (n // len(background)) % 300)
            return log(pid, day, 5).status_code == 201

        def case_write() -> bool:
            body = {
                "case_id": f"XB{uuid.uuid4().hex[:10]}",
                "team_id": "T-NORTH-1",
                "case_type": "community",
                "tier": "D0",
            }
            return (
                api["allocation"].post("/cases", json=body, headers=manager.headers()).status_code
                == 201
            )

        def supervision_write() -> bool:
            pid = rng.choice(background)
            body = {"scheduled_for": (today + timedelta(days=rng.randrange(1, 60))).isoformat()}
            answer = api["wellbeing"].post(
                f"/practitioners/{pid}/supervisions/scheduled",
                json=body,
                headers={**manager.headers(), "Idempotency-Key": str(uuid.uuid4())},
            )
            return answer.status_code == 201

        load = [
            _Paced(hours_write, 50, stop),
            _Paced(case_write, 30, stop),
            _Paced(supervision_write, 20, stop),
        ]
        for thread in load:
            thread.start()
        time.sleep(3)  # the load settles
        began = time.monotonic()
        accepted: dict[str, float] = {}
        for pid in targets:
            for _ in range(240):
                answer = log(pid, today, 60)
                if answer.status_code != 403:
                    break
                time.sleep(0.5)
            if answer.status_code != 201:
                raise RuntimeError(answer.text[:300])
            accepted[pid] = time.monotonic()
            time.sleep(1.0)
        give_up = time.monotonic() + 60
        while len(opened) < len(accepted) and time.monotonic() < give_up:
            time.sleep(0.2)
        elapsed = time.monotonic() - began
        stop.set()
        watching.set()
        watcher.join(10)
        for paced in load:
            paced.join(10)
        consumer.close()
        written = sum(t.done for t in load)
        latencies = sorted((opened[p] - accepted[p]) * 1000 for p in accepted if p in opened)
        missing = len(accepted) - len(latencies)
        if missing:  # a sample never seen counts as the worst possible
            latencies += [float("inf")] * missing
        p95 = percentile(latencies, 0.95)
        return Result(
            name="duty_breach_latency_p95",
            value=p95,
            unit="ms p95",
            baseline="the issue's goal for hours logged -> breach-opened on Kafka (not a "
            "measured system)",
            baseline_value=500.0,
            goal="p95 <= 500 ms under a steady 100 events/s (lower is better; ratio = "
            "baseline_value / value)",
            goal_ratio=1.0,
            lower_is_better=True,
            details={
                "mode": settings.mode,
                "samples": len(accepted),
                "missing": missing,
                "p50_ms": round(percentile(latencies, 0.5), 1),
                "max_ms": round(latencies[-1], 1) if latencies else None,
                "path": "POST /practitioners/{id}/hours 201 (timesheet) -> plimsoll.timesheet "
                "-> wellbeing-duty-of-care -> breach recorder -> store -> relay -> "
                "plimsoll.wellbeing breach-opened (average-hours), read by a consumer",
                "background_writes_per_second": round(written / (elapsed + 3), 1),
                "background_failed": sum(t.failed for t in load),
                "background": "50/s hours (timesheet), 30/s cases opened (allocation), 20/s "
                "supervisions scheduled (wellbeing), paced",
                "stack": "the running local stack's services (shared with other work)",
                "load_average": os.getloadavg(),
                "environment": environment(),
            },
        )
