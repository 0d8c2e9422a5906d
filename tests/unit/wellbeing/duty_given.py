"""Builders for the duty-of-care tests: a practitioner's events, folded with the times they were
recorded."""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5
from zoneinfo import ZoneInfo

from plimsoll_events.catalogue import EventData
from plimsoll_events.types.allocation import (
    CapacityChanged,
    PractitionerRegistered,
    TeamCapacityChanged,
)
from plimsoll_events.types.timesheet import HoursLogged
from plimsoll_wellbeing.domain.duty import DutyFacts, evolve, hours_by_day, hours_fact
from plimsoll_wellbeing.domain.policy import DEFAULT_POLICY

from .given import MANAGER, PRACTITIONER, REGION, TEAM

UK = ZoneInfo("Europe/London")
POLICY = DEFAULT_POLICY
START = date(2024, 9, 2)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """A UK wall-clock time on `day`, as an instant (UTC)."""
    return datetime.combine(day, time(hour, minute), tzinfo=UK).astimezone(UTC)


def registered(**overrides: Any) -> PractitionerRegistered:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "name": "Pat Practitioner",
        "grade": "PO",
        "team_id": TEAM,
        "region_id": REGION,
        "contracted_hours": Decimal(37),
        "line_manager_id": MANAGER,
        "start_date": START,
        **overrides,
    }
    return PractitionerRegistered(**fields)


def _figure(percent: str) -> dict[str, Any]:
    return {
        "total_points": int(Decimal(percent) * 20),
        "available_points": 2000,
        "capacity_percent": Decimal(percent),
        "above": [],
        "override_threshold_percent": Decimal(100),
        "hard_ceiling_percent": Decimal(120),
        "previous_total_points": None,
        "previous_available_points": None,
        "previous_capacity_percent": None,
        "cause_event_id": uuid4(),
        "cause_type": "case-allocated",
        "cause_position": 1,
    }


def capacity(percent: str, **overrides: Any) -> CapacityChanged:
    fields = {
        "practitioner_id": PRACTITIONER,
        "team_id": TEAM,
        "region_id": REGION,
        **_figure(percent),
        **overrides,
    }
    return CapacityChanged(**fields)


def team_capacity(percent: str, **overrides: Any) -> TeamCapacityChanged:
    fields = {
        "team_id": TEAM,
        "region_id": REGION,
        "practitioner_count": 8,
        **_figure(percent),
        **overrides,
    }
    return TeamCapacityChanged(**fields)


def logged(
    day: date,
    minutes: int,
    start: time | None = None,
    end: time | None = None,
    practitioner_id: str = PRACTITIONER,
) -> HoursLogged:
    return HoursLogged(
        practitioner_id=practitioner_id,
        day=day,
        minutes=minutes,
        category="casework",
        started_at=start,
        ended_at=end,
        note=None,
        on_behalf_reason=None,
    )


def fold(events: Iterable[tuple[EventData, datetime]], facts: DutyFacts | None = None) -> DutyFacts:
    facts = facts or DutyFacts(PRACTITIONER)
    for data, recorded in events:
        facts = evolve(facts, data, event_id(data, recorded), recorded)
    return facts


def event_id(data: EventData, recorded: datetime) -> UUID:
    """The same id for the same event, however often it is folded."""
    return uuid5(NAMESPACE_URL, f"{data.type}:{data.model_dump_json()}:{recorded.isoformat()}")


def days_of(events: Iterable[EventData]) -> dict[date, Any]:
    return hours_by_day(hours_fact(uuid4(), e) for e in events)
