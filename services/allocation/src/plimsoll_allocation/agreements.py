"""Workload agreements from wellbeing: suspended work re-weighs the case here.

Wellbeing records the prioritising framework agreed in supervision
(`work-suspended`, `work-marked-not-to-be-done`, `work-resumed`); capacity is
worked out only here, so this consumer of `plimsoll.wellbeing` (a
`KafkaProjections` runner, consumer group
`projection-allocation-workload-agreements`) turns each into a command on the
case's stream:

* `work-suspended` / `work-marked-not-to-be-done` → `SuspendCaseWork`: the case
  counts 0 points (`case-weighting-changed`, cause `work-suspended` or
  `work-not-to-be-done`, citing the agreement), unless it is closed, held by
  someone else now or suspended already;
* `work-resumed` → `ResumeCaseWork`: weighed again under the scheme in force,
  if that agreement suspended it.

It is a process manager, not a read model: it writes nothing in its own
database transaction (the runner's, which holds only the checkpoint), and
records through the event store. So:

* redelivery is harmless: each command carries the idempotency key
  `wellbeing:<event id>` (a replay finds the first attempt's events), and the
  decisions record nothing a second time anyway;
* a failure is never dropped silently: a lost race is decided again
  (`contention.decided`), a stream that keeps changing or a database away is
  transient (the runner rolls back and retries the batch from its checkpoint),
  and an event at fault (a case allocation never heard of) is dead-lettered
  to `plimsoll.wellbeing.dlq` with the refusal as its reason;
* each recorded event's causation id is the wellbeing event's id and its
  trace the wellbeing event's; its correlation id is the wellbeing event's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final
from uuid import UUID

from plimsoll_events.catalogue import topic_for
from plimsoll_events.handling import Idempotency
from plimsoll_events.projection import Delivered
from plimsoll_events.records import Metadata
from plimsoll_events.types.wellbeing import WorkMarkedNotToBeDone, WorkResumed, WorkSuspended
from sqlalchemy import Connection

from plimsoll_allocation.domain import ResumeCaseWork, SuspendCaseWork, SuspensionKind
from plimsoll_allocation.handlers import Cases

NAME: Final = "allocation-workload-agreements"
ACTOR: Final = "system:workload-agreements"
"""The actor of what allocation records in answer to an agreement."""


def correlation_of(event: Delivered) -> UUID:
    """The wellbeing event's correlation (its own id for an event that carries none)."""
    return event.correlation_id or event.event_id


class WorkAgreements:
    """The consumer of wellbeing's workload agreements (see the module)."""

    def __init__(self, cases: Cases, *, topic: str | None = None, name: str = NAME) -> None:
        self.name = name  # the consumer group is `projection-<name>`: the ACLs allow allocation-*
        self.cases = cases
        self.topics: Sequence[str] = [topic or topic_for("wellbeing")]

    def create(self, conn: Connection) -> None:
        """No tables: the case streams are the state."""

    def drop(self, conn: Connection) -> None:
        """Nothing to drop."""

    def apply(self, conn: Connection, events: Sequence[Delivered]) -> None:
        for event in events:
            self.answer(event)

    def answer(self, event: Delivered) -> None:
        """The command a wellbeing event calls for, recorded (or nothing, for other types)."""
        data = event.data
        metadata = Metadata(
            actor=ACTOR,
            correlation_id=correlation_of(event),
            causation_id=event.event_id,
            traceparent=event.traceparent,
        )
        key = Idempotency(f"wellbeing:{event.event_id}")
        if isinstance(data, WorkSuspended | WorkMarkedNotToBeDone):
            kind: SuspensionKind = (
                "suspended" if isinstance(data, WorkSuspended) else "not-to-be-done"
            )
            command = SuspendCaseWork(data.case_id, data.agreement_id, data.practitioner_id, kind)
            self.cases.suspend_work(command, metadata, key)
        elif isinstance(data, WorkResumed):
            self.cases.resume_work(ResumeCaseWork(data.case_id, data.agreement_id), metadata, key)
