"""The allocation service's command handlers: one method per command, each ending in `execute`.

A handler takes the command as the route built it, fills in what the sender
cannot know with `dataclasses.replace` (the scheme in force, today, the region
a team is in, the practitioner's facts and the agreed limits), and runs it with
`plimsoll_events.handling.execute`: one command object from the route to the
store. `Workforce` handles the practitioner commands, `Cases` the case
commands; `SchemeChanges` (in `schemes`) the weighting schemes'.

Allocating or reallocating to a practitioner holds their allocation lock
(`Caseload.allocating_to`) across catch-up, their points, their stream, the
decision and the append: two allocations to one person serialise, and the
second sees the first's points.
"""

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Protocol, TypeVar

from plimsoll_events.handling import Idempotency, Store, execute, execute_many, load
from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.store import ConcurrencyError
from plimsoll_events.types.allocation import AllocationOverrideRecorded
from plimsoll_platform.clock import Clock

from plimsoll_allocation.contention import decided
from plimsoll_allocation.domain import (
    CASE,
    DEFAULT_POLICY,
    PRACTITIONER,
    AllocateCase,
    AllocationPolicy,
    Case,
    CaseCommand,
    ChangeContractedHours,
    ChangeLineManager,
    ChangeStage,
    ChangeTier,
    CloseCase,
    EndReduction,
    ImpactPreview,
    KnownRegion,
    OpenCase,
    PractitionerCommand,
    PractitionerFacts,
    ReallocateCase,
    ReconcileReductions,
    RecordLeaving,
    RegisterPractitioner,
    ResumeCaseWork,
    Scheme,
    StartReduction,
    SuspendCaseWork,
    TransferPractitioner,
    assess_allocation,
    case_stream,
    practitioner_stream,
    scheme_for_case_type,
    scheme_for_grade,
)
from plimsoll_allocation.domain.calendar import CALENDAR, CALENDAR_STREAM, BeginDay
from plimsoll_allocation.domain.rules import nobody_to_allocate_to
from plimsoll_allocation.projections import Caseload
from plimsoll_allocation.queries import (
    case_region,
    practitioner_ids,
    read_case,
    read_practitioner,
    team_region,
    total_points,
)
from plimsoll_allocation.schemes import SchemeSource

log = logging.getLogger(__name__)

Allocation = TypeVar("Allocation", AllocateCase, ReallocateCase)


class TeamRegions(Protocol):
    """Where handlers find the region a team is in (None: nobody is placed in it yet)."""

    def team_region(self, team_id: str) -> str | None: ...


