"""The timesheet's commands: one method per command, each taking the domain command the route
built, filling in what only the service knows, and ending in `execute`.

Context filled in here (`dataclasses.replace`): today and the UK time now (the
clock), the contracted day (the practitioner's placement that day, from
`placements`, and England and Wales working days), whether the practitioner
themself acts, and the day's event ids.

Event ids. An entry is named by the id of its `hours-logged` event, but `execute`
folds event data only. So a day command reads the day's stream once, puts its
event ids on the command, and lets `execute` fold exactly those events
(`_ReadOnce`): the command's ids and the decider's state always match, and a
write that lands in between makes the append fail with `ConcurrencyError`
(409), never a decision on other events than the ones named. The events read
and recorded also give the answer (the day as it now stands) without another read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.handling import Decider, Idempotency, Store, execute
from plimsoll_events.records import Metadata, NewEvent, RecordedEvent
from plimsoll_events.refusals import Refused
from plimsoll_events.store import AppendTo
from plimsoll_platform.clock import UK, Clock, is_working_day
from plimsoll_platform.placement_history import PlacementHistory

from plimsoll_timesheet.domain import (
    DAY,
    LEAVE,
    WORKING_TIME,
    CancelLeave,
    CorrectHours,
    Day,
    DayCommand,
    DayContext,
    LeaveBook,
    LeaveCommand,
    LogHours,
    OptOut,
    OptOutCommand,
    RecordLeave,
    RecordOvertime,
    WithdrawHours,
    contracted_day_minutes,
    day_stream,
    leave_stream,
    working_time_stream,
)
from plimsoll_timesheet.domain.errors import NotFound, NotInPost

State = TypeVar("State")


class DayStore(Store, Protocol):
    """What the handlers need of the event store: `execute`'s, and `append_many`."""

    def append_many(self, appends: Sequence[AppendTo]) -> list[list[RecordedEvent] | Exception]: ...


@dataclass(frozen=True)
class Practitioner:
    """Whom a command is about, as the route found them: their placement history (None: not
    known to placements yet), and whether the caller is the practitioner themself."""

    practitioner_id: str
    history: PlacementHistory | None
    by_practitioner: bool

    def contracted_day(self, day: date) -> int:
        """Their contracted minutes on `day`; refused if unknown or not in post that day."""
        if self.history is None:
            raise NotFound(f"no practitioner {self.practitioner_id!r}", field="practitioner_id")
        placement = self.history.on(day)
        if placement is None:
            left = self.history.leaving_date
            raise NotInPost(
                f"{self.practitioner_id} was not in post on {day} (started "
                f"{self.history.start_date}{f', left {left}' if left else ''})",
                field="day",
            )
        return contracted_day_minutes(placement.contracted_hours, is_working_day(day))


@dataclass(frozen=True)
class Outcome(Generic[State]):
    """What a command did: the events it recorded (or, for a retry, recorded the first time),
    and the stream's state and events after it."""

    recorded: list[RecordedEvent]
    state: State
    events: list[RecordedEvent]
    repeated: bool
    """A retry of a command recorded before: nothing new was written."""


@dataclass(frozen=True)
class DayOutcome:
    """A day command's outcome, with the day's event ids (the entries' ids)."""

    outcome: Outcome[Day]
    contracted_day_minutes: int

    @property
    def day(self) -> Day:
        return self.outcome.state

    @property
    def event_ids(self) -> tuple[UUID, ...]:
        return tuple(e.event_id for e in self.outcome.events)


