"""Supervisions and the prioritising framework through the public API, with real tokens."""

from datetime import date, timedelta

import pytest
from plimsoll_wellbeing.domain.supervision import supervision_record_stream

from .helpers import MANAGER, assert_problem, uk_today

pytestmark = pytest.mark.stack

DAY = timedelta(days=1)


def test_a_manager_schedules_and_holds_a_supervision_the_practitioner_reads_it(wb):
    pid = wb.practitioner()
    scheduled = wb("mo.manager").post(
        f"/practitioners/{pid}/supervisions/scheduled",
        json={"scheduled_for": (uk_today() + 7 * DAY).isoformat()},
    )
    assert scheduled.status_code == 201, scheduled.text
    supervision = scheduled.json()
    assert (supervision["status"], supervision["supervisor_id"]) == ("scheduled", MANAGER)

    held = wb.hold(
        pid,
        supervision_id=supervision["supervision_id"],
        agreed_actions=["Review the risk plan of X1 by Friday"],
    )
    assert held.status_code == 201, held.text
    assert held.json()["supervision"]["status"] == "held"
    assert held.json()["supervision"]["line_manager_id"] == MANAGER

    listed = wb("ada.admin").get(f"/practitioners/{pid}/supervisions").json()
    assert [(s["supervision_id"], s["status"]) for s in listed] == [
        (supervision["supervision_id"], "held")
    ]
    # Another practitioner (pat.practitioner is P-0001) reads only their own record.
    assert_problem(wb("pat.practitioner").get(f"/practitioners/{pid}/supervisions"), 403)


@pytest.mark.parametrize(
    ("held_on", "why"),
    [(lambda: date(2024, 9, 1), "before"), (lambda: uk_today() + DAY, "in the future")],
)
def test_held_before_they_started_or_in_the_future_is_refused_and_nothing_written(
    wb, wellbeing_store, held_on, why
):
    pid = wb.practitioner(start="2024-09-02")

    problem = assert_problem(wb.hold(pid, held_on=held_on().isoformat()), 422, "held_on")

    assert why in problem["detail"]
    assert wellbeing_store.read_stream(supervision_record_stream(pid)) == []


def test_a_supervisor_who_is_not_the_line_manager_needs_a_reason(wb, wellbeing_store):
    pid = wb.practitioner()

    refused = wb.hold(pid, user="hana.head")  # hana.head (P-0200) is not their line manager
    assert_problem(refused, 422, "supervisor_reason")
    assert wellbeing_store.read_stream(supervision_record_stream(pid)) == []

    allowed = wb.hold(pid, user="hana.head", supervisor_reason="Mo on leave: I covered")
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["supervision"]["supervisor_id"] == "P-0200"
    assert allowed.json()["supervision"]["supervisor_reason"] == "Mo on leave: I covered"


def test_outside_their_team_or_region_nobody_records_a_supervision(wb):
    pid = wb.practitioner()

    assert_problem(wb.hold(pid, user="hugo.head", supervisor_reason="x"), 403)  # R-SOUTH
    assert_problem(wb.hold(pid, user="pat.practitioner"), 403)
    assert_problem(wb.hold(pid, user="ollie.ops"), 403)


