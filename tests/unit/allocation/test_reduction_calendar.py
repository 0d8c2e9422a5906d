"""Reductions start and end as the days pass, each change recorded once (no I/O)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

from plimsoll_allocation.domain import RegisterPractitioner, StartReduction
from plimsoll_allocation.handlers import Workforce
from plimsoll_allocation.queries import read_practitioner
from plimsoll_allocation.schemes import FixedSchemes
from plimsoll_events.records import Metadata
from plimsoll_platform.clock import FixedClock

from unit.memory_store import MemoryStore

MANAGER = Metadata(actor="mo.manager", correlation_id=uuid4())
CALENDAR = Metadata(actor="system:reduction-calendar", correlation_id=uuid4())
MONDAY_NOON = datetime(2026, 11, 30, 12, tzinfo=UTC)
MONDAY = MONDAY_NOON.date()
DAY = timedelta(days=1)


def test_a_scheduled_reduction_is_recorded_when_it_starts_and_when_it_ends_once_each():
    store, clock = MemoryStore(), FixedClock(MONDAY_NOON)
    workforce = Workforce(store, clock, FixedSchemes())
    registration = RegisterPractitioner("P-1", "Pat", "PO", "T-1", "R-1", Decimal(37), MONDAY)
    workforce.register_practitioner(registration, MANAGER)
    reduction = StartReduction(
        "P-1",
        "R-1",
        "Long Term Sickness Absence",
        effective_from=MONDAY + DAY,
        effective_to=MONDAY + 2 * DAY,
        hours=Decimal("7.4"),
    )
    workforce.start_reduction(reduction, MANAGER)
    assert workforce.reconcile_reductions(["P-1"], CALENDAR) == 0  # not yet due

    clock.advance(DAY)
    assert workforce.reconcile_reductions(["P-1"], CALENDAR) == 1
    assert store.events[-1].type == "reduction-started"
    assert store.events[-1].metadata == CALENDAR
    assert workforce.reconcile_reductions(["P-1"], CALENDAR) == 0  # already recorded

    clock.advance(2 * DAY)
    assert workforce.reconcile_reductions(["P-1"], CALENDAR) == 1
    assert store.events[-1].type == "reduction-ended"
    reading = read_practitioner(store, "P-1", FixedSchemes().current(), clock.today())
    assert reading is not None
    assert reading.available_points == 2176
