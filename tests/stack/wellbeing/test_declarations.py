"""Unsafe-workload declarations through the public API: answered, escalated at the deadline,
met about and closed; read by a union representative only with consent."""

from datetime import UTC, datetime, timedelta

import pytest
from plimsoll_platform.clock import add_working_days
from plimsoll_wellbeing.domain.declaration import declaration_stream

from .helpers import assert_problem, uk_today

pytestmark = pytest.mark.stack


def test_a_practitioner_declares_and_an_answer_is_due_in_working_days(wb):
    policy = wb("pat.practitioner").get("/policy").json()
    days = policy["thresholds"]["declaration_answer"]["working_days"]

    declared = wb.declare(
        "P-0001", user="pat.practitioner", case_ids=["X777519"], tasks=["PSR for Thursday"]
    )

    assert declared["status"] == "awaiting-answer"
    assert declared["answer_due_by"] == str(add_working_days(uk_today(), days))
    assert declared["policy_version"] == policy["policy_version"]
    assert declared["team_id"] == "T-NORTH-1"
    mine = wb("pat.practitioner").get("/practitioners/P-0001/declarations").json()
    assert declared["declaration_id"] in [d["declaration_id"] for d in mine]


def test_only_the_practitioner_or_an_admin_declares(wb):
    pid = wb.practitioner()
    for user in ("mo.manager", "pat.practitioner", "uma.union"):
        response = wb(user).post(f"/practitioners/{pid}/declarations", json={"what_is_unsafe": "x"})
        assert_problem(response, 403)


