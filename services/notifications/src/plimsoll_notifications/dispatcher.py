"""The dispatcher: the process manager's second half, from decided intents to deliveries and
to the events that record them.

On a thread of its own, an asyncio loop:

1. resolves pending intents into jobs (`jobs_table.resolve` through the directory; Keycloak
   unreachable leaves them pending, to be tried again), in a task of its own, as fast as
   intents come;
2. in rounds, claims due jobs of every lane at once, each lane (people; each partner) bounded
   by its own number in flight, so a slow or failing partner uses up its own lane and never
   another's;
3. delivers each job's channels (the inbox at once, e-mail on the SMTP sessions, webhooks on
   the partner's lane), then records what happened in one append to the notification's
   stream, under an idempotency key derived from the notification (step and recipient), its
   round and its attempt; then settles the job (done, or due again after the retry schedule,
   or dead-lettered after the last try).

A process stopped between a delivery and its append delivers again when the lease runs out
(at least once: the same `webhook-id` and Message-ID, so receivers drop the duplicate); one
stopped between the append and the settling finds the attempt recorded (the job's `claims`
says it was claimed since it was last settled) and records nothing twice, sending nothing again.
Settling keeps the stream's version, so that an attempt appends without reading the stream
first; if a read or an acknowledgement moved it meanwhile, the attempt decides on what is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar

from plimsoll_events.catalogue import CATALOGUE, EventData
from plimsoll_events.handling import Idempotency, execute, load
from plimsoll_events.records import Metadata
from plimsoll_events.store import AppendTo, ConcurrencyError, EventStore
from plimsoll_events.types.notifications import Cause, NotificationFailed, NotificationSent
from plimsoll_platform.clock import Clock, SystemClock
from plimsoll_platform.placements import Placements
from sqlalchemy import Engine, text

from plimsoll_notifications import jobs_table
from plimsoll_notifications.channels import SmtpSender, Tried, WebhookSender
from plimsoll_notifications.directory import Directory, DirectoryUnavailable
from plimsoll_notifications.domain.delivery import QuietHours, RetrySchedule, deliver_at
from plimsoll_notifications.domain.notification import (
    NOTIFICATION,
    RecordOutcomes,
    notification_stream,
)
from plimsoll_notifications.jobs_table import Job, Settled
from plimsoll_notifications.targets import (
    PEOPLE_LANE,
    NotYetKnown,
    Partner,
    Placed,
    notification_id,
    targets,
)
from plimsoll_notifications.templates import TemplateFailed, render_file

log = logging.getLogger(__name__)
T = TypeVar("T")

ACTOR: Final = "system:notifications"
LEASE: Final = timedelta(minutes=5)
PEOPLE_IN_FLIGHT: Final = 256
RESOLVE_BATCH: Final = 2000
PLACEMENT_GRACE: Final = timedelta(minutes=10)
"""How long an intent waits for a practitioner's placement to arrive before it fails."""


