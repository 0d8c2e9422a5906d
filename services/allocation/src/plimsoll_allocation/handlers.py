"""The allocation service's command handlers: one method per command, each one `execute`.

`Workforce` (practitioners) and `Cases` (cases, caseloads, capacity) hold
what the handlers need and the domain must not reach for itself: the event
store, the clock (`today`, in the service's time zone, injected by `main`),
the caseload read model and the weighting schemes in force. Until scheme
changes are served (a later slice) the schemes in force are the domain's
defaults; a practitioner's scheme is the first whose grade table has their
grade, a case's the Cafcass scheme that knows its case type, else probation's.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from plimsoll_events.handling import Store, execute, load
from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.types.allocation import (
    AllocationOverrideRecorded,
    CafcassWeightingScheme,
    ProbationWeightingScheme,
)

from plimsoll_allocation import projections
from plimsoll_allocation.domain import (
    CASE,
    DEFAULT_POLICY,
    DEFAULT_SCHEMES,
    PRACTITIONER,
    Actor,
    AllocateCase,
    AllocationAssessment,
    AllocationPolicy,
    Case,
    CaseCommand,
    CaseProfile,
    ChangeContractedHours,
    ChangeTier,
    CloseCase,
    EndReduction,
    ImpactPreview,
    InvalidValue,
    NotFound,
    OpenCase,
    Practitioner,
    PractitionerCommand,
    PractitionerFacts,
    ReallocateCase,
    ReconcileReductions,
    RecordLeaving,
    RegisterPractitioner,
    Scheme,
    StartReduction,
    Workload,
    assess_allocation,
    available_points_of,
    case_stream,
    practitioner_stream,
    scheme_for_grade,
)
from plimsoll_allocation.projections import Caseload, CaseRow, Member

Clock = Callable[[], date]
"""Today's date where the service works (the domain never reads a clock)."""


@dataclass(frozen=True)
class PractitionerReading:
    """A practitioner as their stream says today, with their capacity figures."""

    practitioner: Practitioner
    scheme: Scheme
    today: date
    available_points: int
    version: int


@dataclass(frozen=True)
class Workforce:
    """Handlers of the practitioner commands."""

    store: Store
    today: Clock
    schemes: Sequence[Scheme] = DEFAULT_SCHEMES

    def register_practitioner(
        self,
        *,
        practitioner_id: str,
        name: str,
        grade: str,
        team_id: str,
        region_id: str,
        contracted_hours: Decimal,
        start_date: date,
        line_manager_id: str | None,
        metadata: Metadata,
        idempotency_key: str | None = None,
    ) -> list[RecordedEvent]:
        command = RegisterPractitioner(
            practitioner_id=practitioner_id,
            name=name,
            grade=grade,
            team_id=team_id,
            region_id=region_id,
            contracted_hours=contracted_hours,
            start_date=start_date,
            scheme=scheme_for_grade(self.schemes, grade),
            line_manager_id=line_manager_id,
        )
        return self._execute(command, metadata, idempotency_key)

    def change_contracted_hours(
        self, practitioner_id: str, contracted_hours: Decimal, metadata: Metadata
    ) -> list[RecordedEvent]:
        return self._execute(ChangeContractedHours(practitioner_id, contracted_hours), metadata)

    def start_reduction(
        self,
        *,
        practitioner_id: str,
        reduction_id: str,
        reason: str,
        hours: Decimal | None,
        percent: Decimal | None,
        effective_from: date,
        effective_to: date | None,
        metadata: Metadata,
        idempotency_key: str | None = None,
    ) -> list[RecordedEvent]:
        # The scheme (its reduction reasons) is the practitioner's: their grade picks it.
        practitioner = self.read(practitioner_id).practitioner
        command = StartReduction(
            practitioner_id=practitioner_id,
            reduction_id=reduction_id,
            reason=reason,
            effective_from=effective_from,
            today=self.today(),
            scheme=scheme_for_grade(self.schemes, practitioner.grade),
            hours=hours,
            percent=percent,
            effective_to=effective_to,
        )
        return self._execute(command, metadata, idempotency_key)

    def end_reduction(
        self, practitioner_id: str, reduction_id: str, metadata: Metadata
    ) -> list[RecordedEvent]:
        return self._execute(EndReduction(practitioner_id, reduction_id, self.today()), metadata)

    def record_leaving(
        self, practitioner_id: str, leaving_date: date, metadata: Metadata
    ) -> list[RecordedEvent]:
        return self._execute(RecordLeaving(practitioner_id, leaving_date), metadata)

    def read(self, practitioner_id: str) -> PractitionerReading:
        """The practitioner today; `NotFound` when never registered.

        Reductions whose first or last day the calendar has reached since the
        last recorded change are applied here as `ReconcileReductions` would
        record them, without writing: a read never records anything.
        """
        state, version = load(self.store, PRACTITIONER, practitioner_stream(practitioner_id))
        if state is None:
            raise NotFound(f"no practitioner {practitioner_id!r}", field="practitioner_id")
        today = self.today()
        due = PRACTITIONER.decide(ReconcileReductions(practitioner_id, today), state)
        practitioner = PRACTITIONER.fold(due, state)
        assert practitioner is not None  # reconciling never unregisters anyone
        scheme = scheme_for_grade(self.schemes, practitioner.grade)
        return PractitionerReading(
            practitioner=practitioner,
            scheme=scheme,
            today=today,
            available_points=available_points_of(practitioner, scheme),
            version=version,
        )

    def _execute(
        self,
        command: PractitionerCommand,
        metadata: Metadata,
        idempotency_key: str | None = None,
    ) -> list[RecordedEvent]:
        return execute(
            self.store,
            PRACTITIONER,
            practitioner_stream(command.practitioner_id),
            command,
            metadata,
            idempotency_key=idempotency_key,
        )


