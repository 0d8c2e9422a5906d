"""Reductions start and end as the days pass, each change recorded once (no I/O)."""

from datetime import date, timedelta
from decimal import Decimal
from uuid import uuid4

from plimsoll_allocation.handlers import FixedSchemes, Workforce
from plimsoll_events.records import Metadata

from unit.memory_store import MemoryStore

MANAGER = Metadata(actor="mo.manager", correlation_id=uuid4())
CALENDAR = Metadata(actor="system:reduction-calendar", correlation_id=uuid4())
MONDAY = date(2026, 11, 30)


class Calendar:
    def __init__(self, today: date) -> None:
        self.day = today

    def __call__(self) -> date:
        return self.day


def test_a_scheduled_reduction_is_recorded_when_it_starts_and_when_it_ends_once_each():
    store, calendar = MemoryStore(), Calendar(MONDAY)
    workforce = Workforce(store=store, today=calendar, scheme_source=FixedSchemes())
    workforce.register_practitioner(
        practitioner_id="P-1",
        name="Pat",
        grade="PO",
        team_id="T-1",
        region_id="R-1",
        contracted_hours=Decimal(37),
        start_date=MONDAY,
        line_manager_id=None,
        metadata=MANAGER,
    )
    workforce.start_reduction(
        practitioner_id="P-1",
        reduction_id="R-1",
        reason="Long Term Sickness Absence",
        hours=Decimal("7.4"),
        percent=None,
        effective_from=MONDAY + timedelta(days=1),
        effective_to=MONDAY + timedelta(days=2),
        metadata=MANAGER,
    )
    assert workforce.reconcile_reductions(["P-1"], CALENDAR) == 0  # not yet due

    calendar.day = MONDAY + timedelta(days=1)
    assert workforce.reconcile_reductions(["P-1"], CALENDAR) == 1
    assert store.events[-1].type == "reduction-started"
    assert store.events[-1].metadata == CALENDAR
    assert workforce.reconcile_reductions(["P-1"], CALENDAR) == 0  # already recorded

    calendar.day = MONDAY + timedelta(days=3)
    assert workforce.reconcile_reductions(["P-1"], CALENDAR) == 1
    assert store.events[-1].type == "reduction-ended"
    assert workforce.read("P-1").available_points == 2176
