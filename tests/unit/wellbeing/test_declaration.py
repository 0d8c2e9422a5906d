"""Unsafe-workload declarations: given events, when a command, then events (or a refusal)."""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from plimsoll_events.types.wellbeing import (
    DeclarationClosed,
    DeclarationEscalated,
    ThreeWayMeetingHeld,
)
from plimsoll_wellbeing.domain.declaration import (
    DECLARATION,
    AcceptAnswer,
    Answer,
    Declare,
    EscalateOverdue,
    EscalateUnaccepted,
    HoldThreeWayMeeting,
)
from plimsoll_wellbeing.domain.errors import (
    AlreadyAnswered,
    AlreadyEscalated,
    AlreadyExists,
    DeclarationIsClosed,
    InvalidValue,
    NotAnswered,
    NotEscalated,
    NotFound,
    NotPermitted,
)

from .given import MANAGER, PRACTITIONER, REGION, TODAY, answered, declared, escalated, pat

DAY = timedelta(days=1)


def declare(**overrides: Any) -> Declare:
    fields: dict[str, Any] = {
        "declaration_id": "D-1",
        "practitioner": pat(),
        "what_is_unsafe": "Too many high-risk cases",
        "today": TODAY,
        "answer_within_working_days": 5,
        "policy_version": 1,
        **overrides,
    }
    return Declare(**fields)


def answer(**overrides: Any) -> Answer:
    fields: dict[str, Any] = {
        "declaration_id": "D-1",
        "answered_by": "mo.manager",
        "answered_by_practitioner_id": MANAGER,
        "response": "actions-agreed",
        "today": TODAY,
        "actions": ("Reallocate X1",),
        **overrides,
    }
    return Answer(**fields)


def meeting(**overrides: Any) -> HoldThreeWayMeeting:
    fields: dict[str, Any] = {
        "declaration_id": "D-1",
        "head_of_service": "hana.head",
        "held_on": date(2025, 3, 14),
        "outcome": "actions-agreed",
        "notes": "Two cases reallocated",
        "today": date(2025, 3, 14),
        "actions": ("Reallocate X1 and X2",),
        **overrides,
    }
    return HoldThreeWayMeeting(**fields)


def refused(command: Any, history: list[Any], error: type[Exception], field: str) -> None:
    with pytest.raises(error) as raised:
        DECLARATION.run(command, history)
    assert raised.value.field == field  # type: ignore[attr-defined]


def test_a_declaration_is_due_an_answer_within_the_policys_working_days():
    # Wednesday 5 March 2025 + 5 working days = Wednesday 12 March.
    assert DECLARATION.run(declare()) == [declared()]


def test_the_deadline_skips_bank_holidays_of_england_and_wales():
    # Thursday 17 April 2025: Good Friday (18th) and Easter Monday (21st) do not count.
    [event] = DECLARATION.run(declare(today=date(2025, 4, 17), answer_within_working_days=2))
    assert event.answer_due_by == date(2025, 4, 23)  # type: ignore[attr-defined]


def test_a_declaration_names_cases_tasks_and_may_say_more():
    [event] = DECLARATION.run(
        declare(case_ids=("X1", "X2"), tasks=("PSR for Thursday",), details="Since January")
    )
    assert event == declared(
        case_ids=["X1", "X2"], tasks=["PSR for Thursday"], details="Since January"
    )


def test_a_declaration_says_what_is_unsafe_and_is_made_once():
    refused(declare(what_is_unsafe=" "), [], InvalidValue, "what_is_unsafe")
    refused(declare(case_ids=("X 1",)), [], InvalidValue, "case_ids[0]")
    refused(declare(), [declared()], AlreadyExists, "declaration_id")


def test_an_answer_agrees_actions_or_disagrees_with_reasons():
    assert DECLARATION.run(answer(), [declared()]) == [answered()]
    disagreed = answer(response="disagreed", actions=(), reasons="Capacity is 92%")
    assert DECLARATION.run(disagreed, [declared()]) == [
        answered(response="disagreed", actions=[], reasons="Capacity is 92%")
    ]
    refused(answer(actions=()), [declared()], InvalidValue, "actions")
    refused(answer(response="disagreed", actions=()), [declared()], InvalidValue, "reasons")


