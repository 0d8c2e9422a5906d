"""The breach recorder: the process manager between the duty-of-care read model and the breach
streams. It records every breach step exactly once, whatever Kafka redelivers and wherever the
process is killed.

How:

1. The projection (`duty_projection`) marks each subject it touched in `duty_dirty`, in the
   runner's transaction, with the event that touched it last: the checkpoint, the facts and the
   mark commit together or not at all. So every committed fact has a pending judgement, and
   nothing is judged on facts that were not committed. (A redelivered event is skipped by the
   runner; a re-applied one, after a rollback, marks again what the rollback unmarked.)
2. A pass (one replica at a time: a transaction advisory lock, tried) takes marked subjects,
   judges each now on its committed facts (`domain.judging`), and reconciles every rule whose
   judgement changed with its breach stream (`domain.breach.Judge`, level-triggered: only the
   difference from the stream is recorded; optimistic concurrency on the stream: one open
   breach per rule and subject). Each append carries the idempotency key
   `duty:<stream>:<cause>:<holds>:<policy version>`: a retry of the same judgement gets the
   first append back and records nothing.
3. Then, in the pass's transaction, it saves each subject's judgement (`duty_judgements`: what
   holds since when, the figures, the next instant time alone changes it) and deletes the marks
   it took, only if not marked again meanwhile.

Killed before 3, the marks are still there: the subjects are judged again, the stream (and the
key) already hold what was appended, and nothing is recorded twice; killed before an append,
nothing was recorded and the mark is still there: nothing is lost.

Time-driven rules (supervision overdue, a declaration unanswered, a review due, 4 weeks above
110%, deadlines to escalate) run from the kit's `Jobs` (`duty-of-care-clock`, once per slot
across replicas): subjects whose `next_due_at` has come are marked (cause: the deadline), the
marks are judged, and open breaches past an acknowledgement deadline escalate. A breach opened
by a deadline says when it fell due (`breached_since`), not when the job noticed.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import psycopg
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.handling import Idempotency, Store, execute, load_many
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.store import ConcurrencyError, psycopg_url
from plimsoll_events.types.wellbeing import BreachCause
from plimsoll_platform.clock import Clock, add_working_days, uk_day
from plimsoll_platform.jobs import Job
from pydantic_core import to_json
from sqlalchemy import Connection, Engine, text

from plimsoll_wellbeing import duty_reader as reader
from plimsoll_wellbeing.domain.breach import (
    ACTOR,
    BREACH,
    EscalateDue,
    Judge,
    Subject,
    breach_stream,
)
from plimsoll_wellbeing.domain.judging import (
    Judgement,
    hours_window_start,
    judge_practitioner,
    judge_team,
    thresholds_for,
)
from plimsoll_wellbeing.domain.policy import PolicyInForce
from plimsoll_wellbeing.duty_projection import CHANNEL

log = logging.getLogger(__name__)

APPENDERS: Final = 8
"""Breach streams appended to at once (a pass after a policy change touches many)."""

SCHEMA: Final = """
create table if not exists duty_judgements (
    subject_kind   text not null,
    subject_id     text not null,
    team_id        text not null,
    region_id      text not null,
    policy_version integer not null,
    judged_at      timestamptz not null,
    next_due_at    timestamptz not null,
    holding        jsonb not null,
    figures        jsonb not null,
    primary key (subject_kind, subject_id)
);
create index if not exists duty_judgements_due on duty_judgements (next_due_at);
create index if not exists duty_judgements_team on duty_judgements (team_id);
create index if not exists duty_judgements_region on duty_judgements (region_id);
-- What a region's figures take from a practitioner's judgement, kept beside the document as
-- it is written: a region's view reads these, never two thousand year-long documents. (Named
-- apart from the columns of an early version of this table, which some databases still hold.)
alter table duty_judgements
    add column if not exists judged_supervision_due_by text
        generated always as (figures #>> '{supervision,due_by}') stored,
    add column if not exists judged_open_declarations integer
        generated always as (jsonb_array_length(figures -> 'declarations')) stored,
    add column if not exists judged_review_dates jsonb
        generated always as (jsonb_path_query_array(figures, '$.reviews[*].review_on')) stored;
"""
_DDL_LOCK: Final = "select pg_advisory_xact_lock(hashtext('plimsoll-duty-judgements-ddl'))"
_PASS_LOCK: Final = "select pg_try_advisory_xact_lock(hashtext('plimsoll-breach-recorder'))"  # noqa: S105
_TAKE: Final = """
select subject_kind, subject_id, cause, mark, attempts from duty_dirty
where not_before is null or not_before <= :now
order by sweep, mark limit :limit
"""
_MARK_DUE: Final = """
insert into duty_dirty (subject_kind, subject_id, cause, mark)
select subject_kind, subject_id,
       jsonb_build_object('kind', 'deadline', 'event_id', null, 'event_type', null,
                          'source', null, 'at', next_due_at),
       nextval('duty_dirty_marks')
from duty_judgements where next_due_at <= :now
on conflict (subject_kind, subject_id) do nothing
"""
_SAVE: Final = """
insert into duty_judgements select * from unnest(
    cast(:kinds as text[]), cast(:ids as text[]), cast(:teams as text[]),
    cast(:regions as text[]), cast(:versions as int[]), cast(:judged as timestamptz[]),
    cast(:due as timestamptz[]), cast(:holding as jsonb[]), cast(:figures as jsonb[]))
on conflict (subject_kind, subject_id) do update set team_id = excluded.team_id,
    region_id = excluded.region_id, policy_version = excluded.policy_version,
    judged_at = excluded.judged_at, next_due_at = excluded.next_due_at,
    holding = excluded.holding, figures = excluded.figures
"""
_DONE: Final = """
delete from duty_dirty d using unnest(cast(:kinds as text[]), cast(:ids as text[]),
    cast(:marks as bigint[])) as u(k, s, m)
where d.subject_kind = u.k and d.subject_id = u.s and d.mark = u.m
"""
_RETRY: Final = """
update duty_dirty set attempts = attempts + 1, not_before = :later
where subject_kind = :kind and subject_id = :id and mark = :mark
"""
_DUE_ESCALATIONS: Final = """
select breach_id, stream_id from duty_breaches
where status = 'open' and not acknowledged and (
    (subject_kind = 'practitioner' and level is null and acknowledge_by < :today)
    or (coalesce(level, '') <> 'head-of-service' and escalate_by < :today))
order by breach_id
"""


@dataclass(frozen=True)
class _Previous:
    policy_version: int
    holding: dict[str, str]


class BreachRecorder:
    """Judges marked subjects and records breach steps (see the module)."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        breaches: StoreFedReadModel,
        clock: Clock,
        *,
        batch_size: int = 200,
        poll_seconds: float = 2.0,
        clock_every: timedelta = timedelta(seconds=60),
    ) -> None:
        self.engine = engine
        self.store = store
        self.breaches = breaches
        self.clock = clock
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.clock_every = clock_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def create_schema(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text(_DDL_LOCK))
            conn.exec_driver_sql(SCHEMA)

    def start(self) -> None:
        self.create_schema()
        self.breaches.create_schema()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="breach-recorder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(10)

    def jobs(self) -> list[Job]:
        return [Job("duty-of-care-clock", self.tick, every=self.clock_every)]

    def _loop(self) -> None:
        """Drain the marks whenever the projection commits some (NOTIFY), or every few seconds."""
        while not self._stop.is_set():
            try:
                with psycopg.connect(psycopg_url(self.engine), autocommit=True) as listener:
                    listener.execute(f"listen {CHANNEL}")
                    while not self._stop.is_set():
                        self.drain()
                        for _ in listener.notifies(timeout=self.poll_seconds, stop_after=1):
                            pass
            except Exception:
                log.exception("breach recorder failed; retrying in %ss", self.poll_seconds)
                self._stop.wait(self.poll_seconds)

    # --- judging ------------------------------------------------------------------------------

    def drain(self, now: datetime | None = None, *, passes: int = 1000) -> list[RecordedEvent]:
        """Passes until no mark is left (or another replica holds the lock)."""
        recorded: list[RecordedEvent] = []
        for _ in range(passes):
            found, taken = self.run_pass(now)
            recorded.extend(found)
            if taken < self.batch_size:
                break
        return recorded

    def run_pass(self, now: datetime | None = None) -> tuple[list[RecordedEvent], int]:
        """One batch of marks judged; (what was recorded, how many marks were taken)."""
        now = now or self.clock.now()
        with self.engine.begin() as conn:
            if not conn.execute(text(_PASS_LOCK)).scalar_one():
                return [], 0
            rows = conn.execute(text(_TAKE), {"now": now, "limit": self.batch_size}).all()
            if not rows:
                return [], 0
            policy = reader.policy_at(conn, now)
            previous = _previous(conn, [(k, s) for k, s, *_ in rows])
            judged = self._judge_all(conn, rows, policy, now)
            steps: list[_Step] = []
            holding: dict[tuple[str, str], dict[str, str]] = {}
            for kind, subject, cause, *_ in rows:
                judgement = judged.get((kind, subject))
                if judgement is not None:
                    found = _steps(judgement, cause, previous.get((kind, subject)), policy, now)
                    holding[(kind, subject)], mine = found
                    steps.extend(mine)
            recorded, failed = self._record(steps)
            done, saved = [], []
            for kind, subject, _, mark, attempts in rows:
                error = failed.get((kind, subject))
                if error is None:
                    done.append((kind, subject, mark))
                    if (kind, subject) in judged:
                        saved.append((judged[(kind, subject)], holding[(kind, subject)]))
                    continue
                if not isinstance(error, ConcurrencyError):  # a race is no failure: just again
                    log.error("could not judge %s %s: %s; tried again later", kind, subject, error)
                    attempts += 1
                conn.execute(text(_RETRY), _retry(kind, subject, mark, now, attempts))
            _save(conn, saved)
            conn.execute(
                text(_DONE),
                {
                    "kinds": [d[0] for d in done],
                    "ids": [d[1] for d in done],
                    "marks": [d[2] for d in done],
                },
            )
        return recorded, len(rows)

    def _record(
        self, steps: Sequence[_Step]
    ) -> tuple[list[RecordedEvent], dict[tuple[str, str], Exception]]:
        """Decide every step on its stream as stored (all read in one query), and append what
        differs, streams in parallel; what was recorded, and the subjects that failed."""
        if not steps:
            return [], {}
        loaded = load_many(self.store, BREACH, sorted({s.stream for s in steps}))
        appends = []
        for step in steps:
            state, version = loaded[step.stream]
            decided = BREACH.decide(step.command, state)
            if decided:
                metadata = _metadata(step.command.cause)
                events = [CATALOGUE.new_event(data, metadata) for data in decided]
                appends.append((step, version, events))
        recorded: list[RecordedEvent] = []
        failed: dict[tuple[str, str], Exception] = {}

        def append(item: tuple[_Step, int, list[Any]]) -> list[RecordedEvent]:
            step, version, events = item
            return self.store.append(step.stream, version, events, idempotency=step.key)

        with ThreadPoolExecutor(max_workers=APPENDERS) as pool:
            for (step, _, _), outcome in zip(
                appends, pool.map(_attempt(append), appends), strict=True
            ):
                if isinstance(outcome, Exception):
                    failed[step.subject] = outcome
                else:
                    recorded.extend(outcome)
        return recorded, failed

    def _judge_all(
        self, conn: Connection, rows: Sequence[Any], policy: PolicyInForce, now: datetime
    ) -> dict[tuple[str, str], Judgement]:
        today = uk_day(now)
        people = [s for k, s, *_ in rows if k == "practitioner"]
        facts = reader.practitioners_now(conn, people)
        days = reader.hours(conn, list(facts), hours_window_start(policy, today), today)
        judged: dict[tuple[str, str], Judgement] = {}
        for pid, known in facts.items():
            found = judge_practitioner(known, days[pid], policy, now)
            if found is not None:
                judged[("practitioner", pid)] = found
        for kind, team_id, *_ in rows:
            if kind != "team":
                continue
            members = reader.members_now(conn, team_id, today)
            region = conn.execute(
                text(
                    "select region_id from duty_practitioners where team_id = :t "
                    "and region_id is not null limit 1"
                ),
                {"t": team_id},
            ).scalar_one_or_none()
            found = judge_team(reader.team_now(conn, team_id), members, region, policy, now)
            if found is not None:
                judged[("team", team_id)] = found
        return judged

    # --- time -----------------------------------------------------------------------------------

    def mark_due(self, now: datetime) -> int:
        """Mark every subject whose next judgement instant has come (cause: that deadline)."""
        with self.engine.begin() as conn:
            return conn.execute(text(_MARK_DUE), {"now": now}).rowcount

    def escalate_due(self, now: datetime) -> list[RecordedEvent]:
        """Every open, unacknowledged breach past a deadline goes up (dated `now`'s UK day)."""
        today = uk_day(now)
        with self.breaches.reading() as conn:
            due = conn.execute(text(_DUE_ESCALATIONS), {"today": today}).all()
        recorded: list[RecordedEvent] = []
        metadata = Metadata(actor=ACTOR, correlation_id=uuid.uuid4())
        for _, stream in due:
            try:
                recorded.extend(execute(self.store, BREACH, stream, EscalateDue(today), metadata))
            except ConcurrencyError:
                continue  # acknowledged or escalated meanwhile: the next tick decides again
        return recorded

    def tick(self, now: datetime) -> None:
        """The clock job: what time alone brings about, as of `now`."""
        self.run_clock(now)

    def run_clock(self, now: datetime) -> list[RecordedEvent]:
        self.mark_due(now)
        return [*self.drain(now), *self.escalate_due(now)]


