"""Scheduled jobs on real PostgreSQL: once per slot across replicas, retried, stopped promptly."""

import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time

import pytest
from plimsoll_platform.clock import FixedClock
from plimsoll_platform.jobs import Job, Jobs
from sqlalchemy import text

pytestmark = pytest.mark.stack

MONDAY_9AM = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Runs:
    """What a job was asked to do, by which replica; optionally slow, to overlap replicas."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.calls: list[tuple[str, datetime]] = []

    def job(self, replica: str):
        def run(now: datetime) -> None:
            with self.lock:
                self.calls.append((replica, now))
            time.sleep(self.seconds)

        return run


def test_two_replicas_run_a_daily_job_once_a_day(engine):
    clock = FixedClock(MONDAY_9AM)
    runs = Runs(seconds=0.3)
    replicas = {
        name: Jobs(engine, [Job("nightly", runs.job(name), daily_at=wall_time(0, 5))], clock=clock)
        for name in ("a", "b")
    }
    replicas["a"].create_schema()
    outcomes = []
    for day in range(5):
        clock.set(MONDAY_9AM + timedelta(days=day))
        # Both replicas tick at the same moment, twice.
        for _ in range(2):
            barrier = threading.Barrier(2)
            found: dict[str, dict] = {}

            def tick(name: str, barrier=barrier, found=found) -> None:
                barrier.wait()
                found[name] = replicas[name].run_due(clock.now())

            threads = [threading.Thread(target=tick, args=(n,)) for n in replicas]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            outcomes.append(sorted(o["nightly"] for o in found.values()))
    # Once per day: the first tick of each day ran it on one replica, the other saw it held
    # (or done); the second tick found it done on both.
    assert len(runs.calls) == 5
    assert [now for _, now in runs.calls] == [MONDAY_9AM + timedelta(days=d) for d in range(5)]
    for first, second in zip(outcomes[::2], outcomes[1::2], strict=True):
        assert first in (["not-due", "ran"], ["ran", "running-elsewhere"])
        assert second == ["not-due", "not-due"]
    with engine.connect() as conn:
        last_slot = conn.execute(
            text("select last_slot from scheduled_jobs where name = 'nightly'")
        ).scalar_one()
    assert last_slot == datetime(2026, 12, 4, 0, 5, tzinfo=UTC)


def test_a_restarted_replica_does_not_run_the_slot_again(engine):
    clock = FixedClock(MONDAY_9AM)
    runs = Runs()
    job = Job("hourly", runs.job("first"), every=timedelta(hours=1))
    first = Jobs(engine, [job], clock=clock)
    first.create_schema()
    assert first.run_due(clock.now()) == {"hourly": "ran"}
    restarted = Jobs(engine, [Job("hourly", runs.job("restarted"), every=timedelta(hours=1))])
    assert restarted.run_due(clock.now() + timedelta(minutes=59)) == {"hourly": "not-due"}
    assert restarted.run_due(clock.now() + timedelta(minutes=60)) == {"hourly": "ran"}
    assert [replica for replica, _ in runs.calls] == ["first", "restarted"]


def test_a_failing_job_is_retried_at_the_next_tick_and_the_others_still_run(engine):
    clock = FixedClock(MONDAY_9AM)
    attempts: list[datetime] = []
    others = Runs()

    def flaky(now: datetime) -> None:
        attempts.append(now)
        if len(attempts) < 3:
            raise RuntimeError("the database of record is having a bad day")

    jobs = Jobs(
        engine,
        [
            Job("flaky", flaky, daily_at=wall_time(0, 5)),
            Job("steady", others.job("one"), daily_at=wall_time(0, 5)),
        ],
        clock=clock,
        tick_seconds=0.1,
    )
    jobs.start()
    try:
        deadline = time.monotonic() + 10
        while len(attempts) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a few more ticks: nothing more is due
    finally:
        jobs.stop()
    assert len(attempts) == 3  # failed twice, then done: not run again in the same slot
    assert len(others.calls) == 1
    assert jobs.run_due(clock.now()) == {"flaky": "not-due", "steady": "not-due"}


def test_the_runner_wakes_at_the_due_instant_not_only_at_ticks(engine):
    every = timedelta(seconds=2)
    job = Job("soon", lambda now: calls.append(now), every=every)
    calls: list[datetime] = []
    jobs = Jobs(engine, [job], tick_seconds=3600)  # the system clock; ticks hourly
    jobs.start()
    try:
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        jobs.stop()
    # The first run is for the slot current at the start; the second is the next slot,
    # run at its due instant although no tick was due for an hour.
    assert len(calls) >= 2
    second_slot = job.slot(calls[0]) + every
    assert second_slot <= calls[1] < second_slot + timedelta(seconds=0.5)


def test_stop_returns_promptly(engine):
    jobs = Jobs(engine, [Job("rare", lambda _: None, daily_at=wall_time(3, 0))], tick_seconds=3600)
    jobs.start()
    time.sleep(0.2)
    started = time.monotonic()
    jobs.stop()
    assert time.monotonic() - started < 1
