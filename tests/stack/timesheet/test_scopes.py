"""Who reaches whose time: practitioners their own, managers their team (logging on behalf
with a reason), heads of service their region (reading only), ops team aggregates only,
admins and services everything; an unknown practitioner is 404 only to those who reach
everyone."""

import pytest

from .sheet import PAT, a_working_day, assert_problem, key, log, register

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def practitioner(service_api) -> str:
    return register(service_api)


def _week(service_api, user, practitioner):
    return service_api("timesheet", user).get(f"/practitioners/{practitioner}/weeks/2026-W10")


@pytest.mark.parametrize("user", ["mo.manager", "hana.head", "ada.admin"])
def test_those_who_reach_the_team_read_a_practitioners_week(service_api, practitioner, user):
    assert _week(service_api, user, practitioner).status_code == 200


@pytest.mark.parametrize(
    ("user", "status", "kind"),
    [
        ("pat.practitioner", 403, "outside-scope"),
        ("hugo.head", 403, "outside-scope"),
        ("ollie.ops", 403, "forbidden"),
        ("aude.auditor", 403, "forbidden"),
    ],
)
def test_others_cannot_read_a_practitioners_week(service_api, practitioner, user, status, kind):
    problem = assert_problem(_week(service_api, user, practitioner), status)
    assert problem["type"].endswith(kind)


def test_a_practitioner_reads_their_own_week(service_api):
    assert _week(service_api, "pat.practitioner", PAT).status_code == 200


def test_a_service_account_reads_everything(stack, practitioner):
    import httpx

    answer = httpx.get(
        f"{stack.services['timesheet']}/practitioners/{practitioner}/weeks/2026-W10",
        headers={"Authorization": f"Bearer {stack.service_token('wellbeing')}"},
    )
    assert answer.status_code == 200, answer.text


def test_an_unknown_practitioner_is_unknown_to_admins_and_outside_scope_to_others(service_api):
    nobody = "P-NOBODY-EVER"

    assert_problem(_week(service_api, "ada.admin", nobody), 404, "practitioner_id")
    assert_problem(_week(service_api, "mo.manager", nobody), 403, "practitioner_id")


def test_a_head_of_service_reads_but_does_not_log(service_api, practitioner):
    answer = log(
        service_api("timesheet", "hana.head"),
        practitioner,
        day=str(a_working_day(12)),
        minutes=60,
        category="casework",
        on_behalf_reason="I was there",
    )
    assert assert_problem(answer, 403)["type"].endswith("/forbidden")


def test_a_manager_outside_the_team_cannot_log_for_its_practitioners(service_api):
    south = register(service_api, team="T-SOUTH-1", region="R-SOUTH")

    answer = log(
        service_api("timesheet", "mo.manager"),
        south,
        day=str(a_working_day(12)),
        minutes=60,
        category="casework",
        on_behalf_reason="Covering",
    )

    assert assert_problem(answer, 403, "practitioner_id")["type"].endswith("/outside-scope")


def test_a_practitioner_cannot_log_for_someone_else(service_api, practitioner):
    answer = log(
        service_api("timesheet", "pat.practitioner"),
        practitioner,
        day=str(a_working_day(12)),
        minutes=60,
        category="casework",
    )
    assert_problem(answer, 403, "practitioner_id")


def test_a_practitioner_gives_no_on_behalf_reason_for_their_own_time(service_api):
    answer = service_api("timesheet", "pat.practitioner").post(
        f"/practitioners/{PAT}/hours",
        json={
            "day": "2026-03-02",
            "minutes": 60,
            "category": "casework",
            "on_behalf_reason": "myself",
        },
        headers=key(),
    )
    assert_problem(answer, 422, "on_behalf_reason")


def test_no_token_no_time(service_api, practitioner):
    answer = service_api("timesheet").get(f"/practitioners/{practitioner}/weeks/2026-W10")
    assert_problem(answer, 401)


def _reads_of(engine, practitioner: str, resource: str) -> list[dict]:
    from sqlalchemy import text

    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "select data from events where type = 'personal-data-read' and subject = :p "
                "and data->>'resource' = :r order by position"
            ),
            {"p": practitioner, "r": resource},
        )
        return [row[0] for row in rows]


def test_who_read_whose_time_is_recorded_names_and_all_but_not_ops_figures(
    service_api, timesheet_engine, practitioner
):
    week = f"/practitioners/{practitioner}/weeks/2026-W11"  # a week no other test reads
    team = "/teams/T-NORTH-1/weeks/2026-W11"

    assert service_api("timesheet", "mo.manager").get(week).status_code == 200
    assert service_api("timesheet", "hana.head").get(team).status_code == 200
    assert service_api("timesheet", "ollie.ops").get(team).status_code == 200

    assert [r["reader"] for r in _reads_of(timesheet_engine, practitioner, f"GET {week}")] == [
        "mo.manager"
    ]
    assert [r["reader"] for r in _reads_of(timesheet_engine, practitioner, f"GET {team}")] == [
        "hana.head"
    ]
