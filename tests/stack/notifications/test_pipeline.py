"""The notifications pipeline end to end on the real servers: a breach reaches the manager's
mailbox, the partner's webhook and the inboxes, once whatever Kafka redelivers; what cannot be
told is a recorded failure with the reason, or a dead letter, and everything else carries on."""

import time
import uuid
from datetime import UTC, datetime

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.records import Metadata
from plimsoll_events.types.wellbeing import BreachOpened
from plimsoll_notifications.domain.notification import Read
from sqlalchemy import text

from .pipeline import Receiver, mails

ACTOR = Metadata("mo.manager", uuid.uuid4())
FACT = "112.4"  # a figure of the breach: it must reach no mailbox and no partner


def breach(practitioner: str = "P-0001", **changes) -> BreachOpened:
    example = dict(BreachOpened.examples[0])
    example.update(
        breach_id=f"BR-{uuid.uuid4().hex[:10]}",
        practitioner_id=practitioner,
        subject_id=practitioner,
        **changes,
    )
    example["facts"] = {"capacity_percent": FACT}
    return BreachOpened.model_validate(example)


def sent_to(pipeline):
    return sorted(
        (e.data["recipient"], e.data["channel"]) for e in pipeline.events("notification-sent")
    )


def test_a_breach_reaches_the_managers_mail_the_partners_webhook_and_the_inboxes(
    pipeline, smtp, receivers
):
    partner = Receiver()
    url = receivers.add("court", partner)
    subscription, partner.secret = pipeline.subscribe("Court listing", url, ["breach-opened"])
    pipeline.place("P-0001", "P-0100")
    opened = breach()
    pipeline.publish(opened)
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()

    assert sent_to(pipeline) == sorted(
        [
            ("mo.manager", "email"),
            ("mo.manager", "inbox"),
            ("pat.practitioner", "inbox"),
            (f"webhook:{subscription}", "webhook"),
        ]
    )
    [mail] = mails(smtp)
    assert mail.to == "mo.manager@example.org"
    assert opened.breach_id in mail.subject
    assert opened.breach_id in mail.body
    assert "http://127.0.0.1:58104/inbox/N-" in mail.body
    assert FACT not in mail.body, "e-mails carry identifiers and a link, not case details"

    [delivered] = partner.delivered
    assert partner.forged == 0
    assert delivered["type"] == "plimsoll.breach-opened"
    assert delivered["data"]["identifiers"]["breach_id"] == opened.breach_id
    assert FACT not in str(delivered)
    webhook_sent = next(
        e for e in pipeline.events("notification-sent") if e.data["channel"] == "webhook"
    )
    assert partner.ids == [webhook_sent.data["notification_id"]], "webhook-id: the notification"


def test_redelivery_and_a_repeated_step_tell_nobody_twice(pipeline, smtp):
    pipeline.place("P-0001", "P-0100")
    opened = breach()
    value = pipeline.publish(opened)
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    before = sent_to(pipeline)
    # Kafka redelivers the message; wellbeing records the same step again under a new event id.
    pipeline.send_raw(value, key="P-0001")
    pipeline.publish(opened)
    pipeline.decide()
    pipeline.deliver()
    assert sent_to(pipeline) == before
    assert len(mails(smtp)) == 1


def test_what_the_rules_do_not_know_or_cannot_render_is_dead_lettered_and_the_rest_carries_on(
    pipeline, smtp
):
    pipeline.place("P-0001", "P-0100")
    hours = CATALOGUE.latest("hours-logged").model_validate(
        CATALOGUE.latest("hours-logged").examples[0]
    )
    pipeline.publish(hours)  # a type the rules neither tell of nor ignore
    rules = pipeline.decisions.rules
    broken = rules.model_copy(
        update={
            "rules": tuple(
                r.model_copy(update={"title": "{{ case_details }}"})
                if r.id == "breach-resolved"
                else r
                for r in rules.rules
            )
        }
    )
    pipeline.decisions.rules = broken
    resolved = CATALOGUE.latest("breach-resolved").model_validate(
        {**CATALOGUE.latest("breach-resolved").examples[0], "practitioner_id": "P-0001"}
    )
    pipeline.publish(resolved)
    pipeline.publish(breach())  # after both: still told
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    reasons = pipeline.dead_letters()
    assert any("neither tell of nor ignore 'hours-logged'" in r for r in reasons), reasons
    assert any("'case_details' is undefined" in r for r in reasons), reasons
    assert ("mo.manager", "email") in sent_to(pipeline)


