"""The allocation service's command handlers: one method per command, each one `execute`.

`Workforce` (practitioners) and `Cases` (cases, caseloads, capacity) hold
what the handlers need and the domain must not reach for itself: the event
store, the clock (`today`, in the service's time zone, injected by `main`),
the caseload read model and the weighting schemes in force.

The schemes in force are served from their streams (`SchemesInForce`, one
stream per kind, cached by stream version): the domain default until a
`weighting-scheme-changed` is recorded. A practitioner's scheme is the first
whose grade table has their grade, a case's the Cafcass scheme that knows its
case type, else probation's. `Cases.change_scheme` records a new version and
re-weighs every open case weighed under it, one `ReweighCase` (one append) per
case.
"""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.handling import Idempotency, Store, execute, load, load_many
from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.store import ConcurrencyError
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
    WEIGHTING_SCHEME,
    Actor,
    AllocateCase,
    AllocationAssessment,
    AllocationPolicy,
    AllocationRefused,
    Case,
    CaseCommand,
    CaseProfile,
    ChangeContractedHours,
    ChangeStage,
    ChangeTier,
    ChangeWeightingScheme,
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
    ReweighCase,
    Scheme,
    StaleSchemeVersion,
    StartReduction,
    Workload,
    assess_allocation,
    available_points_of,
    case_points,
    case_stream,
    practitioner_stream,
    scheme_for_grade,
    scheme_stream,
)
from plimsoll_allocation.domain.weighting import COURT_REPORT_CASE_TYPES, PROBATION_CASE_TYPES
from plimsoll_allocation.projections import Caseload, CaseRow, Member

Clock = Callable[[], date]
"""Today's date where the service works (the domain never reads a clock)."""


# Weighting schemes in force.


class SchemeSource(Protocol):
    """Where handlers find the weighting schemes in force."""

    def current(self) -> tuple[Scheme, ...]: ...

    def in_force(self, kind: str) -> tuple[Scheme, int]: ...


@dataclass(frozen=True)
class FixedSchemes:
    """Schemes that never change (the domain's defaults): for tests and tools."""

    schemes: tuple[Scheme, ...] = DEFAULT_SCHEMES

    def current(self) -> tuple[Scheme, ...]:
        return self.schemes

    def in_force(self, kind: str) -> tuple[Scheme, int]:
        for scheme in self.schemes:
            if scheme.kind == kind:
                return scheme, 0
        raise NotFound(f"no weighting scheme kind {kind!r}", field="kind")


class SchemesInForce:
    """The scheme of each kind in force, from its stream; the default until one is recorded.

    Cached by stream version: a read fetches only the events after the cached
    version (none, almost always), so every request sees the latest change.
    """

    def __init__(self, store: Store, defaults: tuple[Scheme, ...] = DEFAULT_SCHEMES) -> None:
        self.store = store
        self.defaults = defaults
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[Scheme, int]] = {s.kind: (s, 0) for s in defaults}

    def in_force(self, kind: str) -> tuple[Scheme, int]:
        """The scheme of a kind in force and its stream's version (0: the default)."""
        with self._lock:
            cached = self._cache.get(kind)
        if cached is None:
            known = ", ".join(sorted(self._cache))
            raise NotFound(f"no weighting scheme kind {kind!r}; one of {known}", field="kind")
        scheme, version = cached
        newer = self.store.read_stream(scheme_stream(kind), after_version=version)
        if not newer:
            return scheme, version
        state = WEIGHTING_SCHEME.fold(
            (CATALOGUE.decode(e.type, e.version, e.data) for e in newer), scheme
        )
        assert state is not None  # a stream's events only ever bring a scheme into force
        latest = (state, newer[-1].stream_version)
        with self._lock:
            if latest[1] > self._cache[kind][1]:
                self._cache[kind] = latest
        return latest

    def current(self) -> tuple[Scheme, ...]:
        return tuple(self.in_force(default.kind)[0] for default in self.defaults)


@dataclass(frozen=True)
class PractitionerReading:
    """A practitioner as their stream says today, with their capacity figures."""

    practitioner: Practitioner
    scheme: Scheme
    today: date
    available_points: int
    version: int


class TeamRegions(Protocol):
    """Where handlers find the region a team is in (None: nobody registered in it yet)."""

    def team_region(self, team_id: str) -> str | None: ...