@dataclass(frozen=True)
class _Step:
    """A judgement of one rule to reconcile with its breach stream."""

    subject: tuple[str, str]
    stream: str
    command: Judge
    key: Idempotency


def _steps(
    judgement: Judgement,
    cause: dict[str, Any],
    previous: _Previous | None,
    policy: PolicyInForce,
    now: datetime,
) -> tuple[dict[str, str], list[_Step]]:
    """The rules holding now (since when), and the judgements that differ from the last one
    (all of them, for a subject never judged or under another policy version)."""
    subject = Subject(
        judgement.subject_kind,  # type: ignore[arg-type]
        judgement.subject_id,
        judgement.practitioner_id,
        judgement.team_id,
        judgement.region_id,
    )
    cited = BreachCause.model_validate(cause)
    escalation = policy.thresholds.breach_escalation
    today = uk_day(now)
    holding: dict[str, str] = {}
    steps: list[_Step] = []
    for condition in judgement.conditions:
        held = previous is not None and condition.rule in previous.holding
        since = condition.since
        if condition.holds and since is None:  # the recorder's own continuity
            since = (
                datetime.fromisoformat(previous.holding[condition.rule])
                if previous is not None and held
                else cited.at
            )
        if since is not None and condition.holds:
            holding[condition.rule] = since.isoformat()
        if (
            previous is not None
            and held == condition.holds
            and previous.policy_version == policy.policy_version
        ):
            continue  # nothing changed: the stream already says so
        stream = breach_stream(condition.rule, subject.kind, subject.subject_id)
        command = Judge(
            rule=condition.rule,
            subject=subject,
            holds=condition.holds,
            facts=condition.facts,
            thresholds=thresholds_for(condition.rule, policy.thresholds),
            policy_version=policy.policy_version,
            breached_since=since,
            cause=cited,
            judged_at=now,
            acknowledge_by=add_working_days(today, escalation.manager_working_days),
            escalate_by=add_working_days(today, escalation.head_of_service_working_days),
        )
        caused = cited.event_id or cited.at.isoformat()
        key = Idempotency(f"duty:{stream}:{caused}:{condition.holds}:{policy.policy_version}")
        steps.append(_Step((subject.kind, subject.subject_id), stream, command, key))
    return holding, steps


