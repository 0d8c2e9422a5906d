"""The delivery queue in PostgreSQL: intents resolved into jobs, jobs leased, jobs settled.

* `resolve`: pending intents (locked, skipping those another replica holds) become jobs, one
  per recipient and step (`on conflict do nothing`: a second intent reaching the same person
  for the same step adds nothing), in one transaction with marking them resolved.
* `claim`: due jobs of one lane, leased for `lease` so no other replica takes them meanwhile;
  a job whose lease ran out (its process died) is claimed again, with `claims` telling so.
* `settle`: many jobs' outcomes written in one statement; `claims` starts again from 0, and
  the stream's version is kept, so that the next attempt appends without reading the stream.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Engine, text

from plimsoll_notifications.tables import as_columns

CLAIM: Final = """
with due as (
    select notification_id from notification_jobs
    where lane = :lane and not done and next_attempt_at <= :now
      and (leased_until is null or leased_until < :now)
    order by next_attempt_at
    limit :limit
    for update skip locked
)
update notification_jobs j set leased_until = :until, claims = j.claims + 1
from due, notification_intents i
where j.notification_id = due.notification_id and i.dedupe_key = j.dedupe_key
returning j.notification_id, j.dedupe_key, j.recipient, j.lane, j.email, j.url, j.problem,
    j.channels_pending, j.round, j.attempt, j.claims, j.stream_version, i.rule, i.rules_version,
    i.step, i.who, i.urgent, i.acknowledge_within_hours, i.identifiers, i.title,
    i.practitioner_id, i.causes
"""
SETTLE: Final = """
update notification_jobs j set done = u.done, channels_pending = string_to_array(u.pending, ','),
    attempt = u.attempt, next_attempt_at = u.next_at, leased_until = null, claims = 0,
    stream_version = coalesce(u.version, j.stream_version)
from unnest(cast(:ids as text[]), cast(:done as boolean[]), cast(:pending as text[]),
            cast(:attempts as int[]), cast(:next_at as timestamptz[]), cast(:versions as int[]))
     as u(id, done, pending, attempt, next_at, version)
where j.notification_id = u.id
"""
INSERT_JOB: Final = """
insert into notification_jobs (notification_id, dedupe_key, recipient, lane, email, url, problem,
    channels_pending, next_attempt_at)
select notification_id, dedupe_key, recipient, lane, email, url, problem,
    string_to_array(channels, ','), next_attempt_at
from unnest(cast(:notification_id as text[]), cast(:dedupe_key as text[]),
            cast(:recipient as text[]), cast(:lane as text[]), cast(:email as text[]),
            cast(:url as text[]), cast(:problem as text[]), cast(:channels as text[]),
            cast(:next_attempt_at as timestamptz[]))
    as j(notification_id, dedupe_key, recipient, lane, email, url, problem, channels,
         next_attempt_at)
on conflict (notification_id) do nothing
"""


@dataclass(frozen=True)
class Job:
    """A notification to deliver, with what its intent decided."""

    notification_id: str
    dedupe_key: str
    recipient: str
    lane: str
    email: str | None
    url: str | None
    problem: str | None
    channels_pending: tuple[str, ...]
    round: int
    attempt: int
    claims: int
    stream_version: int
    rule: str
    rules_version: int
    step: str
    who: str
    urgent: bool
    acknowledge_within_hours: int | None
    identifiers: Mapping[str, str]
    title: str
    practitioner_id: str | None
    causes: Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class Settled:
    notification_id: str
    done: bool
    pending: tuple[str, ...]
    attempt: int
    next_attempt_at: datetime
    stream_version: int | None
    """After this attempt's append; None when it appended nothing (the stream may have moved)."""


def pending_intents(conn: Connection, limit: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        text(
            "select dedupe_key, who, addressee, channels, urgent, step, decided_at "
            "from notification_intents "
            "where not resolved order by seq limit :limit for update skip locked"
        ),
        {"limit": limit},
    ).mappings()
    return [dict(row) for row in rows]


def add_jobs(conn: Connection, jobs: Sequence[Mapping[str, Any]]) -> None:
    if jobs:
        conn.execute(text(INSERT_JOB), as_columns(jobs))


def mark_resolved(conn: Connection, keys: Sequence[str]) -> None:
    if keys:
        conn.execute(
            text("update notification_intents set resolved = true where dedupe_key = any(:k)"),
            {"k": list(keys)},
        )


def claim(engine: Engine, lane: str, limit: int, now: datetime, lease: timedelta) -> list[Job]:
    if limit <= 0:
        return []
    with engine.begin() as conn:
        rows = conn.execute(
            text(CLAIM), {"lane": lane, "limit": limit, "now": now, "until": now + lease}
        ).mappings()
        return [_job(dict(row)) for row in rows]


def settle(engine: Engine, outcomes: Sequence[Settled]) -> None:
    if not outcomes:
        return
    with engine.begin() as conn:
        conn.execute(
            text(SETTLE),
            {
                "ids": [o.notification_id for o in outcomes],
                "done": [o.done for o in outcomes],
                "pending": [",".join(o.pending) for o in outcomes],
                "attempts": [o.attempt for o in outcomes],
                "next_at": [o.next_attempt_at for o in outcomes],
                "versions": [o.stream_version for o in outcomes],
            },
        )


def _job(row: Mapping[str, Any]) -> Job:
    identifiers = row["identifiers"]
    causes = row["causes"]
    return Job(
        notification_id=row["notification_id"],
        dedupe_key=row["dedupe_key"],
        recipient=row["recipient"],
        lane=row["lane"],
        email=row["email"],
        url=row["url"],
        problem=row["problem"],
        channels_pending=tuple(row["channels_pending"]),
        round=row["round"],
        attempt=row["attempt"],
        claims=row["claims"],
        stream_version=row["stream_version"],
        rule=row["rule"],
        rules_version=row["rules_version"],
        step=row["step"],
        who=row["who"],
        urgent=row["urgent"],
        acknowledge_within_hours=row["acknowledge_within_hours"],
        identifiers=json.loads(identifiers) if isinstance(identifiers, str) else identifiers,
        title=row["title"],
        practitioner_id=row["practitioner_id"],
        causes=json.loads(causes) if isinstance(causes, str) else causes,
    )
