"""Stress risk assessments: given events, when a command, then events (or a refusal)."""

from datetime import date, timedelta
from typing import Any

import pytest
from plimsoll_events.types.wellbeing import StressRiskAssessmentRecorded
from plimsoll_wellbeing.domain.assessment import ASSESSMENTS, RecordAssessment
from plimsoll_wellbeing.domain.errors import AlreadyExists, InvalidValue, NotFound

from .given import PRACTITIONER, TODAY, pat

REVIEW_ON = date(2025, 6, 5)


def record(**overrides: Any) -> RecordAssessment:
    fields: dict[str, Any] = {
        "practitioner": pat(),
        "assessment_id": "RA-1",
        "assessed_on": TODAY,
        "assessed_by": "mo.manager",
        "risk_level": "medium",
        "outcome": "Travel and workload",
        "review_on": REVIEW_ON,
        "today": TODAY,
        "measures": ("Caseload capped at 95%",),
        **overrides,
    }
    return RecordAssessment(**fields)


def recorded(**overrides: Any) -> StressRiskAssessmentRecorded:
    fields: dict[str, Any] = {
        "practitioner_id": PRACTITIONER,
        "assessment_id": "RA-1",
        "assessed_on": TODAY,
        "assessed_by": "mo.manager",
        "risk_level": "medium",
        "outcome": "Travel and workload",
        "measures": ["Caseload capped at 95%"],
        "review_on": REVIEW_ON,
        "reviews": None,
        **overrides,
    }
    return StressRiskAssessmentRecorded(**fields)


def refused(command: RecordAssessment, history: list[Any], error: type[Exception], field: str):
    with pytest.raises(error) as raised:
        ASSESSMENTS.run(command, history)
    assert raised.value.field == field  # type: ignore[attr-defined]


def test_an_assessment_records_outcome_measures_and_when_a_review_is_due():
    assert ASSESSMENTS.run(record()) == [recorded()]


def test_a_review_is_a_new_assessment_of_an_earlier_one_of_theirs():
    review = record(
        assessment_id="RA-2",
        assessed_on=REVIEW_ON,
        today=REVIEW_ON,
        review_on=REVIEW_ON + timedelta(days=90),
        reviews="RA-1",
    )
    [event] = ASSESSMENTS.run(review, [recorded()])
    assert event.reviews == "RA-1"  # type: ignore[attr-defined]
    refused(record(assessment_id="RA-2", reviews="RA-9"), [recorded()], NotFound, "reviews")


def test_bad_days_and_repeated_ids_are_refused():
    refused(record(assessed_on=TODAY + timedelta(days=1)), [], InvalidValue, "assessed_on")
    refused(record(assessed_on=date(2024, 1, 1)), [], InvalidValue, "assessed_on")
    refused(record(review_on=TODAY), [], InvalidValue, "review_on")
    refused(record(), [recorded()], AlreadyExists, "assessment_id")
    refused(record(outcome=""), [], InvalidValue, "outcome")
