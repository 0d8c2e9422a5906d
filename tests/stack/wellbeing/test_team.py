"""A team's wellbeing view: who is due supervision, what is suspended, what is declared."""

import pytest

from .helpers import TEAM, assert_problem

pytestmark = pytest.mark.stack


def test_the_manager_sees_each_practitioner_and_ops_only_the_figures(wb):
    pid = wb.practitioner()
    case_id = wb.case_for(pid)
    assert (
        wb.hold(
            pid,
            agreements=[
                {"kind": "not-to-be-done", "case_id": case_id, "reason": "Statutory minimum only"}
            ],
        ).status_code
        == 201
    )
    declaration_id = wb.declare(pid)["declaration_id"]

    view = wb("mo.manager").get(f"/teams/{TEAM}/wellbeing")

    assert view.status_code == 200, view.text
    row = next(p for p in view.json()["practitioners"] if p["practitioner_id"] == pid)
    assert row["last_supervision_on"] is not None
    assert row["supervision_overdue"] is False
    assert [a["case_id"] for a in row["agreements_in_force"]] == [case_id]
    assert [d["declaration_id"] for d in row["open_declarations"]] == [declaration_id]
    figures = view.json()["figures"]
    assert figures["practitioners"] == len(view.json()["practitioners"])
    assert figures["agreements_in_force"] >= 1

    ops = wb("ollie.ops").get(f"/teams/{TEAM}/wellbeing").json()
    assert ops["practitioners"] is None
    assert ops["figures"]["practitioners"] == figures["practitioners"]
    assert wb("hana.head").get(f"/teams/{TEAM}/wellbeing").status_code == 200
    assert_problem(wb("hugo.head").get(f"/teams/{TEAM}/wellbeing"), 403)
    assert_problem(wb("pat.practitioner").get(f"/teams/{TEAM}/wellbeing"), 403)
