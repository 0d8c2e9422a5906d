"""Duty-of-care reads as of a past instant through the real services: a practitioner of a team
of their own taken past red and back; the team's view, the region's (a head of service's per-team
rows, ops' figures only) and the breaches as of the instant they were red give the figures and
breaches as they stood then, the live reads the new ones. And the breaches list's counts (by
rule, by level) and ages agree with the breaches it lists."""

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from .duty_helpers import Duty, until
from .helpers import assert_problem, fresh, uk_today

pytestmark = pytest.mark.stack

REGION, HEAD = "R-SOUTH", "hugo.head"  # a small region: its as-of view is quick to replay
CAPACITY = ["capacity-amber", "capacity-red"]
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def duty(service_api) -> Duty:
    return Duty(service_api)


@pytest.fixture(scope="module")
def went_back(duty):
    """A team of its own: Pat on 18.5 hours (1,088 points) given eight licence A1 cases (163
    each, 119.9%: amber and red), then three moved to a colleague on 37 hours (Pat 74.9%).
    `then` is an instant while both breaches were open."""
    before = datetime.now(UTC)
    team = fresh("T-ASOF-")
    start = (uk_today() - timedelta(days=7)).isoformat()  # supervision not yet due
    people = {"team": team, "region": REGION, "user": "ada.admin", "manager": None, "start": start}
    pat, colleague = duty.register(**people), duty.register(hours="37", **people)
    cases = [duty.case(team=team, user="ada.admin") for _ in range(8)]
    for case_id in cases:
        duty.allocate(case_id, pat, user=HEAD)
    opened = {rule: duty.breach_of(pat, rule) for rule in CAPACITY}
    then = datetime.now(UTC)
    time.sleep(0.05)
    for case_id in cases[:3]:
        duty.reallocate(case_id, colleague, user=HEAD)
    resolved = {rule: duty.breach_of(pat, rule, status="resolved") for rule in CAPACITY}
    return {
        "before": before,
        "team": team,
        "pat": pat,
        "colleague": colleague,
        "then": then,
        "opened": opened,
        "resolved": resolved,
    }