def test_someone_the_directory_does_not_know_is_a_failed_notification_with_the_reason(pipeline):
    stranger = f"P-X{uuid.uuid4().hex[:8]}"
    pipeline.place(stranger, "P-0100")
    pipeline.publish(breach(stranger))
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    failed = [e.data for e in pipeline.events("notification-failed")]
    assert {
        (f["recipient"], f["reason"], f["final"]) for f in failed if f["channel"] == "inbox"
    } >= {
        (
            f"practitioner:{stranger}",
            f"nobody in the directory has practitioner_id {stranger}",
            True,
        )
    }
    assert ("mo.manager", "email") in sent_to(pipeline), "the manager is still told"


def test_a_failing_partner_is_retried_then_dead_lettered_and_a_slow_one_holds_nobody_up(
    pipeline, smtp, receivers
):
    fast, slow, failing = Receiver(), Receiver("slow", delay_seconds=3), Receiver("fail")
    for name, receiver in (("fast", fast), ("slow", slow), ("failing", failing)):
        _, receiver.secret = pipeline.subscribe(
            name, receivers.add(name, receiver), ["breach-opened"]
        )
    pipeline.place("P-0001", "P-0100")
    for _ in range(5):
        pipeline.publish(breach())
    pipeline.start()
    pipeline.decide()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline and (len(fast.delivered) < 5 or len(mails(smtp)) < 5):
        time.sleep(0.05)
    assert len(fast.delivered) == 5, "not held up by the slow partner"
    assert len(mails(smtp)) == 5
    assert len(slow.delivered) == 0, "the slow partner is still answering"
    pipeline.deliver(timeout=60)
    assert len(slow.delivered) == 5
    assert failing.attempts == 15, "3 tries each"
    failures = [e.data for e in pipeline.events("notification-failed")]
    final = [f for f in failures if f["final"]]
    assert len(final) == 5
    assert all("HTTP 503" in f["reason"] for f in final)
    assert sorted(f["attempt"] for f in failures) == [1] * 5 + [2] * 5 + [3] * 5


def test_a_dispatcher_stopped_after_recording_sends_and_records_nothing_again(pipeline, smtp):
    pipeline.place("P-0001", "P-0100")
    pipeline.publish(breach())
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    events = len(pipeline.events())
    # As if the process stopped after its append and before settling: the job is as its claim
    # left it (claimed once, everything pending, the version before the append), the lease
    # runs out, and another claims the job again.
    with pipeline.engine.begin() as conn:
        conn.execute(
            text(
                "update notification_jobs j set done = false, attempt = 0, claims = 1, "
                "stream_version = 0, channels_pending = i.channels, "
                "leased_until = now() - interval '1 second' "
                "from notification_intents i where i.dedupe_key = j.dedupe_key"
            )
        )
    pipeline.deliver()
    assert len(pipeline.events()) == events
    assert len(mails(smtp)) == 1


def test_a_retry_after_the_inbox_item_was_read_is_recorded_after_the_read(pipeline, smtp):
    """The dispatcher appends a retry at the version it settled; a read in between moved the
    stream, so it decides on what is there instead, and records the retry after the read."""
    pipeline.place("P-0001", "P-0100")
    pipeline.publish(breach())
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    (sent,) = [e for e in pipeline.events("notification-sent") if e.data["channel"] == "email"]
    nid = sent.data["notification_id"]
    pipeline.handlers.read(Read(nid, "mo.manager", datetime.now(UTC)), ACTOR)
    # As if the e-mail had failed its first try and were due again now.
    with pipeline.engine.begin() as conn:
        conn.execute(
            text(
                "update notification_jobs set done = false, attempt = 1, "
                "channels_pending = '{email}', next_attempt_at = now() "
                "where notification_id = :id"
            ),
            {"id": nid},
        )
    pipeline.deliver()
    stream = pipeline.store.read_stream(sent.stream_id)
    assert [(e.type, e.data.get("channel"), e.data.get("attempt")) for e in stream] == [
        ("notification-sent", "email", 1),
        ("notification-sent", "inbox", 1),
        ("notification-read", None, None),
        ("notification-sent", "email", 2),
    ]
    assert len(mails(smtp)) == 2
