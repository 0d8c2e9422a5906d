"""Builders for the allocation domain tests: the facts most tests start from."""

from datetime import date
from decimal import Decimal
from typing import Any

from plimsoll_allocation.domain import (
    DEFAULT_PROBATION_SCHEME,
    Actor,
    KnownRegion,
    PractitionerFacts,
    RegisterPractitioner,
    Scheme,
)
from plimsoll_events.types.allocation import CaseAllocated, CaseOpened, PractitionerRegistered

TODAY = date(2025, 3, 3)
TEAM = "T-NORTH-1"
REGION = "R-NORTH"

MANAGER = Actor("P-0100", frozenset({"manager"}), team_id=TEAM, region_id=REGION)
HEAD_OF_SERVICE = Actor("P-0200", frozenset({"head-of-service"}), team_id=TEAM, region_id=REGION)
PRACTITIONER_ACTOR = Actor("P-0001", frozenset({"practitioner"}), team_id=TEAM, region_id=REGION)


def register(scheme: Scheme = DEFAULT_PROBATION_SCHEME, **overrides: Any) -> RegisterPractitioner:
    """A 37-hour PO in T-NORTH-1, as a command."""
    fields: dict[str, Any] = {
        "practitioner_id": "P-0001",
        "name": "Pat Practitioner",
        "grade": "PO",
        "team_id": TEAM,
        "region_id": REGION,
        "contracted_hours": Decimal(37),
        "start_date": date(2024, 9, 2),
        "scheme": scheme,
        "line_manager_id": "P-0100",
        "team_region": KnownRegion(None),  # a team nobody is placed in yet
        **overrides,
    }
    return RegisterPractitioner(**fields)


def registered(**overrides: Any) -> PractitionerRegistered:
    """A 37-hour PO in T-NORTH-1, as the event."""
    fields: dict[str, Any] = {
        "practitioner_id": "P-0001",
        "name": "Pat Practitioner",
        "grade": "PO",
        "team_id": TEAM,
        "region_id": REGION,
        "contracted_hours": Decimal(37),
        "line_manager_id": "P-0100",
        "start_date": date(2024, 9, 2),
        **overrides,
    }
    return PractitionerRegistered(**fields)


def opened(**overrides: Any) -> CaseOpened:
    """A community C1 case (50 points) in T-NORTH-1."""
    fields: dict[str, Any] = {
        "case_id": "X777519",
        "team_id": TEAM,
        "case_type": "community",
        "tier": "C1",
        "t2a": False,
        "stage": None,
        "points": 50,
        "scheme_name": "wmt",
        "scheme_version": 1,
        "opened_on": TODAY,
        **overrides,
    }
    return CaseOpened(**fields)


def allocated(practitioner_id: str = "P-0001", **overrides: Any) -> CaseAllocated:
    """The case of `opened` allocated to `practitioner_id` by the manager."""
    fields: dict[str, Any] = {
        "practitioner_id": practitioner_id,
        "case_id": "X777519",
        "team_id": TEAM,
        "tier": "C1",
        "case_type": "community",
        "points": 50,
        "allocated_by": MANAGER.actor_id,
        "reason": "INITIAL_ALLOCATION",
        **overrides,
    }
    return CaseAllocated(**fields)


def facts(**overrides: Any) -> PractitionerFacts:
    """A full-time PO in T-NORTH-1 at 1000 of 2176 points (46.0%)."""
    fields: dict[str, Any] = {
        "practitioner_id": "P-0001",
        "team_id": TEAM,
        "region_id": REGION,
        "total_points": 1000,
        "available_points": 2176,
        **overrides,
    }
    return PractitionerFacts(**fields)
