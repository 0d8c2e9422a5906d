"""Builders for the wellbeing domain tests: the facts most tests start from."""

from datetime import date
from typing import Any

from plimsoll_events.types.wellbeing import (
    DeclarationAnswered,
    DeclarationEscalated,
    SupervisionHeld,
    SupervisionScheduled,
    WorkloadDeclared,
    WorkSuspended,
)
from plimsoll_wellbeing.domain.facts import PractitionerFacts

TODAY = date(2025, 3, 5)  # a Wednesday
TEAM, REGION = "T-NORTH-1", "R-NORTH"
PRACTITIONER = "P-0001"
MANAGER = "P-0100"


def pat(**overrides: Any) -> PractitionerFacts:
    """A practitioner in T-NORTH-1 since September 2024, managed by P-0100."""
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "team_id": TEAM,
        "region_id": REGION,
        "line_manager_id": MANAGER,
        "start_date": date(2024, 9, 2),
        "leaving_date": None,
        **overrides,
    }
    return PractitionerFacts(**fields)


def scheduled(supervision_id: str = "S-1", **overrides: Any) -> SupervisionScheduled:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "supervision_id": supervision_id,
        "supervisor_id": MANAGER,
        "scheduled_for": TODAY,
        "supervisor_reason": None,
        **overrides,
    }
    return SupervisionScheduled(**fields)


def held(supervision_id: str = "S-1", **overrides: Any) -> SupervisionHeld:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "supervision_id": supervision_id,
        "supervisor_id": MANAGER,
        "line_manager_id": MANAGER,
        "held_on": TODAY,
        "duration_minutes": 60,
        "workload_reviewed": True,
        "wellbeing_discussed": True,
        "agreed_actions": [],
        "supervisor_reason": None,
        **overrides,
    }
    return SupervisionHeld(**fields)


def suspended(agreement_id: str = "A-1", case_id: str = "X1", **overrides: Any) -> WorkSuspended:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "agreement_id": agreement_id,
        "case_id": case_id,
        "supervision_id": "S-1",
        "reason": "In custody",
        "court_or_partner_must_be_told": True,
        "agreed_on": TODAY,
        "until": None,
        **overrides,
    }
    return WorkSuspended(**fields)


def declared(**overrides: Any) -> WorkloadDeclared:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "declaration_id": "D-1",
        "team_id": TEAM,
        "region_id": REGION,
        "line_manager_id": MANAGER,
        "what_is_unsafe": "Too many high-risk cases",
        "case_ids": [],
        "tasks": [],
        "details": None,
        "declared_on": TODAY,
        "answer_due_by": date(2025, 3, 12),
        "answer_within_working_days": 5,
        "policy_version": 1,
        **overrides,
    }
    return WorkloadDeclared(**fields)


def answered(**overrides: Any) -> DeclarationAnswered:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "declaration_id": "D-1",
        "answered_by": "mo.manager",
        "answered_on": TODAY,
        "response": "actions-agreed",
        "actions": ["Reallocate X1"],
        "reasons": None,
        **overrides,
    }
    return DeclarationAnswered(**fields)


def escalated(**overrides: Any) -> DeclarationEscalated:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "declaration_id": "D-1",
        "escalated_to": "head-of-service",
        "region_id": REGION,
        "three_way_meeting_requested": True,
        "because": "deadline-missed",
        "answer_due_by": date(2025, 3, 12),
        "escalated_on": date(2025, 3, 13),
        **overrides,
    }
    return DeclarationEscalated(**fields)