class Timesheets:
    """The timesheet's command handlers."""

    def __init__(self, store: DayStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    # --- a practitioner's day --------------------------------------------------------------

    def log_hours(
        self,
        command: LogHours,
        practitioner: Practitioner,
        metadata: Metadata,
        idempotency: Idempotency | None,
    ) -> DayOutcome:
        return self._on_day(command, practitioner, metadata, idempotency)

    def correct_hours(
        self,
        command: CorrectHours,
        practitioner: Practitioner,
        metadata: Metadata,
        idempotency: Idempotency | None,
    ) -> DayOutcome:
        return self._on_day(command, practitioner, metadata, idempotency)

    def withdraw_hours(
        self,
        command: WithdrawHours,
        practitioner: Practitioner,
        metadata: Metadata,
        idempotency: Idempotency | None,
    ) -> DayOutcome:
        return self._on_day(command, practitioner, metadata, idempotency)

    def record_overtime(
        self,
        command: RecordOvertime,
        practitioner: Practitioner,
        metadata: Metadata,
        idempotency: Idempotency | None,
    ) -> DayOutcome:
        return self._on_day(command, practitioner, metadata, idempotency)

    def log_hours_together(
        self,
        commands: Sequence[tuple[LogHours, Idempotency]],
        practitioner: Practitioner,
        metadata: Metadata,
    ) -> list[bool | None]:
        """Many `log_hours` of one practitioner at once: their days read in one round trip,
        each day's commands decided in turn on what those before them decided, and all
        recorded in one `append_many`. For each command: True (recorded), False (its day
        held it already: nothing new), or None when it is not settled here and must run
        alone through `log_hours` (refused, or its day changed meanwhile, or its key was
        used before), which then gives the answer `log_hours` always gives.
        """
        by_day: dict[date, list[int]] = defaultdict(list)
        for index, (command, _) in enumerate(commands):
            by_day[command.day].append(index)
        streams = {day: day_stream(practitioner.practitioner_id, day) for day in by_day}
        earlier = self.store.read_streams(list(streams.values()))
        now = self.clock.now().astimezone(UK)
        settled: list[bool | None] = [None] * len(commands)
        appends: list[tuple[int, AppendTo]] = []
        for day, indexes in by_day.items():
            events = earlier.get(streams[day], [])
            state, version = _fold(DAY, events), len(events)
            ids = [e.event_id for e in events]
            for index in indexes:
                command, key = commands[index]
                try:
                    contracted = practitioner.contracted_day(day)
                    context = _day_context(practitioner, contracted, now, ids)
                    decided = DAY.decide(replace(command, context=context), state)
                except Refused:
                    continue  # alone, it is refused (or answered from its key) as ever
                if not decided:
                    settled[index] = False
                    continue
                new = [CATALOGUE.new_event(data, metadata) for data in decided]
                appends.append((index, AppendTo(streams[day], version, new, key)))
                state, version = DAY.fold(decided, state), version + len(new)
                ids += [e.event_id for e in new]
        results = self.store.append_many([a for _, a in appends]) if appends else []
        for (index, append), result in zip(appends, results, strict=True):
            fresh = not isinstance(result, Exception) and not _recorded_before(
                result, append.expected_version
            )
            settled[index] = True if fresh else None
        return settled

    def read_day(self, practitioner_id: str, day: date) -> tuple[Day, tuple[UUID, ...]]:
        """A day as its stream stands: the state and its event ids."""
        events = self.store.read_stream(day_stream(practitioner_id, day))
        return _fold(DAY, events), tuple(e.event_id for e in events)

    def _on_day(
        self,
        command: DayCommand,
        practitioner: Practitioner,
        metadata: Metadata,
        idempotency: Idempotency | None,
    ) -> DayOutcome:
        stream = day_stream(command.practitioner_id, command.day)
        contracted = practitioner.contracted_day(command.day)
        now = self.clock.now().astimezone(UK)
        earlier = self.store.read_stream(stream)
        context = _day_context(practitioner, contracted, now, [e.event_id for e in earlier])
        filled = replace(command, context=context)
        outcome = self._execute(DAY, stream, filled, earlier, metadata, idempotency)
        return DayOutcome(outcome, contracted)

    # --- leave -------------------------------------------------------------------------------

    def record_leave(
        self, command: RecordLeave, metadata: Metadata, idempotency: Idempotency | None
    ) -> Outcome[LeaveBook]:
        return self._leave(command, metadata, idempotency)

    def cancel_leave(
        self, command: CancelLeave, metadata: Metadata, idempotency: Idempotency | None
    ) -> Outcome[LeaveBook]:
        return self._leave(replace(command, today=self.clock.today()), metadata, idempotency)

    def read_leave(self, practitioner_id: str) -> LeaveBook:
        return _fold(LEAVE, self.store.read_stream(leave_stream(practitioner_id)))

    def _leave(
        self, command: LeaveCommand, metadata: Metadata, idempotency: Idempotency | None
    ) -> Outcome[LeaveBook]:
        stream = leave_stream(command.practitioner_id)
        earlier = self.store.read_stream(stream)
        return self._execute(LEAVE, stream, command, earlier, metadata, idempotency)

    # --- the 48-hour opt-out -----------------------------------------------------------------

    def change_opt_out(
        self,
        command: OptOutCommand,
        practitioner: Practitioner,
        metadata: Metadata,
        idempotency: Idempotency | None,
    ) -> Outcome[OptOut]:
        """Record or withdraw the opt-out (the command says which)."""
        filled = replace(
            command, by_practitioner=practitioner.by_practitioner, today=self.clock.today()
        )
        stream = working_time_stream(command.practitioner_id)
        earlier = self.store.read_stream(stream)
        return self._execute(WORKING_TIME, stream, filled, earlier, metadata, idempotency)

    # --- the one way every command runs ------------------------------------------------------

    def _execute(
        self,
        decider: Decider[Any, State],
        stream: str,
        command: Any,
        earlier: list[RecordedEvent],
        metadata: Metadata,
        idempotency: Idempotency | None,
    ) -> Outcome[State]:
        reading = _ReadOnce(self.store, stream, earlier)
        recorded = execute(reading, decider, stream, command, metadata, idempotency=idempotency)
        repeated = _recorded_before(recorded, len(earlier))
        events = earlier if repeated else [*earlier, *recorded]
        return Outcome(recorded, _fold(decider, events), events, repeated)


def _day_context(
    practitioner: Practitioner, contracted: int, now: datetime, event_ids: Sequence[UUID]
) -> DayContext:
    """What a day command is decided with: the UK date and time `now`, the contracted day,
    whether the practitioner acts themself, and the day's event ids."""
    return DayContext(
        today=now.date(),
        now=now.time(),
        contracted_day_minutes=contracted,
        by_practitioner=practitioner.by_practitioner,
        event_ids=tuple(event_ids),
    )


def _recorded_before(recorded: Sequence[RecordedEvent], version: int) -> bool:
    """Whether an append expected at `version` was answered with events already in the
    stream (its key's first recording) rather than written now."""
    return bool(recorded) and recorded[0].stream_version <= version


def _fold(decider: Decider[Any, State], events: Sequence[RecordedEvent]) -> State:
    return decider.fold(CATALOGUE.decode(e.type, e.version, e.data) for e in events)


class _ReadOnce:
    """The store, with one stream served as it was already read (see the module)."""

    def __init__(self, store: Store, stream_id: str, events: list[RecordedEvent]) -> None:
        self.store = store
        self.stream_id = stream_id
        self.events = events

    def read_stream(self, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        if stream_id != self.stream_id:
            return self.store.read_stream(stream_id, after_version)
        return self.events[after_version:]

    def read_streams(self, stream_ids: Sequence[str]) -> dict[str, list[RecordedEvent]]:
        return {stream_id: self.read_stream(stream_id) for stream_id in stream_ids}

    def append(
        self,
        stream_id: str,
        expected_version: int,
        events: Sequence[NewEvent],
        *,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        return self.store.append(stream_id, expected_version, events, idempotency=idempotency)

    def recorded_for(self, stream_id: str, idempotency: Idempotency) -> list[RecordedEvent] | None:
        return self.store.recorded_for(stream_id, idempotency)
