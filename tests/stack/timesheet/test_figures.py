"""Working-time figures through the public API: a week, the rolling averages against contract,
leave counted as contracted time, a correction; the same per team, named or not."""

from datetime import timedelta

import pytest
from plimsoll_platform.clock import is_working_day
from plimsoll_timesheet.domain import IsoWeek

from .sheet import a_monday, assert_problem, key, logged, register

pytestmark = pytest.mark.stack

REASON = "Copied from the team's paper rota"


def _working_days(weeks_ago: int) -> list:
    monday = a_monday(weeks_ago)
    return [d for d in (monday + timedelta(days=n) for n in range(5)) if is_working_day(d)]


def _week(weeks_ago: int) -> str:
    return str(IsoWeek.of(a_monday(weeks_ago)))


@pytest.fixture(scope="module")
def story(service_api):
    """A 37-hour practitioner's four weeks (6 to 3 weeks ago): two at contract, a week of
    annual leave, then a long week, 2 hours over on its first working day."""
    practitioner = register(service_api)
    mo = service_api("timesheet", "mo.manager")
    for weeks_ago in (6, 5):
        for day in _working_days(weeks_ago):
            logged(
                mo,
                practitioner,
                day=str(day),
                minutes=444,
                category="casework",
                on_behalf_reason=REASON,
            )
    leave = mo.post(
        f"/practitioners/{practitioner}/leave",
        json={
            "kind": "annual",
            "first_day": str(a_monday(4)),
            "last_day": str(a_monday(4) + timedelta(days=6)),
        },
        headers=key(),
    )
    assert leave.status_code == 201, leave.text
    long_days = _working_days(3)
    long_entry = logged(
        mo,
        practitioner,
        day=str(long_days[0]),
        minutes=564,
        category="court",
        on_behalf_reason=REASON,
    )
    for day in long_days[1:]:
        logged(
            mo,
            practitioner,
            day=str(day),
            minutes=444,
            category="casework",
            on_behalf_reason=REASON,
        )
    return practitioner, long_entry


def _contracted(weeks_ago: int) -> int:
    return 444 * len(_working_days(weeks_ago))


def test_a_week_reads_back_by_category_with_its_toil(service_api, story):
    practitioner, long_entry = story

    week = (
        service_api("timesheet", "mo.manager")
        .get(f"/practitioners/{practitioner}/weeks/{_week(3)}")
        .json()
    )

    days = _working_days(3)
    assert week["figures"]["minutes_by_category"] == {
        "court": 564,
        "casework": 444 * (len(days) - 1),
    }
    assert week["figures"]["contracted_minutes"] == _contracted(3)
    assert week["figures"]["toil_accrued_minutes"] == 120
    assert week["toil_balance_minutes"] == 120
    assert week["entries"][0]["entry_id"] == long_entry["entry_id"]


def test_one_long_week_takes_the_four_week_average_above_contract(service_api, story):
    practitioner, _ = story

    figures = (
        service_api("timesheet", "hana.head")
        .get(f"/practitioners/{practitioner}/working-time", params={"until": _week(3)})
        .json()
    )

    four = figures["four_weeks"]
    contracted = sum(_contracted(w) for w in (6, 5, 4, 3))
    assert (four["first_week"], four["last_week"]) == (_week(6), _week(3))
    assert four["contracted_minutes"] == contracted
    # The leave week counts as contracted time: only the long week's 2 hours are above.
    assert four["counted_minutes"] == contracted + 120
    assert four["above_contract"] is True
    assert four["above_48_hours"] is False
    assert figures["weeks"][-2]["leave_minutes"] == _contracted(4)


def test_a_correction_brings_the_average_back_to_contract(service_api, story):
    practitioner, long_entry = story
    mo = service_api("timesheet", "mo.manager")
    day = _working_days(3)[0]

    corrected = mo.post(
        f"/practitioners/{practitioner}/days/{day}/entries/{long_entry['entry_id']}/correction",
        json={"minutes": 444, "category": "court", "reason": "The hearing was adjourned at 4"},
        headers=key(),
    )
    figures = mo.get(
        f"/practitioners/{practitioner}/working-time", params={"until": _week(3)}
    ).json()

    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["toil_minutes"] == 0
    assert figures["four_weeks"]["above_contract"] is False
    assert figures["toil_balance_minutes"] == 0


def test_a_team_reads_pooled_with_names_and_ops_without(service_api, story):
    practitioner, _ = story
    path = "/teams/T-NORTH-1/working-time"

    named = service_api("timesheet", "mo.manager").get(path, params={"until": _week(3)})
    aggregate = service_api("timesheet", "ollie.ops").get(path, params={"until": _week(3)})
    elsewhere = service_api("timesheet", "hugo.head").get(path, params={"until": _week(3)})

    assert named.status_code == 200, named.text
    rows = {m["practitioner_id"]: m for m in named.json()["members"]}
    assert rows[practitioner]["name"] == f"Tester {practitioner}"
    assert aggregate.status_code == 200, aggregate.text
    assert aggregate.json()["members"] is None
    assert practitioner not in aggregate.text
    assert aggregate.json()["four_weeks"] == named.json()["four_weeks"]
    assert named.json()["four_weeks"]["practitioners"] == len(rows)
    assert_problem(elsewhere, 403)


def test_a_team_week_adds_up_its_members(service_api, story):
    practitioner, _ = story

    week = service_api("timesheet", "ada.admin").get(f"/teams/T-NORTH-1/weeks/{_week(5)}")

    assert week.status_code == 200, week.text
    members = {m["practitioner_id"]: m for m in week.json()["members"]}
    assert members[practitioner]["figures"]["worked_minutes"] == _contracted(5)
    assert week.json()["worked_minutes"] == sum(
        m["figures"]["worked_minutes"] for m in members.values()
    )


def test_a_week_that_does_not_exist_is_refused(service_api, story):
    practitioner, _ = story
    client = service_api("timesheet", "ada.admin")

    assert_problem(client.get(f"/practitioners/{practitioner}/weeks/2025-W53"), 422, "week")
    assert_problem(client.get(f"/practitioners/{practitioner}/weeks/2025-10"), 422, "week")
    assert_problem(client.get("/teams/T-NOWHERE-9/working-time"), 404, "team_id")
