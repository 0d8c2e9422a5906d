"""A practitioner's supervision record: given events, when a command, then events (or a refusal)."""

from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from plimsoll_events.types.wellbeing import (
    SupervisionCancelled,
    SupervisionHeld,
    SupervisionScheduled,
    WorkMarkedNotToBeDone,
    WorkResumed,
)
from plimsoll_wellbeing.domain.errors import (
    AgreementInForce,
    AgreementNotInForce,
    AlreadyExists,
    CaseNotCarried,
    InvalidValue,
    NotFound,
    SupervisionNotScheduled,
    SupervisorNotLineManager,
)
from plimsoll_wellbeing.domain.supervision import (
    SUPERVISION_RECORD,
    AgreedWork,
    CancelSupervision,
    HoldSupervision,
    ResumeDueWork,
    ResumeWork,
    ScheduleSupervision,
)

from .given import MANAGER, PRACTITIONER, TODAY, held, pat, scheduled, suspended

DAY = timedelta(days=1)


def hold(**overrides: Any) -> HoldSupervision:
    fields: dict[str, Any] = {
        "practitioner": pat(),
        "supervision_id": "S-1",
        "supervisor_id": MANAGER,
        "held_on": TODAY,
        "duration_minutes": 60,
        "workload_reviewed": True,
        "wellbeing_discussed": True,
        "today": TODAY,
        "carried_case_ids": frozenset({"X1", "X2"}),
        **overrides,
    }
    return HoldSupervision(**fields)


def suspend(case_id: str = "X1", agreement_id: str = "A-1", **overrides: Any) -> AgreedWork:
    fields: dict[str, Any] = {
        "agreement_id": agreement_id,
        "kind": "suspend",
        "case_id": case_id,
        "reason": "In custody",
        "court_or_partner_must_be_told": True,
        **overrides,
    }
    return AgreedWork(**fields)


def refused(command: Any, history: list[Any], error: type[Exception], field: str) -> None:
    with pytest.raises(error) as raised:
        SUPERVISION_RECORD.run(command, history)
    assert raised.value.field == field  # type: ignore[attr-defined]


# Scheduling and cancelling.


def test_a_supervision_is_scheduled_with_the_line_manager():
    command = ScheduleSupervision(pat(), "S-1", MANAGER, TODAY + 7 * DAY, TODAY)

    assert SUPERVISION_RECORD.run(command) == [scheduled(scheduled_for=TODAY + 7 * DAY)]


def test_scheduling_in_the_past_is_refused():
    command = ScheduleSupervision(pat(), "S-1", MANAGER, TODAY - DAY, TODAY)

    refused(command, [], InvalidValue, "scheduled_for")


def test_another_supervisor_needs_a_reason_and_keeps_it():
    without = ScheduleSupervision(pat(), "S-1", "P-0999", TODAY, TODAY)
    refused(without, [], SupervisorNotLineManager, "supervisor_reason")

    with_reason = replace(without, supervisor_reason="Line manager on long-term sick leave")
    [event] = SUPERVISION_RECORD.run(with_reason)
    assert isinstance(event, SupervisionScheduled)
    assert event.supervisor_reason == "Line manager on long-term sick leave"


def test_a_supervision_id_is_taken_once():
    refused(
        ScheduleSupervision(pat(), "S-1", MANAGER, TODAY, TODAY),
        [scheduled()],
        AlreadyExists,
        "supervision_id",
    )


def test_a_scheduled_supervision_is_cancelled_with_a_reason_once():
    cancel = CancelSupervision(PRACTITIONER, "S-1", "Manager off sick", TODAY)

    assert SUPERVISION_RECORD.run(cancel, [scheduled()]) == [
        SupervisionCancelled(
            practitioner_id=PRACTITIONER,
            supervision_id="S-1",
            reason="Manager off sick",
            cancelled_on=TODAY,
        )
    ]
    refused(
        cancel,
        [scheduled(), *SUPERVISION_RECORD.run(cancel, [scheduled()])],
        SupervisionNotScheduled,
        "supervision_id",
    )
    refused(replace(cancel, reason="  "), [scheduled()], InvalidValue, "reason")
    refused(cancel, [], NotFound, "supervision_id")


# Holding.


def test_a_held_supervision_records_who_what_and_the_line_manager_that_day():
    command = hold(agreed_actions=("Review X2 by Friday",), duration_minutes=90)

    assert SUPERVISION_RECORD.run(command) == [
        held(agreed_actions=["Review X2 by Friday"], duration_minutes=90)
    ]


def test_a_scheduled_supervision_is_held_once():
    assert SUPERVISION_RECORD.run(hold(), [scheduled()]) == [held()]
    refused(hold(), [scheduled(), held()], SupervisionNotScheduled, "supervision_id")


@pytest.mark.parametrize(
    ("held_on", "why"),
    [(date(2024, 9, 1), "before P-0001 started"), (TODAY + DAY, "in the future")],
)
def test_held_only_on_a_day_in_post_and_not_in_the_future(held_on: date, why: str):
    with pytest.raises(InvalidValue, match=why) as raised:
        SUPERVISION_RECORD.run(hold(held_on=held_on))
    assert raised.value.field == "held_on"


def test_held_after_leaving_is_refused():
    practitioner = pat(leaving_date=TODAY - 2 * DAY)

    refused(hold(practitioner=practitioner, held_on=TODAY - DAY), [], InvalidValue, "held_on")


