"""The time-driven work: declarations escalated at their deadline, agreements ended on time.

Two sweeps, each a scheduled job of the kit's `Jobs` (once per slot across replicas):

* `declaration-deadlines`: every declaration still unanswered (and not escalated) after its
  `answer_due_by` escalates to the head of service of the practitioner's region now, with a
  three-way meeting requested, actor `system:declaration-deadlines`;
* `workload-agreements`: every agreement in force whose `until` has passed, or whose case is
  known to have left the practitioner, ends (`work-resumed`), actor
  `system:workload-agreements`.

A deadline is a UK day, so a declaration due by a day escalates in the first slot of the
next UK day (slots every `every`, 15 minutes by default). Each escalation and resumption is
decided by its decider, which records nothing when nothing is due: a sweep run twice, on two
replicas, or at the same time as the on-demand trigger records each fact once (a lost race is
a `ConcurrencyError`, and the next sweep finds nothing left to do).

`run(now)` runs both sweeps as of `now`: what the jobs call, and what `POST /deadlines/run`
calls directly (not through the slot table, so that an `as_of` in the future, for a test or
the demo, never makes the scheduler skip the real slots to come).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, TypeVar

from plimsoll_events.records import Metadata, RecordedEvent
from plimsoll_events.store import ConcurrencyError
from plimsoll_platform.clock import uk_day
from plimsoll_platform.jobs import Job
from plimsoll_platform.placements import Placements

from plimsoll_wellbeing.domain.declaration import DEADLINES_ACTOR, EscalateOverdue
from plimsoll_wellbeing.domain.supervision import ResumeDueWork
from plimsoll_wellbeing.handlers import WellbeingHandlers
from plimsoll_wellbeing.queries import WellbeingQueries

log = logging.getLogger(__name__)

AGREEMENTS_ACTOR: Final = "system:workload-agreements"
C = TypeVar("C")


@dataclass
class SweepReport:
    """What one run of the sweeps recorded."""

    escalated: list[str] = field(default_factory=list)
    """Declarations escalated."""
    resumed: list[str] = field(default_factory=list)
    """Agreements ended."""


class Deadlines:
    """Both sweeps, and the jobs that run them."""

    def __init__(
        self,
        handlers: WellbeingHandlers,
        queries: WellbeingQueries,
        placements: Placements,
        *,
        every: timedelta = timedelta(minutes=15),
    ) -> None:
        self.handlers = handlers
        self.queries = queries
        self.placements = placements
        self.every = every

    def jobs(self) -> list[Job]:
        return [
            Job("declaration-deadlines", self.escalate_overdue, every=self.every),
            Job("workload-agreements", self.end_agreements, every=self.every),
        ]

    def run(self, now: datetime) -> SweepReport:
        report = SweepReport()
        self.escalate_overdue(now, report)
        self.end_agreements(now, report)
        return report

    def escalate_overdue(self, now: datetime, report: SweepReport | None = None) -> None:
        today = uk_day(now)
        metadata = Metadata(actor=DEADLINES_ACTOR, correlation_id=uuid.uuid4())
        for declaration_id, practitioner_id in self.queries.overdue_declarations(today):
            placement = self.placements.of(practitioner_id)
            command = EscalateOverdue(
                declaration_id, today, placement.region_id if placement else None
            )
            if _recorded(self.handlers.escalate_overdue, command, metadata):
                log.info("declaration escalated", extra={"declaration_id": declaration_id})
                if report is not None:
                    report.escalated.append(declaration_id)

    def end_agreements(self, now: datetime, report: SweepReport | None = None) -> None:
        today = uk_day(now)
        metadata = Metadata(actor=AGREEMENTS_ACTOR, correlation_id=uuid.uuid4())
        for practitioner_id, gone in sorted(self.queries.agreements_to_resume(today).items()):
            command = ResumeDueWork(practitioner_id, today, gone)
            recorded = _recorded(self.handlers.resume_due_work, command, metadata)
            if report is not None:
                report.resumed.extend(e.data["agreement_id"] for e in recorded)


def _recorded(
    handler: Callable[[C, Metadata], list[RecordedEvent]], command: C, metadata: Metadata
) -> list[RecordedEvent]:
    """What the handler recorded; nothing if another writer got there first (the next sweep
    decides again on what that writer recorded) or if it failed (logged: one record that
    cannot be settled must not hold up the others)."""
    try:
        return handler(command, metadata)
    except ConcurrencyError:
        return []
    except Exception:
        log.exception("a deadline sweep could not settle a record; it is tried again next time")
        return []
