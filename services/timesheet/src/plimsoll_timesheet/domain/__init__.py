"""The pure domain of the timesheet service: no I/O, no framework, no clock.

Three aggregates, each a `plimsoll_events.handling.Decider`:

* `day.DAY`: a practitioner's day (`day_stream`): `LogHours`, `CorrectHours`,
  `WithdrawHours`, `RecordOvertime`; the day's TOIL follows every change.
* `leave.LEAVE`: a practitioner's leave (`leave_stream`): `RecordLeave`, `CancelLeave`.
* `working_time.WORKING_TIME`: their 48-hour opt-out (`working_time_stream`):
  `RecordOptOut`, `WithdrawOptOut`.

Beside them, `figures`: a week's figures by category and its TOIL. The working-time
arithmetic (ISO weeks, the contracted day, the rolling averages, the TOIL taken, the
opt-out on a day) and the rule it follows are the kit's `plimsoll_platform.working_time`,
re-exported here. Time comes in on commands (`today`, `now`), filled in by the
handlers; every refusal is a `plimsoll_events.refusals.Refused` (see `errors`).
"""

from plimsoll_platform.working_time import (
    CONTRACT_WINDOW_WEEKS,
    FORTY_EIGHT_HOURS,
    REFERENCE_PERIOD_WEEKS,
    IsoWeek,
    LeaveSpan,
    RollingAverage,
    TeamAverage,
    contracted_day_minutes,
    opted_out_on,
    rolling_average,
    team_average,
    toil_taken,
    window,
)

from plimsoll_timesheet.domain import day, entries, errors, figures, leave, working_time
from plimsoll_timesheet.domain.day import (
    DAY,
    CorrectHours,
    Day,
    DayCommand,
    DayContext,
    LogHours,
    RecordOvertime,
    WithdrawHours,
    day_stream,
)
from plimsoll_timesheet.domain.entries import MINUTES_IN_A_DAY, WORK_CATEGORIES, Entry
from plimsoll_timesheet.domain.figures import DayRecord, WeekFigures, week_figures
from plimsoll_timesheet.domain.leave import (
    LEAVE,
    LEAVE_KINDS,
    CancelLeave,
    Leave,
    LeaveBook,
    LeaveCommand,
    RecordLeave,
    leave_stream,
)
from plimsoll_timesheet.domain.working_time import (
    WORKING_TIME,
    OptOut,
    OptOutCommand,
    RecordOptOut,
    WithdrawOptOut,
    working_time_stream,
)

__all__ = [
    "CONTRACT_WINDOW_WEEKS",
    "DAY",
    "FORTY_EIGHT_HOURS",
    "LEAVE",
    "LEAVE_KINDS",
    "MINUTES_IN_A_DAY",
    "REFERENCE_PERIOD_WEEKS",
    "WORKING_TIME",
    "WORK_CATEGORIES",
    "CancelLeave",
    "CorrectHours",
    "Day",
    "DayCommand",
    "DayContext",
    "DayRecord",
    "Entry",
    "IsoWeek",
    "Leave",
    "LeaveBook",
    "LeaveCommand",
    "LeaveSpan",
    "LogHours",
    "OptOut",
    "OptOutCommand",
    "RecordLeave",
    "RecordOptOut",
    "RecordOvertime",
    "RollingAverage",
    "TeamAverage",
    "WeekFigures",
    "WithdrawHours",
    "WithdrawOptOut",
    "contracted_day_minutes",
    "day",
    "day_stream",
    "entries",
    "errors",
    "figures",
    "leave",
    "leave_stream",
    "opted_out_on",
    "rolling_average",
    "team_average",
    "toil_taken",
    "week_figures",
    "window",
    "working_time",
    "working_time_stream",
]