@dataclass(frozen=True)
class Workforce:
    """Handlers of the practitioner commands.

    `teams` tells registrations and transfers which region a team is in already
    (the caseload read model); without it (tools, unit tests) every team is new.
    """

    store: Store
    clock: Clock
    schemes: SchemeSource
    teams: TeamRegions | None = None

    def register_practitioner(
        self,
        command: RegisterPractitioner,
        metadata: Metadata,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        command = replace(
            command,
            scheme=scheme_for_grade(self.schemes.current(), command.grade),
            team_region=self._region_of(command.team_id),
        )
        return self._execute(command, metadata, idempotency)

    def change_contracted_hours(
        self, command: ChangeContractedHours, metadata: Metadata
    ) -> list[RecordedEvent]:
        return self._execute(command, metadata)

    def start_reduction(
        self,
        command: StartReduction,
        metadata: Metadata,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        # The scheme (its reduction reasons) is the practitioner's: their grade picks it.
        state, _ = load(self.store, PRACTITIONER, practitioner_stream(command.practitioner_id))
        scheme = None if state is None else scheme_for_grade(self.schemes.current(), state.grade)
        command = replace(command, today=self.clock.today(), scheme=scheme)
        return self._execute(command, metadata, idempotency)

    def end_reduction(self, command: EndReduction, metadata: Metadata) -> list[RecordedEvent]:
        return self._execute(replace(command, today=self.clock.today()), metadata)

    def transfer_practitioner(
        self, command: TransferPractitioner, metadata: Metadata
    ) -> list[RecordedEvent]:
        command = replace(command, team_region=self._region_of(command.team_id))
        return self._execute(command, metadata)

    def change_line_manager(
        self, command: ChangeLineManager, metadata: Metadata
    ) -> list[RecordedEvent]:
        return self._execute(replace(command, today=self.clock.today()), metadata)

    def record_leaving(self, command: RecordLeaving, metadata: Metadata) -> list[RecordedEvent]:
        return self._execute(command, metadata)

    def reconcile_reductions(self, practitioner_ids: Sequence[str], metadata: Metadata) -> int:
        """Record the reductions that started or ended by today; returns the events recorded.

        "Reductions become active and end as time passes, each change an event":
        reads apply them at once, and this records them. Run daily (see `main`);
        running it again records nothing, and a practitioner changed meanwhile by
        someone else is simply left for the next run.
        """
        today = self.clock.today()
        recorded = 0
        for practitioner_id in practitioner_ids:
            try:
                recorded += len(
                    self._execute(ReconcileReductions(practitioner_id, today), metadata)
                )
            except ConcurrencyError:
                continue
        return recorded

    def _region_of(self, team_id: str) -> KnownRegion:
        return KnownRegion(None if self.teams is None else self.teams.team_region(team_id))

    def _execute(
        self,
        command: PractitionerCommand,
        metadata: Metadata,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        stream = practitioner_stream(command.practitioner_id)
        return execute(self.store, PRACTITIONER, stream, command, metadata, idempotency=idempotency)


@dataclass(frozen=True)
class Allocated:
    """What an allocation or reallocation recorded, and what it did to capacity."""

    case: Case
    preview: ImpactPreview
    override_recorded: bool


@dataclass(frozen=True)
class Reconciled:
    """What a daily reconciliation did."""

    day: date
    """The UK day whose beginning it recorded (`calendar-day-began`)."""
    practitioners_examined: int
    events_recorded: int
    """reduction-started and reduction-ended recorded."""
    practitioners_moved: int
    """Read-model rows moved by the transfers that took effect."""


@dataclass(frozen=True)
class Cases:
    """Handlers of the case commands, and the daily reconciliation."""

    store: Store
    clock: Clock
    caseload: Caseload
    workforce: Workforce
    policy: AllocationPolicy = DEFAULT_POLICY

    def open_case(
        self, command: OpenCase, metadata: Metadata, idempotency: Idempotency | None = None
    ) -> list[RecordedEvent]:
        return self._execute(self._opening(command), metadata, idempotency)

    def allocate_case(self, command: AllocateCase, metadata: Metadata) -> Allocated:
        return self._allocate(command, metadata)

    def reallocate_case(self, command: ReallocateCase, metadata: Metadata) -> Allocated:
        # The scheme weighs a suspended case again as it moves.
        return self._allocate(replace(command, scheme=self._scheme_of(command.case_id)), metadata)

    def open_and_allocate(
        self,
        opening: OpenCase,
        allocation: AllocateCase,
        metadata: Metadata,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        """Open a case and allocate it in one append (onboarding a caseload): both or neither."""
        with self._allocating(allocation, case_team_id=opening.team_id) as allocation:
            commands: list[CaseCommand] = [self._opening(opening), allocation]
            stream = case_stream(opening.case_id)
            return execute_many(
                self.store, CASE, stream, commands, metadata, idempotency=idempotency
            )

    def change_tier(self, command: ChangeTier, metadata: Metadata) -> list[RecordedEvent]:
        return self._execute(replace(command, scheme=self._scheme_of(command.case_id)), metadata)

    def change_stage(self, command: ChangeStage, metadata: Metadata) -> list[RecordedEvent]:
        return self._execute(replace(command, scheme=self._scheme_of(command.case_id)), metadata)

    def close_case(self, command: CloseCase, metadata: Metadata) -> list[RecordedEvent]:
        return self._execute(command, metadata)

    def suspend_work(
        self, command: SuspendCaseWork, metadata: Metadata, idempotency: Idempotency | None = None
    ) -> list[RecordedEvent]:
        """Count a case for nothing while a workload agreement suspends it (see the domain);
        retried when the case changes meanwhile."""
        return decided(lambda: self._execute(command, metadata, idempotency))

    def resume_work(
        self, command: ResumeCaseWork, metadata: Metadata, idempotency: Idempotency | None = None
    ) -> list[RecordedEvent]:
        """Weigh a case again under the scheme in force when its suspension ends."""

        def resume() -> list[RecordedEvent]:
            filled = replace(command, scheme=self._scheme_of(command.case_id))
            return self._execute(filled, metadata, idempotency)

        return decided(resume)

    def reconcile(self, metadata: Metadata) -> Reconciled:
        """What the calendar brought, for everyone registered: the day begun
        (`calendar-day-began`: transfers and leavings recorded for it take effect in the
        figures), reductions starting and ending (`Workforce.reconcile_reductions`), and
        transfers taking effect in the read model (`Caseload.move_due_transfers`). Safe
        to run again: the day and each reduction are recorded once."""
        today = self.clock.today()
        decided(lambda: execute(self.store, CALENDAR, CALENDAR_STREAM, BeginDay(today), metadata))
        with self.caseload.reading() as conn:
            everyone = practitioner_ids(conn)
        recorded = self.workforce.reconcile_reductions(everyone, metadata)
        moved = self.caseload.move_due_transfers(today)
        done = Reconciled(today, len(everyone), recorded, moved)
        log.info("calendar reconciled", extra={**asdict(done), "day": today.isoformat()})
        return done

    def _opening(self, command: OpenCase) -> OpenCase:
        scheme = scheme_for_case_type(self.workforce.schemes.current(), command.profile.case_type)
        return replace(command, scheme=scheme, opened_on=command.opened_on or self.clock.today())

    def _scheme_of(self, case_id: str) -> Scheme | None:
        case = read_case(self.store, case_id)
        if case is None:
            return None  # the decision refuses the unknown case
        return scheme_for_case_type(self.workforce.schemes.current(), case.profile.case_type)

    def _allocate(self, command: Allocation, metadata: Metadata) -> Allocated:
        with self._allocating(command) as command:
            recorded = self._execute(command, metadata)
        case = read_case(self.store, command.case_id)
        assert case is not None  # just allocated
        assert command.practitioner is not None  # filled in by `_allocating`
        return Allocated(
            case=case,
            preview=assess_allocation(command.practitioner, case.points, self.policy).preview,
            override_recorded=any(e.type == AllocationOverrideRecorded.type for e in recorded),
        )

    @contextmanager
    def _allocating(
        self, command: Allocation, *, case_team_id: str | None = None
    ) -> Iterator[Allocation]:
        """Hold the practitioner's allocation lock, and the command with its context filled in.

        The region the case is held in is its team's (`case_team_id`, for a case
        being opened), else the read model's for the case.
        """
        practitioner_id = command.practitioner_id
        with self.caseload.allocating_to(practitioner_id) as conn:
            reading = read_practitioner(
                self.store,
                practitioner_id,
                self.workforce.schemes.current(),
                self.clock.today(),
            )
            if reading is None:
                raise nobody_to_allocate_to(command.actor, practitioner_id)
            points = total_points(conn, practitioner_id)
            region = (
                case_region(conn, command.case_id)
                if case_team_id is None
                else team_region(conn, case_team_id)
            )
            yield replace(
                command,
                practitioner=PractitionerFacts.of(reading.practitioner, reading.scheme, points),
                policy=self.policy,
                case_region=KnownRegion(region),
            )

    def _execute(
        self, command: CaseCommand, metadata: Metadata, idempotency: Idempotency | None = None
    ) -> list[RecordedEvent]:
        stream = case_stream(command.case_id)
        return execute(self.store, CASE, stream, command, metadata, idempotency=idempotency)