def test_the_manager_answers_and_the_practitioner_accepting_closes_it(wb):
    pid = wb.practitioner()
    declaration_id = wb.declare(pid)["declaration_id"]

    answered = wb("mo.manager").post(
        f"/declarations/{declaration_id}/answer",
        json={"response": "actions-agreed", "actions": ["No new cases for two weeks"]},
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["answer"]["answered_by"] == "mo.manager"
    assert_problem(
        wb("mo.manager").post(
            f"/declarations/{declaration_id}/answer",
            json={"response": "disagreed", "reasons": "again"},
        ),
        409,
        "declaration_id",
    )

    closed = wb("ada.admin").post(f"/declarations/{declaration_id}/acceptance")
    assert closed.status_code == 200, closed.text
    assert closed.json()["closing"]["closed_by"] == "practitioner-accepted-answer"
    assert closed.json()["status"] == "closed"


def test_an_answer_needs_actions_or_reasons(wb):
    declaration_id = wb.declare(wb.practitioner())["declaration_id"]
    path = f"/declarations/{declaration_id}/answer"

    # The answer is one of two shapes, chosen by `response`: the field is named within it.
    disagreed = wb("mo.manager").post(path, json={"response": "disagreed"})
    assert_problem(disagreed, 422, "disagreed.reasons")
    agreed = wb("mo.manager").post(path, json={"response": "actions-agreed"})
    assert_problem(agreed, 422, "actions-agreed.actions")


def test_an_answer_by_someone_outside_the_team_is_refused_and_nothing_written(wb, wellbeing_store):
    declaration_id = wb.declare(wb.practitioner())["declaration_id"]
    body = {"response": "disagreed", "reasons": "Not my team"}

    for outsider in ("hugo.head", "pat.practitioner", "uma.union"):
        response = wb(outsider).post(f"/declarations/{declaration_id}/answer", json=body)
        assert_problem(response, 403, "declaration_id" if outsider == "hugo.head" else None)

    assert len(wellbeing_store.read_stream(declaration_stream(declaration_id))) == 1


def test_unanswered_past_its_deadline_it_escalates_once_and_a_three_way_meeting_closes_it(
    wb, wellbeing_store
):
    declared = wb.declare(wb.practitioner())
    declaration_id = declared["declaration_id"]
    due = datetime.fromisoformat(declared["answer_due_by"])
    on_the_day = (due + timedelta(hours=12)).replace(tzinfo=UTC).isoformat()
    next_day = (due + timedelta(days=1, hours=9)).replace(tzinfo=UTC).isoformat()

    not_yet = wb("ada.admin").post("/deadlines/run", params={"as_of": on_the_day})
    assert declaration_id not in not_yet.json()["escalated"]
    swept = wb("ada.admin").post("/deadlines/run", params={"as_of": next_day})
    again = wb("ada.admin").post("/deadlines/run", params={"as_of": next_day})

    assert declaration_id in swept.json()["escalated"]
    assert declaration_id not in again.json()["escalated"]
    view = wb("hana.head").get(f"/declarations/{declaration_id}").json()
    assert view["status"] == "escalated"
    assert view["escalation"]["because"] == "deadline-missed"
    assert view["escalation"]["region_id"] == "R-NORTH"
    recorded = wellbeing_store.read_stream(declaration_stream(declaration_id))
    assert [e.type for e in recorded] == ["workload-declared", "declaration-escalated"]
    assert recorded[1].metadata.actor == "system:declaration-deadlines"

    meeting = {
        "held_on": str(uk_today()),
        "outcome": "actions-agreed",
        "notes": "Two cases reallocated",
        "actions": ["Reallocate two cases"],
    }
    path = f"/declarations/{declaration_id}/three-way-meeting"
    assert_problem(wb("hugo.head").post(path, json=meeting), 403, "declaration_id")
    assert_problem(wb("mo.manager").post(path, json=meeting), 403)
    closed = wb("hana.head").post(path, json=meeting)
    assert closed.status_code == 200, closed.text
    assert closed.json()["closing"]["closed_by"] == "three-way-meeting"
    assert closed.json()["three_way_meeting"]["head_of_service"] == "hana.head"


def test_only_an_admin_runs_the_sweeps_as_of_another_instant(wb, stack):
    service = {"Authorization": f"Bearer {stack.service_token('allocation')}"}
    later = (datetime.now(UTC) + timedelta(days=30)).isoformat()

    now = wb("ada.admin").post("/deadlines/run")
    assert now.status_code == 200, now.text
    by_service = wb("ada.admin").post("/deadlines/run", params={"as_of": later}, headers=service)
    assert_problem(by_service, 403, "as_of")
    assert_problem(wb("mo.manager").post("/deadlines/run"), 403)


def test_the_practitioner_may_escalate_an_answer_they_do_not_accept(wb):
    declaration_id = wb.declare(wb.practitioner())["declaration_id"]
    path = f"/declarations/{declaration_id}/escalation"
    assert_problem(wb("ada.admin").post(path), 409, "declaration_id")  # no answer yet

    wb("mo.manager").post(
        f"/declarations/{declaration_id}/answer",
        json={"response": "disagreed", "reasons": "Capacity is 92%"},
    )
    escalated = wb("ada.admin").post(path)

    assert escalated.status_code == 200, escalated.text
    assert escalated.json()["escalation"]["because"] == "answer-not-accepted"


def test_a_union_representative_reads_declarations_only_with_consent(wb):
    pid = wb.practitioner()
    wb.declare(pid)
    path = f"/practitioners/{pid}/declarations"

    problem = assert_problem(wb("uma.union").get(path), 403)
    assert problem["type"].endswith("/no-consent")
    given = wb("ada.admin").put(f"/practitioners/{pid}/union-consent/uma.union")
    assert given.json()["representatives"] == ["uma.union"]

    assert [d["practitioner_id"] for d in wb("uma.union").get(path).json()] == [pid]
    assert_problem(wb("uma.union").get(f"/practitioners/{pid}/supervisions"), 403)

    wb("ada.admin").delete(f"/practitioners/{pid}/union-consent/uma.union")
    assert_problem(wb("uma.union").get(path), 403)
    assert_problem(
        wb("ada.admin").delete(f"/practitioners/{pid}/union-consent/uma.union"),
        404,
        "representative",
    )


def test_a_practitioner_gives_consent_for_themself_only(wb):
    mine = wb("pat.practitioner").put("/practitioners/P-0001/union-consent/uma.union")
    assert mine.status_code == 200, mine.text
    assert "uma.union" in mine.json()["representatives"]
    pid = wb.practitioner()
    assert_problem(wb("pat.practitioner").put(f"/practitioners/{pid}/union-consent/uma.union"), 403)