class Dispatcher:
    """Delivers what the decisions decided (see the module); `start`/`stop` with the app."""

    def __init__(
        self,
        engine: Engine,
        store: EventStore,
        directory: Directory,
        smtp: SmtpSender,
        *,
        app_base_url: str,
        retries: RetrySchedule,
        webhook_timeout_seconds: float = 10.0,
        webhook_concurrency: int = 100,
        webhook_local_mode: bool = False,
        clock: Clock | None = None,
        poll_seconds: float = 0.2,
    ) -> None:
        self.engine = engine
        self.store = store
        self.placements = Placements(engine)
        self.directory = directory
        self.smtp = smtp
        self.app_base_url = app_base_url.rstrip("/")
        self.retries = retries
        self.webhook_timeout_seconds = webhook_timeout_seconds
        self.webhook_concurrency = webhook_concurrency
        self.webhook_local_mode = webhook_local_mode
        self.clock: Clock = clock or SystemClock()
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Blocking work off the loop, in pools of their own so that one kind never queues
        # behind another: housekeeping (claims, settling), SMTP (a thread per session), and
        # the store (the recorder's batches, and reading a stream after a lost lease).
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="notify")
        self._smtp_pool = ThreadPoolExecutor(
            max_workers=smtp.connections, thread_name_prefix="notify-smtp"
        )
        self._store_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="notify-store")
        self._in_flight: dict[str, int] = {}
        self._settled: list[Settled] = []
        self._to_record: list[_Outcomes] = []
        self._record_wanted: asyncio.Event | None = None
        self._rnd = random.Random()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="notifications-dispatcher")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None
        for pool in (self._pool, self._smtp_pool, self._store_pool):
            pool.shutdown(wait=False, cancel_futures=True)
        self.smtp.close()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        webhooks = WebhookSender(
            timeout_seconds=self.webhook_timeout_seconds, local_mode=self.webhook_local_mode
        )
        tasks: set[asyncio.Task[None]] = set()
        self._record_wanted = asyncio.Event()
        resolving = asyncio.create_task(self._resolving())
        recording = asyncio.create_task(self._recording())
        try:
            while not self._stop.is_set():
                try:
                    busy = await self._round(webhooks, tasks)
                except Exception:
                    log.exception("the dispatcher's round failed; trying again")
                    busy = False
                if not busy:
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            if tasks:
                await asyncio.wait(tasks, timeout=10)
            await self._flush()
        finally:
            resolving.cancel()
            recording.cancel()
            await webhooks.close()

    async def _resolving(self) -> None:
        """Intents into jobs as fast as they come, beside the rounds (which claim and settle);
        wakes the rounds when there are new jobs."""
        while not self._stop.is_set():
            try:
                resolved = await self._blocking(self.resolve_pending)
            except Exception:
                log.exception("resolving intents failed; trying again")
                resolved = 0
            if resolved and self._wake is not None:
                self._wake.set()
            else:
                await asyncio.sleep(self.poll_seconds)

    async def _round(self, webhooks: WebhookSender, tasks: set[asyncio.Task[None]]) -> bool:
        partners, secrets = await asyncio.gather(
            self._blocking(self.partners), self._blocking(self.secrets)
        )
        now = self.clock.now()
        lanes = {PEOPLE_LANE: PEOPLE_IN_FLIGHT} | {
            f"webhook:{p}": self.webhook_concurrency for p in partners
        }
        claims = await asyncio.gather(
            *(
                self._blocking(
                    jobs_table.claim,
                    self.engine,
                    lane,
                    capacity - self._in_flight.get(lane, 0),
                    now,
                    LEASE,
                )
                for lane, capacity in lanes.items()
            )
        )
        for lane, jobs in zip(lanes, claims, strict=True):
            for job in jobs:
                self._in_flight[lane] = self._in_flight.get(lane, 0) + 1
                task = asyncio.create_task(self._deliver(job, webhooks, secrets))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        await self._flush()
        return any(claims)

    async def _blocking(
        self, call: Callable[..., T], *args: Any, pool: ThreadPoolExecutor | None = None
    ) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool or self._pool, call, *args)

    # --- resolving intents -------------------------------------------------------------------

    def resolve_pending(self, limit: int = RESOLVE_BATCH) -> int:
        """Turn up to `limit` pending intents into jobs; how many were resolved."""
        now = self.clock.now()
        try:
            with self.engine.begin() as conn:
                intents = jobs_table.pending_intents(conn, limit)
                if not intents:
                    return 0
                partners = {
                    sid: Partner(sid, url, active)
                    for sid, url, active in conn.execute(
                        text("select subscription_id, url, active from webhook_subscriptions")
                    )
                }
                quiet = _quiet_hours(conn)
                email_off = _email_off(conn)
                placed: dict[str, Placed | None] = {}

                def placement_of(practitioner_id: str) -> Placed | None:
                    if practitioner_id not in placed:
                        placed[practitioner_id] = self._placement_of(practitioner_id)
                    return placed[practitioner_id]

                jobs = []
                resolved = []
                for intent in intents:
                    try:
                        found = targets(
                            intent["who"],
                            intent["addressee"],
                            self.directory,
                            partners,
                            placement_of,
                            patient=intent["decided_at"] > now - PLACEMENT_GRACE,
                        )
                    except NotYetKnown:
                        continue  # placements lag the event: try again next round
                    resolved.append(intent["dedupe_key"])
                    for target in found:
                        channels = list(intent["channels"])
                        urgent = bool(intent["urgent"])
                        if not urgent and target.recipient in email_off and "inbox" in channels:
                            channels = [c for c in channels if c != "email"]
                        jobs.append(
                            {
                                "notification_id": notification_id(
                                    intent["step"], target.recipient
                                ),
                                "dedupe_key": intent["dedupe_key"],
                                "recipient": target.recipient,
                                "lane": target.lane,
                                "email": target.email,
                                "url": target.url,
                                "problem": target.problem,
                                "channels": channels,
                                "next_attempt_at": deliver_at(
                                    now, quiet.get(target.recipient), urgent=urgent
                                ),
                            }
                        )
                jobs_table.add_jobs(conn, jobs)
                jobs_table.mark_resolved(conn, resolved)
                return len(resolved)
        except DirectoryUnavailable:
            log.warning("the directory is unavailable; intents stay pending", exc_info=True)
            return 0

    def _placement_of(self, practitioner_id: str) -> Placed | None:
        placement = self.placements.of(practitioner_id)
        if placement is None:
            return None
        return Placed(placement.line_manager_id, placement.team_id, placement.region_id)

    def partners(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("select subscription_id from webhook_subscriptions where active")
            )
            return [str(r[0]) for r in rows]

    def secrets(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {str(s): str(k) for s, k in conn.execute(text("select * from webhook_secrets"))}

    # --- delivering a job --------------------------------------------------------------------

    async def _deliver(self, job: Job, webhooks: WebhookSender, secrets: Mapping[str, str]) -> None:
        try:
            await self._deliver_job(job, webhooks, secrets)
        except Exception:
            log.exception(
                "delivering %s failed; it is tried again after its lease", job.notification_id
            )
        finally:
            self._in_flight[job.lane] -= 1
            if self._wake is not None:
                self._wake.set()

    async def _deliver_job(
        self, job: Job, webhooks: WebhookSender, secrets: Mapping[str, str]
    ) -> None:
        attempt = job.attempt + 1
        pending = list(job.channels_pending)
        if job.claims > 1:  # claimed before by a process that stopped: what did it record?
            done = await self._blocking(
                self._recorded_channels, job, attempt, pool=self._store_pool
            )
            pending = [c for c in pending if c not in done]
        now = self.clock.now()
        acknowledge_by = (
            now + timedelta(hours=job.acknowledge_within_hours)
            if job.acknowledge_within_hours is not None
            else None
        )
        tries: dict[str, Tried] = {}
        for channel in pending:
            tries[channel] = await self._try(job, channel, webhooks, secrets, now, acknowledge_by)
        events: list[EventData] = []
        failing: list[str] = []
        next_at = now
        for channel, tried in tries.items():
            if tried.delivered:
                events.append(self._sent(job, channel, attempt, now, acknowledge_by))
                continue
            wait = None if job.problem else self.retries.after(attempt, self._rnd)
            if wait is not None:
                failing.append(channel)
                next_at = now + wait
            events.append(self._failed(job, channel, attempt, tried.reason, now, wait))
        version = await self._recorded(_Outcomes(job, attempt, events)) if events else None
        self._settled.append(
            Settled(job.notification_id, not failing, tuple(failing), attempt, next_at, version)
        )

    async def _try(
        self,
        job: Job,
        channel: str,
        webhooks: WebhookSender,
        secrets: Mapping[str, str],
        now: datetime,
        acknowledge_by: datetime | None,
    ) -> Tried:
        if job.problem:
            return Tried(False, job.problem)
        if channel == "inbox":
            return Tried(True)
        if channel == "email":
            if not job.email:
                return Tried(False, f"{job.recipient} has no e-mail address in the directory")
            # Rendered and built on the SMTP session's thread: the loop only schedules.
            return await self._blocking(
                self._email, job, job.email, now, acknowledge_by, pool=self._smtp_pool
            )
        if channel == "webhook":
            secret = secrets.get(job.recipient.removeprefix("webhook:"))
            if job.url is None or secret is None:
                return Tried(False, "the subscription has no URL or secret any more")
            return await webhooks.send(
                url=job.url,
                secret=secret,
                message_id=job.notification_id,
                payload=self._payload(job, now),
                now=now,
            )
        return Tried(False, f"unknown channel {channel!r}")

    def _email(self, job: Job, to: str, now: datetime, acknowledge_by: datetime | None) -> Tried:
        try:
            body = self._email_body(job, acknowledge_by)
        except TemplateFailed as exc:
            return Tried(False, str(exc))
        message = self.smtp.message(
            to=to, subject=_title(job), body=body, message_id=_message_id(job), date=now
        )
        return self.smtp.send(message)

    def _email_body(self, job: Job, acknowledge_by: datetime | None) -> str:
        if job.rule == "ops-digest":
            with self.engine.connect() as conn:
                items = conn.execute(
                    text(
                        "select title from notification_digest_items where seq between :a and :b "
                        "order by seq"
                    ),
                    {"a": int(job.identifiers["first"]), "b": int(job.identifiers["last"])},
                ).mappings()
                return render_file(
                    "digest.txt.j2", title=job.title, items=list(items), link=self._link(job)
                )
        return render_file(
            "email.txt.j2",
            title=_title(job),
            link=self._link(job),
            identifiers=job.identifiers,
            reminder=job.round > 0,
            acknowledge_by=None if acknowledge_by is None else acknowledge_by.isoformat(),
        )

    def _payload(self, job: Job, now: datetime) -> str:
        cause = job.causes[0]
        return json.dumps(
            {
                "type": f"plimsoll.{cause['event_type']}",
                "timestamp": now.isoformat(),
                "data": {
                    "notification_id": job.notification_id,
                    "step": job.step,
                    "causes": list(job.causes),
                    "practitioner_id": job.practitioner_id,
                    "identifiers": dict(job.identifiers),
                    "link": self._link(job),
                },
            },
            separators=(",", ":"),
        )

    def _link(self, job: Job) -> str:
        return f"{self.app_base_url}/inbox/{job.notification_id}"

    # --- recording ---------------------------------------------------------------------------

    def _sent(
        self,
        job: Job,
        channel: str,
        attempt: int,
        now: datetime,
        acknowledge_by: datetime | None,
    ) -> NotificationSent:
        return NotificationSent(
            notification_id=job.notification_id,
            practitioner_id=job.practitioner_id,
            recipient=job.recipient,
            channel=channel,
            address=job.email if channel == "email" else job.url if channel == "webhook" else None,
            title=_title(job),
            link=self._link(job),
            identifiers=dict(job.identifiers),
            causes=[Cause.model_validate(c) for c in job.causes],
            rule=job.rule,
            rules_version=job.rules_version,
            step=job.step,
            round=job.round,
            attempt=attempt,
            urgent=job.urgent,
            needs_acknowledgement=acknowledge_by is not None and channel == "inbox",
            acknowledge_by=acknowledge_by,
            message_id=_message_id(job) if channel == "email" else job.notification_id,
            sent_at=now,
        )

    def _failed(
        self,
        job: Job,
        channel: str,
        attempt: int,
        reason: str,
        now: datetime,
        wait: timedelta | None,
    ) -> NotificationFailed:
        return NotificationFailed(
            notification_id=job.notification_id,
            practitioner_id=job.practitioner_id,
            recipient=job.recipient,
            channel=channel,
            address=job.email if channel == "email" else job.url,
            causes=[Cause.model_validate(c) for c in job.causes],
            step=job.step,
            round=job.round,
            attempt=attempt,
            reason=reason[:2000] or "failed",
            final=wait is None,
            next_attempt_at=None if wait is None else now + wait,
            failed_at=now,
        )

    async def _recorded(self, outcomes: _Outcomes) -> int | None:
        """Recorded by the recorder, with others' (see `_recording`); the stream's version."""
        assert self._record_wanted is not None
        self._to_record.append(outcomes)
        self._record_wanted.set()
        return await outcomes.recorded

    async def _recording(self) -> None:
        """Every attempt's outcomes that are waiting, in one call to the store: its appends
        share transactions and flushes, and the store is one thread hop away, not one each."""
        assert self._record_wanted is not None
        while True:
            await self._record_wanted.wait()
            self._record_wanted.clear()
            while self._to_record:
                batch, self._to_record = self._to_record, []
                try:
                    versions = await self._blocking(self._record, batch, pool=self._store_pool)
                except Exception as exc:
                    versions = [exc] * len(batch)
                for outcomes, version in zip(batch, versions, strict=True):
                    if isinstance(version, Exception):
                        outcomes.recorded.set_exception(version)
                    else:
                        outcomes.recorded.set_result(version)

    def _record(self, batch: list[_Outcomes]) -> list[int | Exception | None]:
        """Each attempt's outcomes in one append to its notification's stream, exactly once
        whatever happens around it; for each, the stream's version after it (None when there
        was nothing new to record), or why it could not be recorded."""
        appends = [self._append(o) for o in batch]
        quick = [i for i, o in enumerate(batch) if o.job.claims == 1]
        # Settled by this dispatcher last time (or new): the stream is where that left it,
        # unless a read or an acknowledgement came since. Append without reading it first.
        appended = self.store.append_many([appends[i] for i in quick]) if quick else []
        done: list[int | Exception | None] = [None] * len(batch)
        decide = set(range(len(batch))) - set(quick)
        for i, outcome in zip(quick, appended, strict=True):
            if isinstance(outcome, ConcurrencyError):
                decide.add(i)  # the stream moved on: decide on what is there
            else:
                done[i] = outcome if isinstance(outcome, Exception) else outcome[-1].stream_version
        for i in sorted(decide):
            try:
                recorded = execute(
                    self.store,
                    NOTIFICATION,
                    appends[i].stream_id,
                    RecordOutcomes(batch[i].sent_or_failed),
                    appends[i].events[0].metadata,
                    idempotency=appends[i].idempotency,
                )
                done[i] = recorded[-1].stream_version if recorded else None
            except Exception as exc:
                done[i] = exc
        return done

    def _append(self, outcomes: _Outcomes) -> AppendTo:
        job = outcomes.job
        key = f"notification {job.notification_id} round {job.round} attempt {outcomes.attempt}"
        cause = uuid.UUID(str(job.causes[0]["event_id"]))
        metadata = Metadata(actor=ACTOR, correlation_id=cause, causation_id=cause)
        return AppendTo(
            notification_stream(job.notification_id),
            job.stream_version,
            [CATALOGUE.new_event(data, metadata) for data in outcomes.events],
            Idempotency(key, key),
        )

    def _recorded_channels(self, job: Job, attempt: int) -> set[str]:
        state, _ = load(self.store, NOTIFICATION, notification_stream(job.notification_id))
        return {c for r, c, a in state.tries if r == job.round and a == attempt}

    async def _flush(self) -> None:
        settled, self._settled = self._settled, []
        if settled:
            await self._blocking(jobs_table.settle, self.engine, settled)

    def wake(self) -> None:
        """Look for work now (from any thread: after a write that made some)."""
        loop, event = self._loop, self._wake
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


def _title(job: Job) -> str:
    return f"Reminder: {job.title}"[:200] if job.round > 0 else job.title


def _message_id(job: Job) -> str:
    return f"<{job.notification_id}.{job.round}@plimsoll.local>"


def _quiet_hours(conn: Any) -> dict[str, QuietHours]:
    rows = conn.execute(
        text(
            "select username, quiet_hours_start, quiet_hours_end from notification_preferences "
            "where quiet_hours_start is not null and quiet_hours_end is not null"
        )
    )
    return {u: QuietHours(s, e) for u, s, e in rows}


def _email_off(conn: Any) -> set[str]:
    rows = conn.execute(text("select username from notification_preferences where not email"))
    return {str(r[0]) for r in rows}


class _Outcomes:
    """An attempt's outcomes waiting for the recorder, and the future it settles."""

    __slots__ = ("attempt", "events", "job", "recorded")

    def __init__(self, job: Job, attempt: int, events: list[EventData]) -> None:
        self.job = job
        self.attempt = attempt
        self.events = events
        self.recorded: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()

    @property
    def sent_or_failed(self) -> tuple[NotificationSent | NotificationFailed, ...]:
        return tuple(e for e in self.events if isinstance(e, NotificationSent | NotificationFailed))