def test_a_supervisor_who_is_not_the_line_manager_needs_a_reason():
    refused(hold(supervisor_id="P-0999"), [], SupervisorNotLineManager, "supervisor_reason")

    [event] = SUPERVISION_RECORD.run(hold(supervisor_id="P-0999", supervisor_reason="Cover"))
    assert isinstance(event, SupervisionHeld)
    assert (event.supervisor_id, event.line_manager_id) == ("P-0999", MANAGER)


def test_nobody_supervises_themself():
    refused(
        hold(supervisor_id=PRACTITIONER, supervisor_reason="x"), [], InvalidValue, "supervisor_id"
    )


def test_a_duration_is_a_whole_number_of_minutes_in_a_day():
    refused(hold(duration_minutes=0), [], InvalidValue, "duration_minutes")
    refused(hold(duration_minutes=1441), [], InvalidValue, "duration_minutes")


# The prioritising framework.


def test_work_suspended_and_not_to_be_done_come_with_the_supervision_in_one_decision():
    until = TODAY + 30 * DAY
    command = hold(
        agreements=(
            suspend("X1", "A-1", until=until),
            AgreedWork("A-2", "not-to-be-done", "X2", "Statutory minimum only", False),
        )
    )

    assert SUPERVISION_RECORD.run(command) == [
        held(),
        suspended("A-1", "X1", until=until),
        WorkMarkedNotToBeDone(
            practitioner_id=PRACTITIONER,
            agreement_id="A-2",
            case_id="X2",
            supervision_id="S-1",
            reason="Statutory minimum only",
            court_or_partner_must_be_told=False,
            agreed_on=TODAY,
        ),
    ]


def test_suspending_a_case_they_do_not_carry_is_refused_naming_it():
    command = hold(agreements=(suspend("X1"), suspend("X9", "A-2")))

    refused(command, [], CaseNotCarried, "agreements[1].case_id")


def test_one_agreement_in_force_per_case():
    refused(
        hold(supervision_id="S-2", agreements=(suspend("X1", "A-2"),)),
        [held(), suspended()],
        AgreementInForce,
        "agreements[0].case_id",
    )


def test_one_case_once_per_supervision():
    command = hold(agreements=(suspend("X1", "A-1"), suspend("X1", "A-2")))

    refused(command, [], InvalidValue, "agreements[1].case_id")


def test_until_is_a_day_to_come_and_only_for_suspensions():
    refused(hold(agreements=(suspend(until=TODAY - DAY),)), [], InvalidValue, "agreements[0].until")
    refused(
        hold(agreements=(suspend(kind="not-to-be-done", until=TODAY),)),
        [],
        InvalidValue,
        "agreements[0].until",
    )


def test_an_agreement_needs_a_reason():
    refused(hold(agreements=(suspend(reason=""),)), [], InvalidValue, "agreements[0].reason")


# Resuming.


def test_work_is_resumed_by_agreement_once():
    resume = ResumeWork(PRACTITIONER, "A-1", "Released from custody", TODAY + DAY)
    history = [held(), suspended()]

    assert SUPERVISION_RECORD.run(resume, history) == [
        WorkResumed(
            practitioner_id=PRACTITIONER,
            agreement_id="A-1",
            case_id="X1",
            resumed_on=TODAY + DAY,
            cause="agreed",
            reason="Released from custody",
        )
    ]
    ended = [*history, *SUPERVISION_RECORD.run(resume, history)]
    refused(resume, ended, AgreementNotInForce, "agreement_id")
    refused(replace(resume, agreement_id="A-9"), history, NotFound, "agreement_id")


def test_a_resumed_case_may_be_suspended_again():
    resumed = WorkResumed(
        practitioner_id=PRACTITIONER,
        agreement_id="A-1",
        case_id="X1",
        resumed_on=TODAY,
        cause="agreed",
        reason="Back",
    )
    command = hold(supervision_id="S-2", agreements=(suspend("X1", "A-2"),))

    assert SUPERVISION_RECORD.run(command, [held(), suspended(), resumed])[1] == suspended(
        "A-2", supervision_id="S-2"
    )


def test_the_sweep_resumes_the_day_after_until_and_when_the_case_has_gone():
    history = [
        held(),
        suspended("A-1", "X1", until=TODAY + 2 * DAY),
        suspended("A-2", "X2"),
        suspended("A-3", "X3"),
    ]
    sweep = ResumeDueWork(PRACTITIONER, TODAY + 3 * DAY, cases_gone=frozenset({"X2"}))

    assert [
        (e.agreement_id, e.cause, e.resumed_on)
        for e in SUPERVISION_RECORD.run(sweep, history)  # type: ignore[attr-defined]
    ] == [
        ("A-1", "until-passed", TODAY + 3 * DAY),
        ("A-2", "case-left-practitioner", TODAY + 3 * DAY),
    ]


def test_the_sweep_records_nothing_before_the_day_after_until_or_twice():
    history = [held(), suspended(until=TODAY + 2 * DAY)]

    assert SUPERVISION_RECORD.run(ResumeDueWork(PRACTITIONER, TODAY + 2 * DAY), history) == []
    sweep = ResumeDueWork(PRACTITIONER, TODAY + 5 * DAY)
    done = [*history, *SUPERVISION_RECORD.run(sweep, history)]
    assert SUPERVISION_RECORD.run(sweep, done) == []
