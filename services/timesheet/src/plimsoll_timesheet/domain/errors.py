"""Why the timesheet domain refuses a command: the shared refusals, and the timesheet's own.

Every refusal is a `plimsoll_events.refusals.Refused`, naming the input at fault
(`field`) and saying why; the class carries the HTTP status and problem kind.

    Refused
    ├── InvalidValue (422)              a value the command carries is not acceptable
    │   ├── InTheFuture                 time logged for a day or a time still to come
    │   ├── OnBehalfReasonRequired      logged for someone else without saying why
    │   └── NotInPost                   a day the practitioner was not in post
    ├── NotFound (404)                  the entry or leave named was never recorded there
    ├── Conflict (409)                  the command clashes with what is recorded
    │   ├── AlreadyExists               a second leave with one id
    │   ├── MoreThanADay                a day's work above 24 hours
    │   ├── OverlappingTime             a stretch of work overlapping another of the day
    │   ├── EntryWithdrawn              a correction or withdrawal of a withdrawn entry
    │   ├── OverlappingLeave            leave overlapping leave already recorded
    │   ├── LeaveAlreadyStarted         a cancellation of leave already begun
    │   ├── LeaveAlreadyCancelled       a second cancellation
    │   └── OptOutUnchanged             an opt-out recorded twice, or withdrawn when none
    └── NotPermitted (403)
        └── PractitionerOnly            overtime or the opt-out, by anyone but the practitioner
"""

from plimsoll_events.refusals import (
    AlreadyExists,
    Conflict,
    InvalidValue,
    NotFound,
    NotPermitted,
    OutsideScope,
    Refused,
    supplied,
)

__all__ = [
    "AlreadyExists",
    "Conflict",
    "EntryWithdrawn",
    "InTheFuture",
    "InvalidValue",
    "LeaveAlreadyCancelled",
    "LeaveAlreadyStarted",
    "MoreThanADay",
    "NotFound",
    "NotInPost",
    "NotPermitted",
    "OnBehalfReasonRequired",
    "OptOutUnchanged",
    "OutsideScope",
    "OverlappingLeave",
    "OverlappingTime",
    "PractitionerOnly",
    "Refused",
    "supplied",
]


class InTheFuture(InvalidValue):
    """Time is logged only once it has been worked: not for a later day or time (UK)."""

    kind = "in-the-future"
    title = "Time cannot be logged before it is worked"


class OnBehalfReasonRequired(InvalidValue):
    """Someone other than the practitioner logged time for them without saying why."""

    kind = "on-behalf-reason-required"
    title = "Logging for someone else needs a reason"


class NotInPost(InvalidValue):
    """The practitioner was not in post on that day (before they started, after they left)."""

    kind = "not-in-post"
    title = "The practitioner was not in post that day"


class MoreThanADay(Conflict):
    """A day's entries and overtime would come to more than 24 hours."""

    kind = "more-than-a-day"
    title = "More than 24 hours in one day"


class OverlappingTime(Conflict):
    """A stretch of work overlaps another entry of the same day."""

    kind = "overlapping-time"
    title = "The time overlaps another entry"


class EntryWithdrawn(Conflict):
    """The entry was withdrawn: it can no longer be corrected or withdrawn."""

    kind = "entry-withdrawn"
    title = "The entry was withdrawn"


class OverlappingLeave(Conflict):
    """Leave overlapping leave already recorded (and not cancelled)."""

    kind = "overlapping-leave"
    title = "The leave overlaps other leave"


class LeaveAlreadyStarted(Conflict):
    """Leave is cancelled only before its first day."""

    kind = "leave-started"
    title = "The leave has already started"


class LeaveAlreadyCancelled(Conflict):
    """The leave was cancelled already."""

    kind = "leave-cancelled"
    title = "The leave was already cancelled"


class OptOutUnchanged(Conflict):
    """Opting out while opted out, or withdrawing an opt-out there is not."""

    kind = "opt-out-unchanged"
    title = "The opt-out is already as asked"


class PractitionerOnly(NotPermitted):
    """Only the practitioner themself records this (voluntary overtime, the opt-out)."""

    kind = "practitioner-only"
    title = "Only the practitioner themself may record this"
