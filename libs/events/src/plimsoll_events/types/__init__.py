"""The event types Plimsoll ships, one module per owning service.

Naming: the plain class name (`HoursLogged`) is always the latest version of a
type, the one producers record; a superseded version keeps its model under a
suffixed name (`HoursLoggedV1`) so stored data of that version can still be
validated before it is upcast. When a type gets a new version, its old class is
renamed, so every producer still importing the plain name is pointed by mypy at
the fields that changed.
"""

from plimsoll_events.types.allocation import CaseAllocated
from plimsoll_events.types.audit import (
    BundleExported,
    BundleRefused,
    CheckpointSigned,
    PersonalDataRead,
)
from plimsoll_events.types.notifications import NotificationSent
from plimsoll_events.types.timesheet import (
    HoursCorrected,
    HoursLogged,
    HoursLoggedV1,
    HoursLoggedV2,
    HoursWithdrawn,
    LeaveCancelled,
    LeaveKind,
    LeaveRecorded,
    OvertimeRecorded,
    ToilAccrued,
    WorkCategory,
    WorkingTimeOptOutRecorded,
    WorkingTimeOptOutWithdrawn,
)
from plimsoll_events.types.wellbeing import SupervisionHeld

__all__ = [
    "BundleExported",
    "BundleRefused",
    "CaseAllocated",
    "CheckpointSigned",
    "HoursCorrected",
    "HoursLogged",
    "HoursLoggedV1",
    "HoursLoggedV2",
    "HoursWithdrawn",
    "LeaveCancelled",
    "LeaveKind",
    "LeaveRecorded",
    "NotificationSent",
    "OvertimeRecorded",
    "PersonalDataRead",
    "SupervisionHeld",
    "ToilAccrued",
    "WorkCategory",
    "WorkingTimeOptOutRecorded",
    "WorkingTimeOptOutWithdrawn",
]