def test_a_scheduled_supervision_is_cancelled_with_a_reason_once(wb):
    pid = wb.practitioner()
    created = (
        wb("mo.manager")
        .post(
            f"/practitioners/{pid}/supervisions/scheduled", json={"scheduled_for": str(uk_today())}
        )
        .json()
    )
    path = f"/practitioners/{pid}/supervisions/{created['supervision_id']}/cancellation"

    cancelled = wb("mo.manager").post(path, json={"reason": "Manager off sick"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["cancellation_reason"] == "Manager off sick"
    assert_problem(wb("mo.manager").post(path, json={"reason": "again"}), 409, "supervision_id")


def test_work_on_a_case_they_carry_is_suspended_and_resumed(wb):
    pid = wb.practitioner()
    case_id = wb.case_for(pid)
    until = (uk_today() + 30 * DAY).isoformat()

    held = wb.hold(
        pid,
        agreements=[
            {
                "kind": "suspend",
                "case_id": case_id,
                "reason": "Person remanded in custody",
                "court_or_partner_must_be_told": True,
                "until": until,
            }
        ],
    )

    assert held.status_code == 201, held.text
    [agreement] = held.json()["agreements"]
    assert (agreement["case_id"], agreement["kind"], agreement["until"]) == (
        case_id,
        "suspend",
        until,
    )
    assert agreement["in_force"] is True
    assert agreement["court_or_partner_must_be_told"] is True
    resumed = wb("mo.manager").post(
        f"/practitioners/{pid}/agreements/{agreement['agreement_id']}/resumption",
        json={"reason": "Released on bail"},
    )
    assert resumed.status_code == 200, resumed.text
    assert (resumed.json()["in_force"], resumed.json()["resumed_because"]) == (False, "agreed")
    mine = wb("ada.admin").get(f"/practitioners/{pid}/agreements").json()
    assert [a["in_force"] for a in mine] == [False]


def test_suspending_a_case_they_do_not_carry_is_refused_naming_it(wb, wellbeing_store):
    pid = wb.practitioner()
    someone_else = wb.practitioner()
    theirs = wb.case_for(someone_else)

    refused = wb("mo.manager").post(
        f"/practitioners/{pid}/supervisions/held",
        json={
            "held_on": str(uk_today()),
            "duration_minutes": 45,
            "workload_reviewed": True,
            "wellbeing_discussed": False,
            "agreements": [{"kind": "suspend", "case_id": theirs, "reason": "x"}],
        },
    )

    problem = assert_problem(refused, 409, "agreements[0].case_id")
    assert problem["type"].endswith("/case-not-carried")
    assert wellbeing_store.read_stream(supervision_record_stream(pid)) == []


def test_a_retried_supervision_with_the_same_key_records_once(wb, wellbeing_store):
    pid = wb.practitioner()
    body = {
        "held_on": str(uk_today()),
        "duration_minutes": 30,
        "workload_reviewed": False,
        "wellbeing_discussed": True,
    }
    headers = {"Idempotency-Key": f"retry-{pid}"}
    path = f"/practitioners/{pid}/supervisions/held"

    first = wb("mo.manager").post(path, json=body, headers=headers)
    again = wb("mo.manager").post(path, json=body, headers=headers)

    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(wellbeing_store.read_stream(supervision_record_stream(pid))) == 1


def test_stress_risk_assessments_are_recorded_and_reviewed(wb):
    pid = wb.practitioner()
    path = f"/practitioners/{pid}/stress-risk-assessments"
    first = wb("mo.manager").post(
        path,
        json={
            "assessed_on": str(uk_today()),
            "risk_level": "medium",
            "outcome": "Travel and workload",
            "measures": ["Caseload capped at 95%"],
            "review_on": str(uk_today() + 90 * DAY),
        },
    )
    assert first.status_code == 201, first.text
    assert_problem(
        wb("mo.manager").post(
            path,
            json={
                "assessed_on": str(uk_today()),
                "risk_level": "low",
                "outcome": "x",
                "review_on": str(uk_today()),
            },
        ),
        422,
        "review_on",
    )
    review = wb("mo.manager").post(
        path,
        json={
            "assessed_on": str(uk_today()),
            "risk_level": "low",
            "outcome": "Better",
            "review_on": str(uk_today() + 180 * DAY),
            "reviews": first.json()["assessment_id"],
        },
    )
    assert review.status_code == 201, review.text
    listed = wb("ada.admin").get(path).json()
    assert [(a["risk_level"], a["reviewed"]) for a in listed] == [("medium", True), ("low", False)]
