"""The time-driven work, as the kit's `Jobs` (once per slot across replicas):

* `notification-reminders`: every notification that needs acknowledging and is not
  acknowledged by its deadline is resent (a new round, on the channels it came on, with a new
  deadline), up to `max_reminders` times; after that it is escalated once
  (`notification-escalated`) to the relationship its rule names (`escalate_to`: the head of
  service of the practitioner's region, say), who is told in a notification of their own.
  The escalation's intent is recorded before the event, both idempotent, so a sweep stopped
  between the two completes the escalation next time and never tells anyone twice.
* `ops-digest`: each ops person gets one e-mail listing what ops should know of since their
  last digest (the digest items the decisions recorded), and that it was sent, once.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from plimsoll_events.handling import Idempotency, execute, load
from plimsoll_events.readmodel import StoreFedReadModel
from plimsoll_events.records import Metadata
from plimsoll_events.store import ConcurrencyError, EventStore
from plimsoll_platform.jobs import Job as ScheduledJob
from plimsoll_platform.roles import Role
from sqlalchemy import Engine, text

from plimsoll_notifications.directory import Directory
from plimsoll_notifications.domain.decisions import Facts, escalation
from plimsoll_notifications.domain.notification import (
    ESCALATION_ACTOR,
    NOTIFICATION,
    Escalate,
    notification_stream,
    reminder_due,
    reminder_spent_and_due,
)
from plimsoll_notifications.targets import PEOPLE_LANE, notification_id

log = logging.getLogger(__name__)

DIGEST_ITEMS: Final = 500
_ESCALATION_INTENT: Final = """
insert into notification_intents (dedupe_key, rule, rules_version, step, who, addressee,
    channels, urgent, acknowledge_within_hours, escalate_to, identifiers, title,
    practitioner_id, causes)
select :dedupe_key, i.rule, i.rules_version, :step, :who, :addressee,
    array['email', 'inbox'], true, null, null, cast(:identifiers as jsonb), :title,
    i.practitioner_id, i.causes