def test_an_answer_is_given_once_and_not_by_the_declarer():
    refused(answer(), [declared(), answered()], AlreadyAnswered, "declaration_id")
    refused(
        answer(answered_by_practitioner_id=PRACTITIONER),
        [declared()],
        NotPermitted,
        "declaration_id",
    )
    refused(answer(), [], NotFound, "declaration_id")


def test_unanswered_past_the_deadline_it_escalates_to_the_head_of_service_once():
    sweep = EscalateOverdue("D-1", date(2025, 3, 13))

    assert DECLARATION.run(sweep, [declared()]) == [escalated()]
    assert DECLARATION.run(sweep, [declared(), escalated()]) == []


def test_on_the_deadline_day_it_is_not_yet_overdue():
    assert DECLARATION.run(EscalateOverdue("D-1", date(2025, 3, 12)), [declared()]) == []


def test_an_answered_declaration_does_not_escalate_for_the_deadline():
    assert DECLARATION.run(EscalateOverdue("D-1", date(2025, 4, 1)), [declared(), answered()]) == []


def test_escalation_goes_to_the_region_they_are_in_now():
    [event] = DECLARATION.run(EscalateOverdue("D-1", date(2025, 3, 13), "R-SOUTH"), [declared()])
    assert isinstance(event, DeclarationEscalated)
    assert event.region_id == "R-SOUTH"


def test_an_answer_can_still_come_after_escalation_but_not_after_closing():
    assert DECLARATION.run(answer(), [declared(), escalated()]) == [answered()]
    closed = DeclarationClosed(
        practitioner_id=PRACTITIONER,
        declaration_id="D-1",
        closed_on=TODAY,
        closed_by="practitioner-accepted-answer",
    )
    refused(answer(), [declared(), closed], DeclarationIsClosed, "declaration_id")


def test_the_practitioner_accepting_the_answer_closes_it():
    assert DECLARATION.run(AcceptAnswer("D-1", TODAY), [declared(), answered()]) == [
        DeclarationClosed(
            practitioner_id=PRACTITIONER,
            declaration_id="D-1",
            closed_on=TODAY,
            closed_by="practitioner-accepted-answer",
        )
    ]
    refused(AcceptAnswer("D-1", TODAY), [declared()], NotAnswered, "declaration_id")


def test_an_answer_not_accepted_escalates_once():
    [event] = DECLARATION.run(EscalateUnaccepted("D-1", TODAY), [declared(), answered()])
    assert isinstance(event, DeclarationEscalated)
    assert (event.because, event.region_id) == ("answer-not-accepted", REGION)
    refused(EscalateUnaccepted("D-1", TODAY), [declared()], NotAnswered, "declaration_id")
    refused(
        EscalateUnaccepted("D-1", TODAY),
        [declared(), answered(), event],
        AlreadyEscalated,
        "declaration_id",
    )


def test_the_three_way_meeting_records_its_outcome_and_closes_the_declaration():
    assert DECLARATION.run(meeting(), [declared(), escalated()]) == [
        ThreeWayMeetingHeld(
            practitioner_id=PRACTITIONER,
            declaration_id="D-1",
            held_on=date(2025, 3, 14),
            head_of_service="hana.head",
            outcome="actions-agreed",
            notes="Two cases reallocated",
            actions=["Reallocate X1 and X2"],
        ),
        DeclarationClosed(
            practitioner_id=PRACTITIONER,
            declaration_id="D-1",
            closed_on=date(2025, 3, 14),
            closed_by="three-way-meeting",
        ),
    ]


def test_a_three_way_meeting_follows_an_escalation_on_a_plausible_day():
    refused(meeting(), [declared()], NotEscalated, "declaration_id")
    refused(meeting(held_on=date(2025, 3, 15)), [declared(), escalated()], InvalidValue, "held_on")
    refused(meeting(held_on=TODAY - DAY), [declared(), escalated()], InvalidValue, "held_on")
    refused(replace(meeting(), notes=""), [declared(), escalated()], InvalidValue, "notes")
