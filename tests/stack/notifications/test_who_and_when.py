"""Who is told, and when, on the real servers: a person's preferences change delivery (e-mail
off leaves the inbox; quiet hours hold back what is not urgent until they end); ops get one
digest for many events; a union representative is told only while the practitioner consents;
one person reached by two relationships is told once; an ended subscription is sent nothing
more; a rebuild of the decisions tells nobody again; a placement that arrives after the event
is waited for, for a while."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.records import Metadata
from plimsoll_events.types.wellbeing import UnionConsentGiven, UnionConsentWithdrawn
from plimsoll_notifications.dispatcher import PLACEMENT_GRACE
from plimsoll_notifications.domain.settings import SetPreferences, Unsubscribe
from plimsoll_notifications.rules import load_rules
from plimsoll_notifications.sweeps import Sweeps
from plimsoll_platform.clock import FixedClock
from sqlalchemy import text

from .pipeline import Pipeline, Receiver, mails
from .test_pipeline import breach, sent_to

UK = ZoneInfo("Europe/London")


def resolved(practitioner: str = "P-0001"):
    """A breach resolved: not urgent, told to the line manager by e-mail and in the inbox."""
    kind = CATALOGUE.latest("breach-resolved")
    return kind.model_validate(
        {
            **kind.examples[0],
            "breach_id": f"BR-{uuid.uuid4().hex[:10]}",
            "practitioner_id": practitioner,
            "subject_id": practitioner,
        }
    )


def prefer(pipeline, username: str, *, email: bool = True, quiet=(None, None)) -> None:
    pipeline.handlers.set_preferences(
        SetPreferences(username, email, quiet[0], quiet[1]), Metadata(username, uuid.uuid4())
    )
    with pipeline.records.reading():
        pass  # caught up: the dispatcher sees the preferences


def to(pipeline, recipient: str) -> list[tuple[str, str]]:
    return [(r, c) for r, c in sent_to(pipeline) if r == recipient]


@pytest.fixture
def clock():
    return FixedClock(datetime.now(UTC))


@pytest.fixture
def clocked(stack, scratch_database, directory, smtp, clock):
    """The pipeline on a clock the test moves."""
    engine = sqlalchemy.create_engine(scratch_database, pool_size=20)
    found = Pipeline(engine, stack.kafka, directory, smtp.port, load_rules(), clock=clock)
    yield found
    found.close()
    engine.dispose()


def test_email_switched_off_leaves_the_inbox_and_urgent_mail_still_comes(pipeline, smtp):
    prefer(pipeline, "mo.manager", email=False)
    pipeline.place("P-0001", "P-0100")
    pipeline.publish(resolved())
    opened = breach()
    pipeline.publish(opened)  # urgent: e-mailed whatever the preference
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    assert sorted(to(pipeline, "mo.manager")) == [
        ("mo.manager", "email"),
        ("mo.manager", "inbox"),
        ("mo.manager", "inbox"),
    ]
    [mail] = mails(smtp)
    assert opened.breach_id in mail.subject, "only the urgent one was e-mailed"


def test_quiet_hours_hold_back_what_is_not_urgent_until_they_end(clocked, smtp, clock):
    now = clock.now().astimezone(UK).replace(second=0, microsecond=0)
    start, end = (now - timedelta(hours=1)).time(), (now + timedelta(hours=1)).time()
    prefer(clocked, "mo.manager", quiet=(start, end))
    clocked.place("P-0001", "P-0100")
    quiet = resolved()
    clocked.publish(quiet)
    clocked.start()
    clocked.decide()
    clocked.deliver(until_done=False)
    assert to(clocked, "mo.manager") == [], "held back in the quiet hours"
    assert ("pat.practitioner", "inbox") in sent_to(clocked), "nobody else is held back"
    with clocked.engine.connect() as conn:
        due = conn.execute(
            text("select next_attempt_at from notification_jobs where recipient = 'mo.manager'")
        ).scalar_one()
    assert due == (now + timedelta(hours=1)).astimezone(UTC), "due when the quiet hours end"
    assert mails(smtp) == []

    clock.set(due + timedelta(seconds=1))
    clocked.dispatcher.wake()
    clocked.deliver()
    assert sorted(to(clocked, "mo.manager")) == [("mo.manager", "email"), ("mo.manager", "inbox")]
    [mail] = mails(smtp)
    assert quiet.breach_id in mail.subject


def test_ops_get_one_digest_of_many_events_then_only_what_is_new(pipeline, smtp, directory):
    pipeline.place("P-0001", "P-0100")
    opened = [breach() for _ in range(3)]
    for event in opened:
        pipeline.publish(event)
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    assert not [m for m in mails(smtp) if m.to == "ollie.ops@example.org"], "no mail per event"
    sweeps = Sweeps(
        pipeline.engine,
        pipeline.store,
        pipeline.records,
        directory,
        max_reminders=1,
        reminders_every=timedelta(minutes=5),
        digest_every=timedelta(hours=1),
    )
    [first] = sweeps.digest(datetime.now(UTC))
    pipeline.deliver()
    [digest] = [m for m in mails(smtp) if m.to == "ollie.ops@example.org"]
    assert digest.subject == "Plimsoll digest: 3 events for ops"
    assert all(event.breach_id in digest.body for event in opened), digest.body
    assert "/inbox/N-" in digest.body
    assert sweeps.digest(datetime.now(UTC)) == [], "nothing new, no digest"

    later = breach()
    pipeline.publish(later)
    pipeline.decide()
    [second] = sweeps.digest(datetime.now(UTC))
    assert second != first
    pipeline.deliver()
    digests = [m for m in mails(smtp) if m.to == "ollie.ops@example.org"]
    assert len(digests) == 2
    [new] = [m for m in digests if m.message_id != digest.message_id]
    assert new.subject == "Plimsoll digest: 1 events for ops"
    assert later.breach_id in new.body
    assert not any(event.breach_id in new.body for event in opened)


def test_a_union_representative_is_told_while_consent_is_given_and_not_after_withdrawal(
    pipeline, smtp
):
    pipeline.place("P-0001", "P-0100")
    before = breach()
    pipeline.publish(before)  # no consent yet
    pipeline.publish(UnionConsentGiven(practitioner_id="P-0001", representative="uma.union"))
    during = breach()
    pipeline.publish(during)
    pipeline.publish(UnionConsentWithdrawn(practitioner_id="P-0001", representative="uma.union"))
    after = breach()
    pipeline.publish(after)
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    told = [m for m in mails(smtp) if m.to == "uma.union@example.org"]
    assert [m.subject for m in told] == [next(m.subject for m in told)]
    assert during.breach_id in told[0].subject
    assert to(pipeline, "uma.union") == [("uma.union", "email")]


def test_one_person_in_two_relationships_is_told_once(pipeline, smtp):
    # Hana is the head of service of R-NORTH and, here, Pat's line manager too.
    pipeline.place("P-0001", "P-0200")
    kind = CATALOGUE.latest("breach-escalated")
    escalated = kind.model_validate(
        {
            **kind.examples[0],
            "breach_id": f"BR-{uuid.uuid4().hex[:10]}",
            "level": "head-of-service",
        }
    )
    pipeline.publish(escalated)
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    hana = [
        e.data for e in pipeline.events("notification-sent") if e.data["recipient"] == "hana.head"
    ]
    assert len({h["notification_id"] for h in hana}) == 1, "one notification"
    assert sorted(h["channel"] for h in hana) == ["email", "inbox"], "each channel once"
    assert [m.to for m in mails(smtp)].count("hana.head@example.org") == 1
    with pipeline.engine.connect() as conn:
        jobs = conn.execute(
            text("select count(*) from notification_jobs where recipient = 'hana.head'")
        ).scalar_one()
    assert jobs == 1


def test_an_ended_subscription_is_sent_nothing_more(pipeline, receivers):
    partner = Receiver()
    subscription, partner.secret = pipeline.subscribe(
        "Court listing", receivers.add("court", partner), ["breach-opened"]
    )
    pipeline.place("P-0001", "P-0100")
    pipeline.publish(breach())
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    assert len(partner.delivered) == 1
    pipeline.handlers.unsubscribe(
        Unsubscribe(subscription, "tests"), Metadata("tests", uuid.uuid4())
    )
    with pipeline.records.reading():
        pass
    pipeline.publish(breach())
    pipeline.decide()
    pipeline.deliver()
    assert ("mo.manager", "email") in sent_to(pipeline)
    assert partner.attempts == 1, "nothing sent after the subscription ended"
    assert [r for r, _ in sent_to(pipeline)].count(f"webhook:{subscription}") == 1


def test_a_rebuild_of_the_decisions_tells_nobody_again(pipeline, smtp):
    pipeline.place("P-0001", "P-0100")
    pipeline.publish(UnionConsentGiven(practitioner_id="P-0001", representative="uma.union"))
    pipeline.publish(breach())
    pipeline.start()
    pipeline.decide()
    pipeline.deliver()
    events, told = len(pipeline.events()), sorted(m.to for m in mails(smtp))
    assert "uma.union@example.org" in told
    decisions = pipeline.runners[1]
    decisions.rebuild()
    decisions.run_until_caught_up(timeout_seconds=120)
    pipeline.deliver()
    assert len(pipeline.events()) == events, "no event recorded again"
    assert sorted(m.to for m in mails(smtp)) == told, "no e-mail sent again"
    with pipeline.engine.connect() as conn:
        consents = conn.execute(text("select representative from notification_consents")).all()
    assert [c[0] for c in consents] == ["uma.union"], "the consents are rebuilt"


def _waiting(pipeline) -> int:
    with pipeline.engine.connect() as conn:
        return int(
            conn.execute(
                text("select count(*) from notification_intents where not resolved")
            ).scalar_one()
        )


def _until(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.1)


def test_a_line_manager_is_found_when_the_placement_arrives_late_and_missed_after_the_grace(
    clocked, smtp, clock
):
    """The line manager is found through the practitioner's placement, which may arrive
    after the breach: that notification waits for it (PLACEMENT_GRACE) and goes once it
    comes; one whose placement never comes fails with the reason when the grace is over."""
    early, never = breach("P-0001"), breach("P-0002")
    clocked.publish(early)
    clocked.publish(never)
    clocked.start()
    clocked.decide()
    # The practitioners' own notifications go; their line managers' wait.
    _until(lambda: ("pat.practitioner", "inbox") in sent_to(clocked))
    assert _waiting(clocked) == 2
    assert not [m for m in mails(smtp) if m.to == "mo.manager@example.org"]

    clocked.place("P-0001", "P-0100")
    clocked.decide()
    _until(lambda: _waiting(clocked) == 1)
    _until(lambda: ("mo.manager", "email") in sent_to(clocked))
    [told] = [m for m in mails(smtp) if m.to == "mo.manager@example.org"]
    assert early.breach_id in told.subject

    clock.advance(PLACEMENT_GRACE + timedelta(minutes=1))
    clocked.deliver()
    reasons = {e.data["reason"] for e in clocked.events("notification-failed")}
    assert "no placement of P-0002 is known: no line-manager to tell" in reasons, reasons
    assert len([m for m in mails(smtp) if m.to == "mo.manager@example.org"]) == 1