# Cases.


def scheme_for_case_type(schemes: Sequence[Scheme], case_type: str) -> Scheme:
    """The scheme that weighs a case type: a Cafcass scheme knowing it, else probation's."""
    for scheme in schemes:
        if isinstance(scheme, CafcassWeightingScheme) and case_type in scheme.weekly_hours:
            return scheme
    for scheme in schemes:
        if isinstance(scheme, ProbationWeightingScheme):
            return scheme
    raise InvalidValue(f"no scheme weighs case type {case_type!r}", field="case_type")


def _scheme_named(schemes: Sequence[Scheme], name: str) -> Scheme:
    for scheme in schemes:
        if scheme.name == name:
            return scheme
    raise InvalidValue(f"the case's scheme {name!r} is not in force", field="case_id")


@dataclass(frozen=True)
class CaseReading:
    """A case as its stream says, and its stream's version."""

    case: Case
    version: int


@dataclass(frozen=True)
class Allocated:
    """What an allocation or reallocation recorded, and what it did to capacity."""

    case: Case
    preview: ImpactPreview
    override_recorded: bool


@dataclass(frozen=True)
class Cases:
    """Handlers of the case commands, and the caseload and capacity reads.

    Allocating or reallocating to a practitioner holds their allocation lock
    (`Caseload.allocating_to`) across catch-up, their points, their stream, the
    decision and the append: two allocations to one person serialise, and the
    second sees the first's points.
    """

    store: Store
    today: Clock
    caseload: Caseload
    workforce: Workforce
    schemes: Sequence[Scheme] = DEFAULT_SCHEMES
    policy: AllocationPolicy = DEFAULT_POLICY

    def open_case(
        self,
        *,
        case_id: str,
        team_id: str,
        profile: CaseProfile,
        opened_on: date | None,
        metadata: Metadata,
        idempotency_key: str | None = None,
    ) -> list[RecordedEvent]:
        command = OpenCase(
            case_id=case_id,
            team_id=team_id,
            profile=profile,
            scheme=scheme_for_case_type(self.schemes, profile.case_type),
            opened_on=opened_on or self.today(),
        )
        return self._execute(command, metadata, idempotency_key)

    def allocate_case(
        self,
        *,
        case_id: str,
        practitioner_id: str,
        actor: Actor,
        reason: str,
        override_reason: str | None,
        metadata: Metadata,
    ) -> Allocated:
        def command(facts: PractitionerFacts, actor: Actor) -> CaseCommand:
            return AllocateCase(
                case_id=case_id,
                practitioner=facts,
                actor=actor,
                reason=reason,
                override_reason=override_reason,
                policy=self.policy,
            )

        return self._allocate(case_id, practitioner_id, actor, command, metadata)

    def reallocate_case(
        self,
        *,
        case_id: str,
        practitioner_id: str,
        actor: Actor,
        reason: str,
        note: str | None,
        override_reason: str | None,
        metadata: Metadata,
    ) -> Allocated:
        def command(facts: PractitionerFacts, actor: Actor) -> CaseCommand:
            return ReallocateCase(
                case_id=case_id,
                practitioner=facts,
                actor=actor,
                reason=reason,
                note=note,
                override_reason=override_reason,
                policy=self.policy,
            )

        return self._allocate(case_id, practitioner_id, actor, command, metadata)

    def change_tier(self, case_id: str, tier: str | None, metadata: Metadata) -> None:
        case = self.read_case(case_id).case
        scheme = _scheme_named(self.schemes, case.scheme_name)
        self._execute(ChangeTier(case_id, tier, scheme), metadata)

    def close_case(self, case_id: str, closed_on: date, metadata: Metadata) -> None:
        self._execute(CloseCase(case_id, closed_on), metadata)

    def read_case(self, case_id: str) -> CaseReading:
        """The case; `NotFound` when never opened."""
        state, version = load(self.store, CASE, case_stream(case_id))
        if state is None:
            raise NotFound(f"no case {case_id!r}", field="case_id")
        return CaseReading(state, version)

    def caseload_of(self, practitioner_id: str) -> tuple[PractitionerReading, list[CaseRow]]:
        """The practitioner today and the open cases they carry."""
        reading = self.workforce.read(practitioner_id)
        with self.caseload.reading() as conn:
            return reading, projections.open_cases(conn, practitioner_id)

    def capacity_of(self, practitioner_id: str) -> tuple[PractitionerReading, Workload]:
        """The practitioner today, their points and available points."""
        reading = self.workforce.read(practitioner_id)
        with self.caseload.reading() as conn:
            total = projections.total_points(conn, practitioner_id)
        return reading, Workload(total, reading.available_points)

    def impact_of(self, practitioner_id: str, case_id: str) -> AllocationAssessment:
        """What giving the case to the practitioner would do to their capacity, and need."""
        case = self.read_case(case_id).case
        reading, workload = self.capacity_of(practitioner_id)
        facts = PractitionerFacts.of(reading.practitioner, reading.scheme, workload.total_points)
        return assess_allocation(facts, case.points, self.policy)

    def team_capacity(self, team_id: str) -> list[tuple[Member, Workload]]:
        """Each member of the team in post today, with their points and available points."""
        with self.caseload.reading() as conn:
            members = projections.team_members(conn, team_id, self.today())
        return [
            (member, Workload(member.total_points, self.workforce.read(m_id).available_points))
            for member in members
            for m_id in (member.practitioner_id,)
        ]

    def _allocate(
        self,
        case_id: str,
        practitioner_id: str,
        actor: Actor,
        command: Callable[[PractitionerFacts, Actor], CaseCommand],
        metadata: Metadata,
    ) -> Allocated:
        with self.caseload.allocating_to(practitioner_id) as conn:
            total = projections.total_points(conn, practitioner_id)
            reading = self.workforce.read(practitioner_id)
            facts = PractitionerFacts.of(reading.practitioner, reading.scheme, total)
            if actor.deciding_role == "head-of-service" and actor.region_id is None:
                # Tokens carry no region claim yet: a head of service acts in every region.
                actor = replace(actor, region_id=facts.region_id)
            recorded = self._execute(command(facts, actor), metadata)
        case = self.read_case(case_id).case
        return Allocated(
            case=case,
            preview=assess_allocation(facts, case.points, self.policy).preview,
            override_recorded=any(e.type == AllocationOverrideRecorded.type for e in recorded),
        )

    def _execute(
        self, command: CaseCommand, metadata: Metadata, idempotency_key: str | None = None
    ) -> list[RecordedEvent]:
        return execute(
            self.store,
            CASE,
            case_stream(command.case_id),
            command,
            metadata,
            idempotency_key=idempotency_key,
        )