def _attempt(
    work: Callable[[Any], list[RecordedEvent]],
) -> Callable[[Any], list[RecordedEvent] | Exception]:
    def attempt(item: Any) -> list[RecordedEvent] | Exception:
        try:
            return work(item)
        except Exception as exc:  # reported per subject by the caller
            return exc

    return attempt


def _metadata(cause: BreachCause) -> Metadata:
    """Breaches correlate with, and are caused by, the event they were judged on."""
    if cause.event_id is None:
        return Metadata(actor=ACTOR, correlation_id=uuid.uuid4())
    return Metadata(actor=ACTOR, correlation_id=cause.event_id, causation_id=cause.event_id)


def _retry(kind: str, subject: str, mark: int, now: datetime, attempts: int) -> dict[str, Any]:
    backoff = timedelta(seconds=min(300, 2**attempts)) if attempts else timedelta()
    return {"kind": kind, "id": subject, "mark": mark, "later": now + backoff}


def _previous(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], _Previous]:
    rows = conn.execute(
        text(
            "select subject_kind, subject_id, policy_version, holding from duty_judgements j "
            "join unnest(cast(:k as text[]), cast(:s as text[])) as u(k, s) "
            "on j.subject_kind = u.k and j.subject_id = u.s"
        ),
        {"k": [k for k, _ in keys], "s": [s for _, s in keys]},
    )
    return {(k, s): _Previous(v, h) for k, s, v, h in rows}


def _save(conn: Connection, saved: Sequence[tuple[Judgement, dict[str, str]]]) -> None:
    if not saved:
        return
    conn.execute(
        text(_SAVE),
        {
            "kinds": [j.subject_kind for j, _ in saved],
            "ids": [j.subject_id for j, _ in saved],
            "teams": [j.team_id for j, _ in saved],
            "regions": [j.region_id for j, _ in saved],
            "versions": [j.policy_version for j, _ in saved],
            "judged": [j.judged_at for j, _ in saved],
            "due": [j.next_due_at for j, _ in saved],
            "holding": [to_json(h).decode() for _, h in saved],
            "figures": [to_json(j.figures).decode() for j, _ in saved],
        },
    )
