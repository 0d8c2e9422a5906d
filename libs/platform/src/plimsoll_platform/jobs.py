"""Scheduled jobs, run once per due slot across every replica and restart.

A `Job` is due every N seconds (slots aligned to the Unix epoch, so every 6
hours means 00:00, 06:00, ... UTC), and/or daily at a UK wall-clock time (UK
time, because a probation or Cafcass day is a UK day; a time the clocks skip in
spring falls an hour later that day, one repeated in autumn runs at its first
occurrence). Its *slot* at an instant is the latest due instant at or before
it. `Jobs` runs the jobs of one service on a thread of its own, started and
stopped with the app.

Guarantees:

* Once per slot: table `scheduled_jobs(name, last_slot)` records each job's
  last completed slot. Deciding and running happen in one transaction that
  holds an advisory lock named after the job (tried, not waited for: a replica
  that finds it taken leaves the slot to the holder), and the slot is recorded
  in that same transaction. Two replicas, or a restarted one, never run the
  same slot. Missed slots are not replayed one by one: a job that fell due
  several times while nothing ran it runs once, for the latest slot.
* A job that raises records nothing: it is logged and retried at the next tick
  (at most `tick_seconds` later), and never stops the runner or other jobs.
* Only the commit can fail after a job succeeded (the database gone at that
  moment), in which case the slot runs again: write jobs to be idempotent, as
  deciders make them (a reconciliation finding nothing due records nothing).
* `stop()` returns as soon as a running job (if any) finishes, or after
  `stop_seconds`, whichever is first.

`run_due(now)` runs whatever is due at `now` and says what happened to each
job: for tests, and for an on-demand HTTP trigger.
"""

from __future__ import annotations

import logging
import threading
import time as monotonic_time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from sqlalchemy import Engine, text

from plimsoll_platform.clock import UK, Clock, SystemClock

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

SCHEMA = """
create table if not exists scheduled_jobs (
    name         text primary key,
    last_slot    timestamptz not null,
    completed_at timestamptz not null
)
"""
_SCHEMA_LOCK = "select pg_advisory_xact_lock(hashtext('plimsoll-scheduled-jobs-ddl'))"
_JOB_LOCK = "select pg_try_advisory_xact_lock(hashtext('plimsoll-scheduled-job'), hashtext(:name))"

Outcome = Literal["ran", "failed", "not-due", "running-elsewhere"]


@dataclass(frozen=True)
class Job:
    """Something a service does on a schedule; `run` is given the clock's now."""

    name: str
    run: Callable[[datetime], None]
    every: timedelta | None = None
    daily_at: time | None = None
    """A UK wall-clock time, naive (e.g. `time(0, 5)` for five past midnight, UK)."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a job needs a name")
        if self.every is None and self.daily_at is None:
            raise ValueError(f"job {self.name}: give `every`, `daily_at` or both")
        if self.every is not None and (
            self.every < timedelta(seconds=1) or self.every % timedelta(seconds=1)
        ):
            raise ValueError(f"job {self.name}: `every` must be a whole number of seconds")
        if self.daily_at is not None and self.daily_at.tzinfo is not None:
            raise ValueError(f"job {self.name}: `daily_at` is a UK wall-clock time, without zone")

    def slot(self, now: datetime) -> datetime:
        """The latest instant at or before `now` when the job was due (UTC)."""
        slots = []
        if self.every is not None:
            slots.append(EPOCH + (now - EPOCH) // self.every * self.every)
        if self.daily_at is not None:
            day = now.astimezone(UK).date()
            due = _uk_instant(day, self.daily_at)
            slots.append(due if due <= now else _uk_instant(day - timedelta(days=1), self.daily_at))
        return max(slots)

    def next_slot(self, now: datetime) -> datetime:
        """The first instant after `now` when the job is due (UTC)."""
        slots = []
        if self.every is not None:
            slots.append(EPOCH + ((now - EPOCH) // self.every + 1) * self.every)
        if self.daily_at is not None:
            day = now.astimezone(UK).date()
            due = _uk_instant(day, self.daily_at)
            slots.append(due if due > now else _uk_instant(day + timedelta(days=1), self.daily_at))
        return min(slots)


def _uk_instant(day: date, at: time) -> datetime:
    # zoneinfo reads a skipped wall time with the offset before the change (fold=0), so
    # 01:30 on the spring-forward day is 01:30 UTC, i.e. 02:30 BST: later that same day.
    return datetime.combine(day, at, tzinfo=UK).astimezone(UTC)


class Jobs:
    """Runs a service's scheduled jobs on a daemon thread, once per slot across replicas."""

    def __init__(
        self,
        engine: Engine,
        jobs: Sequence[Job],
        *,
        clock: Clock | None = None,
        tick_seconds: float = 30.0,
        stop_seconds: float = 10.0,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique: {names}")
        self.engine = engine
        self.jobs = tuple(jobs)
        self.clock: Clock = clock or SystemClock()
        self.tick_seconds = tick_seconds
        self.stop_seconds = stop_seconds
        self._done: dict[str, datetime] = {}  # last slot known complete: spares a query a tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(_SCHEMA_LOCK))  # replicas starting together
            conn.exec_driver_sql(SCHEMA)

    def start(self) -> None:
        """Create the table (the database must answer) and start the thread."""
        if self._thread is not None:
            raise RuntimeError("these jobs are already started")
        self.create_schema()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="scheduled-jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread; waits for a running job at most `stop_seconds`."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(self.stop_seconds)
        if thread.is_alive():
            log.warning("scheduled jobs did not stop within %ss", self.stop_seconds)

    def run_due(self, now: datetime) -> dict[str, Outcome]:
        """Run every job due at `now` that no replica has run for its slot yet."""
        return {job.name: self._run_if_due(job, now) for job in self.jobs}

    def _run_if_due(self, job: Job, now: datetime) -> Outcome:
        slot = job.slot(now)
        done = self._done.get(job.name)
        if done is not None and done >= slot:
            return "not-due"
        started = monotonic_time.monotonic()
        try:
            with self.engine.begin() as conn:
                if not conn.execute(text(_JOB_LOCK), {"name": job.name}).scalar_one():
                    return "running-elsewhere"
                last = conn.execute(
                    text("select last_slot from scheduled_jobs where name = :name"),
                    {"name": job.name},
                ).scalar_one_or_none()
                if last is not None and last >= slot:
                    self._done[job.name] = last
                    return "not-due"
                job.run(now)
                conn.execute(
                    text(
                        "insert into scheduled_jobs (name, last_slot, completed_at) "
                        "values (:name, :slot, :now) on conflict (name) do update "
                        "set last_slot = excluded.last_slot, completed_at = excluded.completed_at"
                    ),
                    {"name": job.name, "slot": slot, "now": now},
                )
        except Exception:
            log.exception("scheduled job %s failed; it is retried at the next tick", job.name)
            return "failed"
        self._done[job.name] = slot
        log.info(
            "scheduled job ran",
            extra={
                "job": job.name,
                "slot": slot.isoformat(),
                "seconds": round(monotonic_time.monotonic() - started, 3),
            },
        )
        return "ran"

    def _loop(self) -> None:
        while not self._stop.is_set():
            now = self.clock.now()
            self.run_due(now)
            # Wake at the next slot (its due instant), or at the next tick to retry failures.
            wait = self.tick_seconds
            if self.jobs:
                next_due = min(job.next_slot(now) for job in self.jobs)
                wait = min(wait, (next_due - self.clock.now()).total_seconds())
            self._stop.wait(max(wait, 0.01))