from notification_intents i where i.dedupe_key = :from_key
on conflict (dedupe_key) do nothing
"""


class Sweeps:
    def __init__(
        self,
        engine: Engine,
        store: EventStore,
        records: StoreFedReadModel,
        directory: Directory,
        *,
        max_reminders: int,
        reminders_every: timedelta,
        digest_every: timedelta,
    ) -> None:
        self.engine = engine
        self.store = store
        self.records = records
        self.directory = directory
        self.max_reminders = max_reminders
        self.reminders_every = reminders_every
        self.digest_every = digest_every

    def jobs(self) -> list[ScheduledJob]:
        return [
            ScheduledJob(
                "notification-reminders",
                lambda now: _ran(self.remind(now)),
                every=self.reminders_every,
            ),
            ScheduledJob("ops-digest", lambda now: _ran(self.digest(now)), every=self.digest_every),
        ]

    # --- reminders and escalation ------------------------------------------------------------

    def remind(self, now: datetime, only: Sequence[str] = ()) -> dict[str, list[str]]:
        """Resend or escalate what is overdue at `now` (of `only` these notifications, if
        given); what was done to which notification."""
        report: dict[str, list[str]] = {"reminded": [], "escalated": []}
        with self.records.reading() as conn:
            overdue = [
                str(r[0])
                for r in conn.execute(
                    text(
                        "select notification_id from notification_inbox where "
                        "needs_acknowledgement and acknowledged_at is null and escalated_at is "
                        "null and acknowledge_by <= :now "
                        "and (cardinality(cast(:only as text[])) = 0 "
                        "or notification_id = any(:only)) "
                        "order by acknowledge_by"
                    ),
                    {"now": now, "only": list(only)},
                )
            ]
        for nid in overdue:
            try:
                done = self._remind_one(nid, now)
            except ConcurrencyError:
                continue  # acknowledged or escalated meanwhile: the next sweep sees it
            except Exception:
                log.exception("the reminder sweep could not settle %s; next time", nid)
                continue
            if done:
                report[done].append(nid)
        return report

    def _remind_one(self, nid: str, now: datetime) -> str | None:
        state, _ = load(self.store, NOTIFICATION, notification_stream(nid))
        if reminder_due(state, now, self.max_reminders):
            with self.engine.begin() as conn:
                moved = conn.execute(
                    text(
                        "update notification_jobs j set round = :round, attempt = 0, "
                        "done = false, next_attempt_at = least(:now, now()), leased_until = null, "
                        "claims = 0, "
                        "channels_pending = array(select unnest(i.channels) except "
                        "select 'webhook') from notification_intents i "
                        "where j.notification_id = :id and i.dedupe_key = j.dedupe_key "
                        "and j.round = :current and j.done"
                    ),
                    {
                        "id": nid,
                        "round": state.rounds_sent + 1,
                        "current": state.rounds_sent,
                        "now": now,
                    },
                ).rowcount
            return "reminded" if moved else None
        if not reminder_spent_and_due(state, now, self.max_reminders):
            return None
        with self.engine.begin() as conn:
            intent = (
                conn.execute(
                    text(
                        "select i.* from notification_jobs j join notification_intents i "
                        "using (dedupe_key) where j.notification_id = :id"
                    ),
                    {"id": nid},
                )
                .mappings()
                .one_or_none()
            )
            if intent is None or intent["escalate_to"] is None:
                return None
            identifiers = _json(intent["identifiers"])
            addressee = escalation(
                intent["escalate_to"], intent["practitioner_id"], identifiers, Facts()
            )
            step = f"{state.step}:escalated:{intent['escalate_to']}"
            conn.execute(
                text(_ESCALATION_INTENT),
                {
                    "dedupe_key": f"{step}|{addressee}",
                    "step": step,
                    "who": addressee.who,
                    "addressee": addressee.key,
                    "identifiers": json.dumps(
                        {
                            **identifiers,
                            "not_acknowledged_by": state.recipient or "",
                            "escalated_from": nid,
                        }
                    ),
                    "title": f"Not acknowledged by {state.recipient}: {intent['title']}"[:200],
                    "from_key": intent["dedupe_key"],
                },
            )
        metadata = Metadata(actor=ESCALATION_ACTOR, correlation_id=uuid.uuid4())
        key = f"escalate {nid}"
        execute(
            self.store,
            NOTIFICATION,
            notification_stream(nid),
            Escalate(nid, now, str(intent["escalate_to"]), self.max_reminders),
            metadata,
            idempotency=Idempotency(key, key),
        )
        return "escalated"

    # --- the ops digest ----------------------------------------------------------------------

    def digest(self, now: datetime) -> list[str]:
        """One digest per ops person of the items since their last; the notification ids."""
        people = self.directory.with_role(Role.OPS)
        made: list[str] = []
        with self.engine.begin() as conn:
            for person in people:
                last = (
                    conn.execute(
                        text("select last_seq from notification_digests where username = :u"),
                        {"u": person.username},
                    ).scalar_one_or_none()
                    or 0
                )
                items = conn.execute(
                    text(
                        "select seq, causes from notification_digest_items where seq > :last "
                        "order by seq limit :n"
                    ),
                    {"last": last, "n": DIGEST_ITEMS},
                ).all()
                if not items:
                    continue
                first, final = items[0][0], items[-1][0]
                step = f"ops-digest:{first}-{final}"
                causes = [c for _, found in items for c in _json(found)][:DIGEST_ITEMS]
                key = f"{step}|ops:{person.username}"
                conn.execute(
                    text(
                        "insert into notification_intents (dedupe_key, rule, rules_version, "
                        "step, who, addressee, channels, urgent, identifiers, title, causes, "
                        "resolved) values (:k, 'ops-digest', 1, :step, 'ops', :u, "
                        "array['email'], false, cast(:ids as jsonb), :title, "
                        "cast(:causes as jsonb), true) on conflict do nothing"
                    ),
                    {
                        "k": key,
                        "step": step,
                        "u": person.username,
                        "ids": json.dumps(
                            {"first": str(first), "last": str(final), "events": str(len(items))}
                        ),
                        "title": f"Plimsoll digest: {len(items)} events for ops",
                        "causes": json.dumps(causes),
                    },
                )
                nid = notification_id(step, person.username)
                conn.execute(
                    text(
                        "insert into notification_jobs (notification_id, dedupe_key, recipient, "
                        "lane, email, problem, channels_pending, next_attempt_at) values "
                        "(:id, :k, :u, :lane, :email, :problem, array['email'], :now) "
                        "on conflict do nothing"
                    ),
                    {
                        "id": nid,
                        "k": key,
                        "u": person.username,
                        "lane": PEOPLE_LANE,
                        "email": person.email,
                        "problem": None,
                        "now": now,
                    },
                )
                conn.execute(
                    text(
                        "insert into notification_digests values (:u, :s) on conflict (username) "
                        "do update set last_seq = excluded.last_seq"
                    ),
                    {"u": person.username, "s": final},
                )
                made.append(nid)
        return made


def _ran(report: object) -> None:
    log.info("sweep ran", extra={"report": str(report)[:500]})


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value