def _get(duty: Duty, user: str, path: str, **params: str) -> dict:
    answer = duty.wellbeing(user).get(path, params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _rows(view: dict) -> dict[str, dict]:
    return {p["practitioner_id"]: p for p in view["practitioners"]}


def test_a_teams_view_as_of_an_instant_gives_the_figures_then_and_live_the_new(duty, went_back):
    team, pat, colleague = went_back["team"], went_back["pat"], went_back["colleague"]
    path, as_of = f"/teams/{team}/duty-of-care", went_back["then"].isoformat()
    then = _get(duty, HEAD, path, as_of=as_of)
    now = _get(duty, HEAD, path)

    assert datetime.fromisoformat(then["as_of"]) == went_back["then"]
    pat_then, pat_now = _rows(then)[pat], _rows(now)[pat]
    assert (pat_then["capacity_percent"], pat_then["capacity_status"]) == ("119.9", "red")
    assert pat_then["rules_holding"] == CAPACITY
    assert pat_then["open_breaches"] == 2
    assert (pat_now["capacity_percent"], pat_now["capacity_status"]) == ("74.9", "green")
    assert pat_now["rules_holding"] == []
    assert pat_now["open_breaches"] == 0
    assert _rows(then)[colleague]["capacity_percent"] in {None, "0.0"}
    assert _rows(now)[colleague]["capacity_percent"] == "22.5"  # 489 of 2,176 points

    assert then["figures"] == {
        "practitioners": 2,
        "rules_holding": {"capacity-amber": 1, "capacity-red": 1},
        "supervision_overdue": 0,
        "open_declarations": 0,
        "reviews_due": 0,
        "open_breaches": 2,
    }
    assert now["figures"] == {**then["figures"], "rules_holding": {}, "open_breaches": 0}

    ops = _get(duty, "ollie.ops", path, as_of=as_of)
    assert ops["practitioners"] is None
    assert ops["figures"] == then["figures"]

    before = duty.wellbeing(HEAD).get(path, params={"as_of": went_back["before"].isoformat()})
    assert_problem(before, 422, "as_of")  # nobody was placed in it yet
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert_problem(duty.wellbeing(HEAD).get(path, params={"as_of": future}), 422, "as_of")


def test_a_regions_view_as_of_an_instant_per_team_for_its_head_figures_only_for_ops(
    duty, went_back
):
    team, as_of = went_back["team"], went_back["then"].isoformat()
    path = f"/regions/{REGION}/duty-of-care"
    then = _get(duty, HEAD, path, as_of=as_of)
    now = _get(duty, HEAD, path)
    team_then = _get(duty, HEAD, f"/teams/{team}/duty-of-care", as_of=as_of)
    team_now = _get(duty, HEAD, f"/teams/{team}/duty-of-care")

    [row_then] = [t for t in then["teams"] if t["team_id"] == team]
    [row_now] = [t for t in now["teams"] if t["team_id"] == team]
    assert row_then["figures"] == team_then["figures"]  # 2 practitioners, amber and red
    assert row_then["figures"]["rules_holding"] == {"capacity-amber": 1, "capacity-red": 1}
    assert row_now["figures"] == team_now["figures"]
    assert row_now["figures"]["rules_holding"] == {}
    # Now, the region's figures are worked out by the database, a team's from each member's
    # judgement: they agree for every team of the region, whatever other tests left in it.
    for row in now["teams"]:
        assert (
            row["figures"] == _get(duty, HEAD, f"/teams/{row['team_id']}/duty-of-care")["figures"]
        ), row["team_id"]
    assert row_then["team"] == team_then["team"]
    assert then["figures"]["teams"] == len(then["teams"])
    assert then["figures"]["practitioners"] == sum(
        t["figures"]["practitioners"] for t in then["teams"]
    )
    assert then["figures"]["rules_holding"]["capacity-red"] >= 1

    ops = _get(duty, "ollie.ops", path, as_of=as_of)
    assert ops["teams"] is None
    assert ops["figures"] == then["figures"]

    assert_problem(
        duty.wellbeing(HEAD).get(path, params={"as_of": "2020-01-01T00:00:00Z"}), 422, "as_of"
    )
    assert_problem(duty.wellbeing("hana.head").get(path, params={"as_of": as_of}), 403)


def test_breaches_as_of_an_instant_open_then_resolved_now(duty, went_back):
    team, then_at = went_back["team"], went_back["then"]
    opened = {rule: b["breach_id"] for rule, b in went_back["opened"].items()}
    query = {"team_id": team, "status": "all"}
    then = _get(duty, HEAD, "/breaches", as_of=then_at.isoformat(), **query)
    now = _get(duty, HEAD, "/breaches", **query)
    policy_then = _get(duty, HEAD, "/policy", as_of=then_at.isoformat())["policy_version"]

    assert {b["rule"]: b["breach_id"] for b in then["breaches"]} == opened
    for breach in then["breaches"]:
        assert (breach["status"], breach["resolution"]) == ("open", None)
        # Red was judged at 119.9%; amber at 104.9% or, if the recorder saw both allocations
        # in one pass, at 119.9%.
        expected = {"119.9"} if breach["rule"] == "capacity-red" else {"104.9", "119.9"}
        assert breach["facts"]["capacity_percent"] in expected
        assert breach["policy_version"] <= policy_then  # judged under a policy in force by then
        since = then_at - datetime.fromisoformat(breach["opened_at"])
        assert breach["age_days"] == round(since.total_seconds() / 86400, 2)
    assert then["figures"] == {
        "open": 2,
        "resolved": 0,
        "open_unacknowledged": 2,
        "with_manager": 0,
        "with_head_of_service": 0,
        "open_by_rule": {"capacity-amber": 1, "capacity-red": 1},
        "oldest_open_days": max(b["age_days"] for b in then["breaches"]),
    }

    assert {b["rule"]: b["breach_id"] for b in now["breaches"]} == opened
    for breach in now["breaches"]:
        assert breach["status"] == "resolved"
        assert breach["resolution"]["how"] == "condition-cleared"
        assert breach["resolution"]["facts"]["capacity_percent"] in {"104.9", "89.9", "74.9"}
        lasted = datetime.fromisoformat(breach["resolution"]["at"]) - datetime.fromisoformat(
            breach["opened_at"]
        )
        assert breach["age_days"] == round(lasted.total_seconds() / 86400, 2)  # to resolution
    assert (now["figures"]["open"], now["figures"]["resolved"]) == (0, 2)
    assert now["figures"]["open_by_rule"] == {}
    assert now["figures"]["oldest_open_days"] is None

    ops = _get(duty, "ollie.ops", "/breaches", as_of=then_at.isoformat(), **query)
    assert ops["breaches"] is None
    assert ops["figures"] == then["figures"]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    for as_of in (future, "2020-01-01T00:00:00Z"):
        refused = duty.wellbeing(HEAD).get("/breaches", params={**query, "as_of": as_of})
        assert_problem(refused, 422, "as_of")


def test_the_breaches_list_counts_open_breaches_by_rule_and_level_with_their_ages(duty):
    team = fresh("T-LEVEL-")
    pat = duty.register(team=team, region=REGION, user="ada.admin", manager=None)
    for _ in range(8):  # 119.9%, the team's only member; never supervised since 2024: overdue
        duty.allocate(duty.case(team=team, user="ada.admin"), pat, user=HEAD)
    rules = [*CAPACITY, "supervision-overdue", "team-full"]
    found = {rule: duty.breach_of(pat, rule) for rule in rules[:3]}
    found["team-full"] = until(
        "the team-full breach",
        lambda: next((b for b in duty.breaches(team_id=team) if b["rule"] == "team-full"), None),
    )
    supervision = found["supervision-overdue"]["breach_id"]
    acked = duty.wellbeing(HEAD).post(f"/breaches/{supervision}/acknowledgement", json={})
    assert acked.status_code == 200, acked.text

    def run(day) -> None:  # the clock, escalating as of 10:00 that day
        at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
        answer = duty.wellbeing().post("/duty-of-care/run", params={"as_of": at.isoformat()})
        assert answer.status_code == 200, answer.text

    run(max(datetime.fromisoformat(b["acknowledge_by"]) for b in found.values()).date() + DAY)
    with_manager = datetime.now(UTC)
    time.sleep(0.05)
    run(max(datetime.fromisoformat(b["escalate_by"]) for b in found.values()).date() + DAY)

    then = _get(duty, HEAD, "/breaches", team_id=team, as_of=with_manager.isoformat())
    now = _get(duty, HEAD, "/breaches", team_id=team)
    expected = {
        "open": 4,
        "resolved": 0,
        "open_unacknowledged": 3,  # the acknowledged one escalates no further
        "open_by_rule": dict.fromkeys(sorted(rules), 1),
    }
    assert then["figures"] | expected == then["figures"]
    assert (then["figures"]["with_manager"], then["figures"]["with_head_of_service"]) == (2, 0)
    assert now["figures"] | expected == now["figures"]
    assert (now["figures"]["with_manager"], now["figures"]["with_head_of_service"]) == (0, 3)
    levels = {b["rule"]: b["level"] for b in now["breaches"]}
    assert levels == {
        "capacity-amber": "head-of-service",
        "capacity-red": "head-of-service",
        "supervision-overdue": None,
        "team-full": "head-of-service",  # a team's breach: to the head of service only
    }

    # across the whole region (breaches of every run): the figures are those of the list
    region = _get(duty, HEAD, "/breaches", region_id=REGION, status="all")
    at = datetime.fromisoformat(region["as_of"])
    open_ = [b for b in region["breaches"] if b["status"] == "open"]
    for breach in region["breaches"]:
        ended = (
            at
            if breach["resolution"] is None
            else datetime.fromisoformat(breach["resolution"]["at"])
        )
        lasted = ended - datetime.fromisoformat(breach["opened_at"])
        assert breach["age_days"] == round(lasted.total_seconds() / 86400, 2), breach["breach_id"]
    assert region["figures"] == {
        "open": len(open_),
        "resolved": len(region["breaches"]) - len(open_),
        "open_unacknowledged": sum(b["acknowledged"] is None for b in open_),
        "with_manager": sum(b["level"] == "manager" for b in open_),
        "with_head_of_service": sum(b["level"] == "head-of-service" for b in open_),
        "open_by_rule": dict(sorted(Counter(b["rule"] for b in open_).items())),
        "oldest_open_days": max(b["age_days"] for b in open_),
    }
    assert region["figures"]["oldest_open_days"] > 0
