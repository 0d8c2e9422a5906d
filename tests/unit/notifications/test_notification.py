"""Given a notification's events, when read, acknowledged, escalated or recorded again, then."""

from datetime import UTC, datetime, timedelta

import pytest
from plimsoll_events.refusals import Conflict, NotFound, OutsideScope
from plimsoll_events.types.notifications import (
    NotificationAcknowledged,
    NotificationEscalated,
    NotificationFailed,
    NotificationRead,
    NotificationSent,
)
from plimsoll_notifications.domain.notification import (
    NOTIFICATION,
    Acknowledge,
    Escalate,
    Read,
    RecordOutcomes,
    reminder_due,
    reminder_spent_and_due,
)

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
DUE = NOW + timedelta(hours=24)
CAUSE = {
    "event_id": "0195a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
    "event_type": "breach-opened",
    "source": "/plimsoll/wellbeing",
}


def sent(channel="inbox", round_=0, attempt=1, needs_ack=True):
    return NotificationSent(
        notification_id="N-1",
        practitioner_id="P-0001",
        recipient="mo.manager",
        channel=channel,
        address=None,
        title="Breach opened",
        link="http://x/inbox/N-1",
        identifiers={},
        causes=[CAUSE],
        rule="breach-opened",
        rules_version=1,
        step="breach-opened:BR-1",
        round=round_,
        attempt=attempt,
        urgent=True,
        needs_acknowledgement=needs_ack,
        acknowledge_by=DUE + timedelta(hours=24 * round_) if needs_ack else None,
        message_id="N-1",
        sent_at=NOW,
    )


def failed(attempt=1, final=False):
    return NotificationFailed(
        notification_id="N-1",
        practitioner_id="P-0001",
        recipient="mo.manager",
        channel="email",
        address="mo@x",
        causes=[CAUSE],
        step="breach-opened:BR-1",
        round=0,
        attempt=attempt,
        reason="HTTP 503",
        final=final,
        next_attempt_at=None,
        failed_at=NOW,
    )


def test_outcomes_already_recorded_are_not_recorded_again():
    history = [sent(), failed(attempt=1)]
    again = RecordOutcomes((sent(), failed(attempt=1), failed(attempt=2)))
    assert NOTIFICATION.run(again, history) == [failed(attempt=2)]


def test_reading_is_recorded_the_first_time_only():
    read = Read("N-1", "mo.manager", NOW)
    assert [type(e) for e in NOTIFICATION.run(read, [sent()])] == [NotificationRead]
    assert NOTIFICATION.run(read, [sent(), NOTIFICATION.run(read, [sent()])[0]]) == []


def test_only_the_recipient_acknowledges():
    with pytest.raises(OutsideScope, match="not in your inbox"):
        NOTIFICATION.run(Acknowledge("N-1", "hana.head", NOW), [sent()])


def test_an_e_mail_alone_is_not_in_anyone_s_inbox():
    with pytest.raises(OutsideScope):
        NOTIFICATION.run(Read("N-1", "mo.manager", NOW), [sent(channel="email")])


def test_acknowledging_twice_is_a_conflict():
    acked = NOTIFICATION.run(Acknowledge("N-1", "mo.manager", NOW, "on it"), [sent()])
    assert isinstance(acked[0], NotificationAcknowledged)
    with pytest.raises(Conflict, match="acknowledged already"):
        NOTIFICATION.run(Acknowledge("N-1", "mo.manager", NOW), [sent(), *acked])


def test_nothing_is_done_to_a_notification_never_sent():
    with pytest.raises(NotFound):
        NOTIFICATION.run(Read("N-9", "mo.manager", NOW), [])


def test_overdue_it_is_reminded_first_then_escalated_once():
    state = NOTIFICATION.fold([sent()])
    assert not reminder_due(state, DUE - timedelta(seconds=1), 1)
    assert reminder_due(state, DUE, 1)
    assert not reminder_spent_and_due(state, DUE, 1)
    reminded = NOTIFICATION.fold([sent(), sent(round_=1)])
    later = DUE + timedelta(hours=24)
    assert not reminder_due(reminded, later, 1)
    assert reminder_spent_and_due(reminded, later, 1)
    escalated = NOTIFICATION.run(
        Escalate("N-1", later, "head-of-service", 1), [sent(), sent(round_=1)]
    )
    assert [type(e) for e in escalated] == [NotificationEscalated]
    assert escalated[0].reminders == 1
    assert (
        NOTIFICATION.run(
            Escalate("N-1", later, "head-of-service", 1), [sent(), sent(round_=1), *escalated]
        )
        == []
    )


def test_an_acknowledged_notification_is_never_escalated():
    ack = NotificationAcknowledged(
        notification_id="N-1",
        practitioner_id="P-0001",
        recipient="mo.manager",
        note=None,
        acknowledged_at=NOW,
    )
    far = DUE + timedelta(days=30)
    assert NOTIFICATION.run(Escalate("N-1", far, "head-of-service", 0), [sent(), ack]) == []