@dataclass(frozen=True)
class Workforce:
    """Handlers of the practitioner commands.

    `teams` tells registration which region a team is in already (the caseload
    read model); without it (tools, unit tests) every team counts as new.
    """

    store: Store
    today: Clock
    scheme_source: SchemeSource = FixedSchemes()
    teams: TeamRegions | None = None

    @property
    def schemes(self) -> tuple[Scheme, ...]:
        """The schemes in force now."""
        return self.scheme_source.current()

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
        idempotency: Idempotency | None = None,
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
            team_region_id=None if self.teams is None else self.teams.team_region(team_id),
        )
        return self._execute(command, metadata, idempotency)

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
        idempotency: Idempotency | None = None,
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
        return self._execute(command, metadata, idempotency)

    def end_reduction(
        self, practitioner_id: str, reduction_id: str, metadata: Metadata
    ) -> list[RecordedEvent]:
        return self._execute(EndReduction(practitioner_id, reduction_id, self.today()), metadata)

    def record_leaving(
        self, practitioner_id: str, leaving_date: date, metadata: Metadata
    ) -> list[RecordedEvent]:
        return self._execute(RecordLeaving(practitioner_id, leaving_date), metadata)

    def read(
        self, practitioner_id: str, schemes: tuple[Scheme, ...] | None = None
    ) -> PractitionerReading:
        """The practitioner today; `NotFound` when never registered.

        Reductions whose first or last day the calendar has reached since the
        last recorded change are applied here as `ReconcileReductions` would
        record them, without writing: a read never records anything.
        """
        state, version = load(self.store, PRACTITIONER, practitioner_stream(practitioner_id))
        if state is None:
            raise NotFound(f"no practitioner {practitioner_id!r}", field="practitioner_id")
        return self._reading(state, version, self.schemes if schemes is None else schemes)

    def read_many(
        self, practitioner_ids: Sequence[str], schemes: tuple[Scheme, ...]
    ) -> dict[str, PractitionerReading]:
        """`read` for several practitioners (a team), their streams read in one query."""
        streams = [practitioner_stream(p) for p in practitioner_ids]
        loaded = load_many(self.store, PRACTITIONER, streams)
        readings = {}
        for practitioner_id, stream in zip(practitioner_ids, streams, strict=True):
            state, version = loaded[stream]
            if state is None:
                raise NotFound(f"no practitioner {practitioner_id!r}", field="practitioner_id")
            readings[practitioner_id] = self._reading(state, version, schemes)
        return readings

    def _reading(
        self, state: Practitioner, version: int, schemes: tuple[Scheme, ...]
    ) -> PractitionerReading:
        today = self.today()
        due = PRACTITIONER.decide(ReconcileReductions(state.practitioner_id, today), state)
        practitioner = PRACTITIONER.fold(due, state)
        assert practitioner is not None  # reconciling never unregisters anyone
        scheme = scheme_for_grade(schemes, practitioner.grade)
        return PractitionerReading(
            practitioner=practitioner,
            scheme=scheme,
            today=today,
            available_points=available_points_of(practitioner, scheme),
            version=version,
        )

    def reconcile_reductions(self, practitioner_ids: Sequence[str], metadata: Metadata) -> int:
        """Record the reductions that started or ended by today; returns the events recorded.

        "Reductions become active and end as time passes, each change an event":
        reads apply them at once, and this records them. Run daily (see `main`);
        running it again records nothing, and a practitioner changed meanwhile by
        someone else is simply left for the next run.
        """
        today = self.today()
        recorded = 0
        for practitioner_id in practitioner_ids:
            try:
                recorded += len(
                    self._execute(ReconcileReductions(practitioner_id, today), metadata)
                )
            except ConcurrencyError:
                continue
        return recorded

    def _execute(
        self,
        command: PractitionerCommand,
        metadata: Metadata,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        return execute(
            self.store,
            PRACTITIONER,
            practitioner_stream(command.practitioner_id),
            command,
            metadata,
            idempotency=idempotency,
        )


# Cases.


def scheme_for_case_type(schemes: tuple[Scheme, ...], case_type: str) -> Scheme:
    """The scheme that weighs a case type: a Cafcass scheme knowing it, else probation's."""
    for scheme in schemes:
        if isinstance(scheme, CafcassWeightingScheme) and case_type in scheme.weekly_hours:
            return scheme
    for scheme in schemes:
        if isinstance(scheme, ProbationWeightingScheme):
            return scheme
    raise InvalidValue(f"no scheme weighs case type {case_type!r}", field="case_type")


def weighs(scheme: Scheme, case_type: str) -> bool:
    """Whether cases of a type are weighed under schemes of this scheme's kind."""
    is_probation = case_type in PROBATION_CASE_TYPES or case_type in COURT_REPORT_CASE_TYPES
    return is_probation == (scheme.kind == "probation")


def may_weigh_differently(previous: Scheme, scheme: Scheme, row: CaseRow) -> bool:
    """Whether the new version may weigh a read-model case otherwise than its points say.

    The read model does not hold the T2A flag, so a tiered probation case is
    taken as whichever of T2A or not the previous version gives its points; a
    case neither explains (weighed under an older version) is a candidate too.
    `ReweighCase` decides exactly; this only spares appends that change nothing.
    """
    variants = [CaseProfile(row.case_type, row.tier, False, row.stage)]
    if row.case_type in PROBATION_CASE_TYPES and row.tier is not None:
        variants.append(CaseProfile(row.case_type, row.tier, True, row.stage))
    explained = False
    for profile in variants:
        try:
            if case_points(previous, profile) != row.points:
                continue
            explained = True
            if case_points(scheme, profile) != row.points:
                return True
        except AllocationRefused:
            return True
    return not explained


@dataclass(frozen=True)
class SchemeChanged:
    """A scheme version recorded, and what re-weighing the open cases under it did."""

    scheme: Scheme
    cases_examined: int
    cases_reweighed: int
    cases_refused: list[str]


@dataclass(frozen=True)
class CaseReading:
    """A case as its stream says, and its stream's version."""

    case: Case
    version: int


@dataclass(frozen=True)
class TeamCapacity:
    """A team's region (None: nobody registered in it yet) and its members' workloads."""

    region_id: str | None
    members: list[tuple[Member, Workload]]


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
    policy: AllocationPolicy = DEFAULT_POLICY

    @property
    def schemes(self) -> tuple[Scheme, ...]:
        """The schemes in force now (the workforce's source)."""
        return self.workforce.schemes

    def change_scheme(
        self, kind: str, scheme: Scheme, *, changed_by: str, reason: str | None, metadata: Metadata
    ) -> SchemeChanged:
        """Record a new version of the kind's scheme, then re-weigh every open case under it.

        The version must be the one in force plus one (the default counts as in
        force before the stream's first event), else `StaleSchemeVersion`. Each
        re-weighing is its own `ReweighCase`, one append per case; a case the new
        version cannot weigh (a stage it dropped) is refused and keeps its points.
        """
        if scheme.kind != kind:
            raise InvalidValue(f"this is the {kind} scheme, not {scheme.kind}", field="kind")
        in_force, _ = self.workforce.scheme_source.in_force(kind)
        if scheme.version != in_force.version + 1:
            raise StaleSchemeVersion(
                f"version {in_force.version} is in force; the next version is "
                f"{in_force.version + 1}",
                field="version",
            )
        execute(
            self.store,
            WEIGHTING_SCHEME,
            scheme_stream(kind),
            ChangeWeightingScheme(scheme=scheme, changed_by=changed_by, reason=reason),
            metadata,
        )
        with self.caseload.reading() as conn:
            rows = projections.all_open_cases(conn)
        examined = reweighed = 0
        refused: list[str] = []
        for row in rows:
            if not weighs(scheme, row.case_type):
                continue
            if not may_weigh_differently(in_force, scheme, row):
                continue
            examined += 1
            try:
                reweighed += bool(self._reweigh(row.case_id, scheme, metadata))
            except AllocationRefused:
                refused.append(row.case_id)
        return SchemeChanged(scheme, examined, reweighed, refused)

    def _reweigh(self, case_id: str, scheme: Scheme, metadata: Metadata) -> list[RecordedEvent]:
        for _ in range(3):
            try:
                return self._execute(ReweighCase(case_id, scheme), metadata)
            except ConcurrencyError:
                continue  # the case changed meanwhile: decide again on what it is now
        return self._execute(ReweighCase(case_id, scheme), metadata)

    def open_case(
        self,
        *,
        case_id: str,
        team_id: str,
        profile: CaseProfile,
        opened_on: date | None,
        metadata: Metadata,
        idempotency: Idempotency | None = None,
    ) -> list[RecordedEvent]:
        command = OpenCase(
            case_id=case_id,
            team_id=team_id,
            profile=profile,
            scheme=scheme_for_case_type(self.schemes, profile.case_type),
            opened_on=opened_on or self.today(),
        )
        return self._execute(command, metadata, idempotency)

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
        def command(facts: PractitionerFacts, case_region_id: str | None) -> CaseCommand:
            return AllocateCase(
                case_id=case_id,
                practitioner=facts,
                actor=actor,
                reason=reason,
                override_reason=override_reason,
                policy=self.policy,
                case_region_id=case_region_id,
            )

        return self._allocate(case_id, practitioner_id, command, metadata)

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
        def command(facts: PractitionerFacts, case_region_id: str | None) -> CaseCommand:
            return ReallocateCase(
                case_id=case_id,
                practitioner=facts,
                actor=actor,
                reason=reason,
                note=note,
                override_reason=override_reason,
                policy=self.policy,
                case_region_id=case_region_id,
            )

        return self._allocate(case_id, practitioner_id, command, metadata)

    def change_tier(self, case_id: str, tier: str | None, metadata: Metadata) -> None:
        case = self.read_case(case_id).case
        scheme = scheme_for_case_type(self.schemes, case.profile.case_type)
        self._execute(ChangeTier(case_id, tier, scheme), metadata)

    def change_stage(self, case_id: str, stage: str, metadata: Metadata) -> None:
        case = self.read_case(case_id).case
        scheme = scheme_for_case_type(self.schemes, case.profile.case_type)
        self._execute(ChangeStage(case_id, stage, scheme), metadata)

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

    def impact_of(self, reading: PractitionerReading, case_id: str) -> AllocationAssessment:
        """What giving the case to the practitioner read would do to their capacity, and need."""
        case = self.read_case(case_id).case
        practitioner = reading.practitioner
        with self.caseload.reading() as conn:
            total = projections.total_points(conn, practitioner.practitioner_id)
        facts = PractitionerFacts.of(practitioner, reading.scheme, total)
        return assess_allocation(facts, case.points, self.policy)

    def reconcile_reductions(self, metadata: Metadata) -> tuple[int, int]:
        """`Workforce.reconcile_reductions` for everyone registered: (examined, recorded)."""
        with self.caseload.reading() as conn:
            everyone = projections.practitioner_ids(conn)
        return len(everyone), self.workforce.reconcile_reductions(everyone, metadata)

    def team_capacity(self, team_id: str) -> TeamCapacity:
        """The team's region, and each member in post today with their workload."""
        with self.caseload.reading() as conn:
            region_id = projections.team_region(conn, team_id)
            members = projections.team_members(conn, team_id, self.today())
        return TeamCapacity(region_id, self._workloads(members))

    def region_capacity(self, region_id: str) -> list[tuple[Member, Workload]]:
        """Each practitioner of the region in post today, with their team and workload."""
        with self.caseload.reading() as conn:
            members = projections.region_members(conn, region_id, self.today())
        return self._workloads(members)

    def overrides(
        self, *, since: date | None, team_id: str | None, region_id: str | None
    ) -> list[projections.OverrideRow]:
        """The recorded allocation overrides, newest first."""
        with self.caseload.reading() as conn:
            return projections.overrides(conn, since=since, team_id=team_id, region_id=region_id)

    def _workloads(self, members: list[Member]) -> list[tuple[Member, Workload]]:
        readings = self.workforce.read_many([m.practitioner_id for m in members], self.schemes)
        return [
            (
                member,
                Workload(member.total_points, readings[member.practitioner_id].available_points),
            )
            for member in members
        ]

    def _allocate(
        self,
        case_id: str,
        practitioner_id: str,
        command: Callable[[PractitionerFacts, str | None], CaseCommand],
        metadata: Metadata,
    ) -> Allocated:
        with self.caseload.allocating_to(practitioner_id) as conn:
            total = projections.total_points(conn, practitioner_id)
            reading = self.workforce.read(practitioner_id)
            facts = PractitionerFacts.of(reading.practitioner, reading.scheme, total)
            case_region = projections.case_region(conn, case_id)
            recorded = self._execute(command(facts, case_region), metadata)
        case = self.read_case(case_id).case
        return Allocated(
            case=case,
            preview=assess_allocation(facts, case.points, self.policy).preview,
            override_recorded=any(e.type == AllocationOverrideRecorded.type for e in recorded),
        )

    def _execute(
        self, command: CaseCommand, metadata: Metadata, idempotency: Idempotency | None = None
    ) -> list[RecordedEvent]:
        return execute(
            self.store,
            CASE,
            case_stream(command.case_id),
            command,
            metadata,
            idempotency=idempotency,
        )
