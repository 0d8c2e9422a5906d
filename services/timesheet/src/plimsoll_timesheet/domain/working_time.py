"""A practitioner's opt-out of the 48-hour average week: one stream each (`working_time_stream`).

The Working Time Regulations 1998 let a worker agree in writing that the 48-hour
limit on their average week does not apply to them, and end that agreement.
Both are the practitioner's own decision.

Rules (every refusal names the field, and records nothing):

* Only the practitioner themself records or withdraws it, never a manager, a
  head of service or an admin (403 on `practitioner_id`).
* It takes effect from a day given, today or later (UK): never backdated, so
  that past weeks are always judged as they were worked (422 on `effective_from`).
* Opting out while opted out, or withdrawing while not opted out, is refused (409).

Which applies on a day: the most recently recorded change whose
`effective_from` is on or before it (none: the limit applies). So a withdrawal
effective before a planned opt-out starts means it never applies.
"""

from dataclasses import dataclass
from datetime import date
from typing import Final

from plimsoll_events import refusals
from plimsoll_events.catalogue import EventData
from plimsoll_events.handling import Decider
from plimsoll_events.types.timesheet import WorkingTimeOptOutRecorded, WorkingTimeOptOutWithdrawn

from plimsoll_timesheet.domain.errors import (
    InvalidValue,
    OptOutUnchanged,
    PractitionerOnly,
    supplied,
)


def working_time_stream(practitioner_id: str) -> str:
    """The stream of a practitioner's opt-out: `working-time-<practitioner>`."""
    return f"working-time-{practitioner_id}"


@dataclass(frozen=True)
class RecordOptOut:
    """Opt out of the 48-hour average from `effective_from`."""

    practitioner_id: str
    effective_from: date
    by_practitioner: bool | None = None
    today: date | None = None


@dataclass(frozen=True)
class WithdrawOptOut:
    """Withdraw the opt-out: the 48-hour average applies again from `effective_from`."""

    practitioner_id: str
    effective_from: date
    by_practitioner: bool | None = None
    today: date | None = None


OptOutCommand = RecordOptOut | WithdrawOptOut


@dataclass(frozen=True)
class OptOut:
    """The latest change recorded: opted out (from when), or not."""

    opted_out: bool = False
    effective_from: date | None = None


initial_state: Final = OptOut()


def decide(command: OptOutCommand, state: OptOut) -> list[EventData]:
    if not supplied(command.by_practitioner, "by_practitioner"):
        raise PractitionerOnly(
            f"the opt-out is {command.practitioner_id}'s own decision: only they record or "
            "withdraw it",
            field="practitioner_id",
        )
    effective_from = refusals.day(command.effective_from, "effective_from")
    today = supplied(command.today, "today")
    if effective_from < today:
        raise InvalidValue(
            f"takes effect today ({today}) or later: it is never backdated",
            field="effective_from",
        )
    if isinstance(command, RecordOptOut):
        if state.opted_out:
            raise OptOutUnchanged(
                f"already opted out from {state.effective_from}", field="effective_from"
            )
        return [
            WorkingTimeOptOutRecorded(
                practitioner_id=command.practitioner_id, effective_from=effective_from
            )
        ]
    if not state.opted_out:
        raise OptOutUnchanged("there is no opt-out to withdraw", field="effective_from")
    return [
        WorkingTimeOptOutWithdrawn(
            practitioner_id=command.practitioner_id, effective_from=effective_from
        )
    ]


def evolve(state: OptOut, event: EventData) -> OptOut:
    if isinstance(event, WorkingTimeOptOutRecorded):
        return OptOut(opted_out=True, effective_from=event.effective_from)
    if isinstance(event, WorkingTimeOptOutWithdrawn):
        return OptOut(opted_out=False, effective_from=event.effective_from)
    raise TypeError(f"{event.type} is not an event of a working-time opt-out")


WORKING_TIME: Final = Decider[OptOutCommand, OptOut](
    initial_state=initial_state, decide=decide, evolve=evolve
)
"""A practitioner's opt-out as a `Decider`."""
