"""The allocation service's command handlers: one method per command, each one `execute`.

`Workforce` holds what the handlers need and the domain must not reach for
itself: the event store, the clock (`today`, in the service's time zone,
injected by `main`) and the weighting schemes in force. Until scheme changes
are served (a later slice) the schemes in force are the domain's defaults;
a practitioner's scheme is the first whose grade table has their grade.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from plimsoll_events.handling import Store, execute, load
from plimsoll_events.records import Metadata, RecordedEvent

from plimsoll_allocation.domain import (
    DEFAULT_SCHEMES,
    PRACTITIONER,
    ChangeContractedHours,
    EndReduction,
    NotFound,
    Practitioner,
    PractitionerCommand,
    ReconcileReductions,
    RecordLeaving,
    RegisterPractitioner,
    Scheme,
    StartReduction,
    available_points_of,
    practitioner_stream,
    scheme_for_grade,
)

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
