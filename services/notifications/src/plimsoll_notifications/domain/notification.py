"""One notification: one recipient told of one step, on its channels, and what they did.

Stream `notification-<id>`. Rules:

* deliveries are recorded as they happened (`RecordOutcomes`: the dispatcher's sent and failed
  tries); a try already recorded (same round, channel and attempt) is not recorded again, so a
  dispatcher that stopped after recording and tries again records nothing new;
* only the recipient reads or acknowledges it (anyone else: refused as outside their scope);
  reading is recorded the first time only; acknowledging twice is a conflict;
* it is escalated once, when it needs acknowledging, nobody has, its deadline has passed and
  the reminders are spent; never after it was acknowledged;
* a reminder round is due when it needs acknowledging, nobody has, the deadline has passed and
  fewer reminders than allowed were sent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.refusals import Conflict, NotFound, OutsideScope
from plimsoll_events.types.notifications import (
    NotificationAcknowledged,
    NotificationEscalated,
    NotificationFailed,
    NotificationRead,
    NotificationSent,
)

ESCALATION_ACTOR: Final = "system:notification-reminders"


def notification_stream(notification_id: str) -> str:
    return f"notification-{notification_id}"


@dataclass(frozen=True)
class NotificationState:
    recipient: str | None = None
    practitioner_id: str | None = None
    step: str = ""
    in_inbox: bool = False
    needs_acknowledgement: bool = False
    acknowledge_by: datetime | None = None
    rounds_sent: int = -1
    tries: frozenset[tuple[int, str, int]] = frozenset()
    read: bool = False
    acknowledged: bool = False
    escalated: bool = False

    @property
    def exists(self) -> bool:
        return self.recipient is not None


@dataclass(frozen=True)
class RecordOutcomes:
    """What the dispatcher's tries came to: `notification-sent` and `-failed` data."""

    outcomes: tuple[NotificationSent | NotificationFailed, ...]


@dataclass(frozen=True)
class Read:
    notification_id: str
    reader: str
    at: datetime


@dataclass(frozen=True)
class Acknowledge:
    notification_id: str
    by: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True)
class Escalate:
    notification_id: str
    now: datetime
    escalated_to: str
    max_reminders: int


Command = RecordOutcomes | Read | Acknowledge | Escalate


def decide(command: Command, state: NotificationState) -> list[EventData]:
    if isinstance(command, RecordOutcomes):
        seen, fresh = set(state.tries), []
        for outcome in command.outcomes:
            if _key(outcome) not in seen:
                seen.add(_key(outcome))
                fresh.append(outcome)
        return list(fresh)
    if not state.exists:
        raise NotFound(f"no notification {command.notification_id}", field="notification_id")
    if isinstance(command, Escalate):
        if not reminder_spent_and_due(state, command.now, command.max_reminders):
            return []
        assert state.acknowledge_by is not None
        return [
            NotificationEscalated(
                notification_id=command.notification_id,
                practitioner_id=state.practitioner_id,
                recipient=_recipient(state),
                step=state.step,
                escalated_to=command.escalated_to,
                reminders=max(state.rounds_sent, 0),
                acknowledge_by=state.acknowledge_by,
                escalated_at=command.now,
            )
        ]
    who = command.reader if isinstance(command, Read) else command.by
    if who != state.recipient or not state.in_inbox:
        raise OutsideScope(
            f"notification {command.notification_id} is not in your inbox",
            field="notification_id",
        )
    if isinstance(command, Read):
        if state.read:
            return []
        return [
            NotificationRead(
                notification_id=command.notification_id,
                practitioner_id=state.practitioner_id,
                recipient=who,
                read_at=command.at,
            )
        ]
    if state.acknowledged:
        raise Conflict(
            f"notification {command.notification_id} is acknowledged already",
            field="notification_id",
        )
    return [
        NotificationAcknowledged(
            notification_id=command.notification_id,
            practitioner_id=state.practitioner_id,
            recipient=who,
            note=command.note,
            acknowledged_at=command.at,
        )
    ]


def evolve(state: NotificationState, event: EventData) -> NotificationState:
    if isinstance(event, NotificationSent):
        acknowledge_by = state.acknowledge_by
        if event.needs_acknowledgement and event.round >= state.rounds_sent:
            acknowledge_by = event.acknowledge_by
        return replace(
            state,
            recipient=event.recipient,
            practitioner_id=event.practitioner_id,
            step=event.step,
            in_inbox=state.in_inbox or event.channel == "inbox",
            needs_acknowledgement=state.needs_acknowledgement or event.needs_acknowledgement,
            acknowledge_by=acknowledge_by,
            rounds_sent=max(state.rounds_sent, event.round),
            tries=state.tries | {_key(event)},
        )
    if isinstance(event, NotificationFailed):
        return replace(
            state,
            recipient=event.recipient,
            practitioner_id=event.practitioner_id,
            step=event.step,
            tries=state.tries | {_key(event)},
        )
    if isinstance(event, NotificationRead):
        return replace(state, read=True)
    if isinstance(event, NotificationAcknowledged):
        return replace(state, acknowledged=True, read=True)
    if isinstance(event, NotificationEscalated):
        return replace(state, escalated=True)
    return state


def reminder_due(state: NotificationState, now: datetime, max_reminders: int) -> bool:
    """Unacknowledged past its deadline, with a reminder left to send."""
    return _overdue(state, now) and state.rounds_sent < max_reminders


def reminder_spent_and_due(state: NotificationState, now: datetime, max_reminders: int) -> bool:
    """Unacknowledged past its deadline with every reminder sent: time to go up a level."""
    return _overdue(state, now) and state.rounds_sent >= max_reminders and not state.escalated


def _overdue(state: NotificationState, now: datetime) -> bool:
    return (
        state.needs_acknowledgement
        and not state.acknowledged
        and state.acknowledge_by is not None
        and state.acknowledge_by <= now
    )


def _recipient(state: NotificationState) -> str:
    return state.recipient or ""


def _key(event: NotificationSent | NotificationFailed) -> tuple[int, str, int]:
    return (event.round, event.channel, event.attempt)


NOTIFICATION: Final[Decider[Command, NotificationState]] = Decider(
    initial_state=NotificationState(), decide=decide, evolve=evolve
)
