"""Judging the duty-of-care rules on a practitioner's and a team's facts: given the events, at an
instant, then which conditions hold, since when, and when time alone would change them."""

import random
from datetime import date, time, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from plimsoll_events.types.allocation import PractitionerLeft
from plimsoll_events.types.timesheet import LeaveRecorded, WorkingTimeOptOutRecorded
from plimsoll_wellbeing.domain.duty import Capacity, TeamFacts, evolve_team, next_capacity
from plimsoll_wellbeing.domain.judging import (
    Judgement,
    Member,
    judge_practitioner,
    judge_team,
    midnight_after,
    thresholds_for,
)

from .duty_given import (
    POLICY,
    START,
    at,
    capacity,
    days_of,
    fold,
    logged,
    registered,
    team_capacity,
)
from .given import MANAGER, TEAM, answered, declared, held

MONDAY = date(2025, 3, 3)


def judged(facts, now, days=None) -> Judgement:
    found = judge_practitioner(facts, days or {}, POLICY, now)
    assert found is not None
    return found


def condition(judgement: Judgement, rule: str):
    [found] = [c for c in judgement.conditions if c.rule == rule]
    return found


def test_nothing_is_judged_before_the_practitioner_is_known():
    assert judge_practitioner(fold([]), {}, POLICY, at(MONDAY)) is None


# --- capacity -------------------------------------------------------------------------------------


def _brute_since(points, limit, reaching):
    above = (lambda p: p >= limit) if reaching else (lambda p: p > limit)
    if not above(points[-1][0]):
        return None
    start = 0
    for i, (p, _) in enumerate(points):
        if not above(p):
            start = i + 1
    return points[start][1]


def test_since_when_above_any_threshold_agrees_with_the_whole_history():
    rng = random.Random(7)
    for _ in range(300):
        history = []
        figure: Capacity | None = None
        t = at(MONDAY)
        for _ in range(rng.randrange(1, 25)):
            t += timedelta(hours=rng.randrange(1, 50))
            percent = Decimal(rng.choice(["80", "95", "100", "104.5", "110", "111", "125"]))
            history.append((percent, t))
            figure = next_capacity(figure, capacity(str(percent)), uuid4(), t)
        assert figure is not None
        assert len(figure.lows) <= 7  # only what can still answer
        for limit in (Decimal(90), Decimal(100), Decimal(110), Decimal("110.5"), Decimal(130)):
            for reaching in (False, True):
                assert figure.since(limit, reaching=reaching) == _brute_since(
                    history, limit, reaching
                )


def test_capacity_above_red_holds_since_the_figure_that_went_above():
    crossed = at(MONDAY, 10)
    facts = fold(
        [
            (registered(), at(START)),
            (capacity("96.5"), at(MONDAY, 9)),
            (capacity("112.4"), crossed),
            (capacity("115"), at(MONDAY, 11)),
        ]
    )
    judgement = judged(facts, at(MONDAY, 12))

    red, amber = condition(judgement, "capacity-red"), condition(judgement, "capacity-amber")
    assert (red.holds, red.since, amber.since) == (True, crossed, crossed)
    assert red.facts["capacity_percent"] == "115"
    assert judgement.figures["capacity"]["status"] == "red"
    assert thresholds_for("capacity-red", POLICY.thresholds) == {
        "capacity_red": POLICY.thresholds.capacity_red.model_dump(mode="json")
    }


def test_excessive_workload_after_four_weeks_above_110_without_a_break():
    crossed = at(MONDAY, 10)
    facts = fold([(registered(), at(START)), (capacity("112"), crossed)])
    four_weeks = crossed + timedelta(weeks=4)

    before = condition(judged(facts, four_weeks - timedelta(minutes=1)), "excessive-workload")
    assert (before.holds, before.due_at) == (False, four_weeks)
    after = condition(judged(facts, four_weeks), "excessive-workload")
    assert (after.holds, after.since) == (True, four_weeks)

    dipped = fold(
        [
            (capacity("109"), crossed + timedelta(weeks=2)),
            (capacity("112"), crossed + timedelta(weeks=3)),
        ],
        facts,
    )
    restarted = condition(judged(dipped, four_weeks), "excessive-workload")
    assert (restarted.holds, restarted.due_at) == (False, crossed + timedelta(weeks=7))


def test_a_figure_back_under_the_threshold_clears_it():
    facts = fold(
        [
            (registered(), at(START)),
            (capacity("112"), at(MONDAY)),
            (capacity("98.1"), at(MONDAY, 15)),
        ]
    )
    judgement = judged(facts, at(MONDAY, 16))
    assert not condition(judgement, "capacity-red").holds
    assert not condition(judgement, "capacity-amber").holds


# --- hours ----------------------------------------------------------------------------------------


def _weeks_of(minutes_a_day: int, first_monday: date, weeks: int):
    return [
        logged(first_monday + timedelta(weeks=w, days=d), minutes_a_day)
        for w in range(weeks)
        for d in range(5)
    ]


def test_a_long_month_holds_the_four_week_average_above_contract_until_its_weeks_pass():
    facts = fold([(registered(), at(START))])
    first = MONDAY - timedelta(weeks=4)
    days = days_of(_weeks_of(9 * 60, first, 4))  # 45 hours a week on a 37-hour contract

    monday = condition(judged(facts, at(MONDAY, 8), days), "average-hours")
    assert monday.holds  # this week is empty so far, the four complete weeks are not
    assert monday.facts["above"] == ["complete-weeks"]
    assert monday.facts["complete_weeks"]["average_hours"] == "45.00"
    assert monday.facts["complete_weeks"]["contracted_average_hours"] == "37.00"

    later = condition(judged(facts, at(MONDAY + timedelta(weeks=3), 8), days), "average-hours")
    assert later.holds is False  # 3 of the 4 weeks are empty now: 11.25 hours a week


def test_leave_counts_as_contracted_time_and_never_lowers_the_average():
    facts = fold(
        [
            (registered(), at(START)),
            (
                LeaveRecorded(
                    practitioner_id=registered().practitioner_id,
                    leave_id="L-1",
                    kind="annual",
                    first_day=MONDAY - timedelta(weeks=1),
                    last_day=MONDAY - timedelta(days=3),
                    minutes_per_day=None,
                    note=None,
                ),
                at(START),
            ),
        ]
    )
    days = days_of(_weeks_of(8 * 60, MONDAY - timedelta(weeks=4), 3))  # 40 h, then a week off
    found = condition(judged(facts, at(MONDAY, 8), days), "average-hours")
    assert found.facts["complete_weeks"]["counted_minutes"] == 3 * 2400 + 5 * 444
    assert found.holds  # 40 + 40 + 40 + 37 over 4 weeks is above 37


def test_working_time_over_seventeen_weeks_and_the_opt_out():
    facts = fold([(registered(), at(START))])
    days = days_of(_weeks_of(10 * 60, MONDAY - timedelta(weeks=17), 17))  # 50 hours a week
    found = condition(judged(facts, at(MONDAY, 8), days), "working-time")
    assert found.holds
    assert found.facts["complete_weeks"]["weeks_counted"] == 17

    opted = fold(
        [
            (
                WorkingTimeOptOutRecorded(
                    practitioner_id=facts.practitioner_id,
                    effective_from=MONDAY - timedelta(weeks=20),
                ),
                at(START),
            )
        ],
        facts,
    )
    waived = condition(judged(opted, at(MONDAY, 8), days), "working-time")
    assert (waived.holds, waived.facts["opted_out"]) == (False, True)


def test_less_than_eleven_hours_rest_between_two_working_days():
    facts = fold([(registered(), at(START))])
    days = days_of(
        [
            logged(MONDAY, 14 * 60, time(8, 0), time(22, 0)),
            logged(MONDAY + timedelta(days=1), 60, time(7, 0), time(8, 0)),  # 9 hours' rest
            logged(MONDAY + timedelta(days=2), 7 * 60),  # no times: says nothing of rest
        ]
    )
    tuesday = MONDAY + timedelta(days=1)
    found = condition(judged(facts, at(tuesday, 12), days), "daily-rest")
    assert found.holds
    assert found.facts["short_rests"][0]["rest_minutes"] == 9 * 60
    assert found.since == at(tuesday, 7)
    assert found.due_at == midnight_after(tuesday + timedelta(days=6))
    assert not condition(judged(facts, found.due_at, days), "daily-rest").holds


# --- supervision, declarations, reviews -------------------------------------------------------


def test_supervision_overdue_from_the_midnight_after_its_due_day():
    facts = fold(
        [(registered(), at(START)), (held(held_on=date(2025, 2, 1)), at(date(2025, 2, 1)))]
    )
    due = date(2025, 3, 1)
    before = condition(judged(facts, at(due, 23)), "supervision-overdue")
    assert (before.holds, before.due_at) == (False, midnight_after(due))
    after = condition(judged(facts, midnight_after(due)), "supervision-overdue")
    assert (after.holds, after.since) == (True, midnight_after(due))


def test_a_pqip_in_their_first_year_is_supervised_every_14_days():
    start = date(2025, 1, 6)
    facts = fold([(registered(grade="PQiP", start_date=start), at(start))])
    found = condition(judged(facts, at(date(2025, 1, 21))), "supervision-overdue")
    assert found.holds
    assert found.facts["due_by"] == "2025-01-20"


def test_a_declaration_unanswered_after_its_deadline_until_answered():
    facts = fold([(registered(), at(START)), (declared(), at(date(2025, 3, 5)))])
    due = date(2025, 3, 12)
    assert condition(judged(facts, at(due, 17)), "declaration-unanswered").due_at == midnight_after(
        due
    )
    late = condition(judged(facts, at(due + timedelta(days=1))), "declaration-unanswered")
    assert late.holds
    assert late.facts["overdue"][0]["declaration_id"] == "D-1"
    answered_late = fold([(answered(answered_on=date(2025, 3, 14)), at(date(2025, 3, 14)))], facts)
    assert not condition(
        judged(answered_late, at(date(2025, 3, 14))), "declaration-unanswered"
    ).holds


def test_a_stress_risk_assessment_not_reviewed_by_its_day():
    from .test_assessment import recorded as assessment  # the assessment tests' builder

    review = assessment(review_on=date(2025, 6, 10))
    facts = fold([(registered(), at(START)), (review, at(START))])
    assert not condition(judged(facts, at(date(2025, 6, 10), 18)), "review-overdue").holds
    assert condition(judged(facts, at(date(2025, 6, 11))), "review-overdue").holds


def test_nothing_holds_once_they_have_left():
    facts = fold(
        [
            (registered(), at(START)),
            (capacity("130"), at(MONDAY)),
            (
                PractitionerLeft(practitioner_id=registered().practitioner_id, leaving_date=MONDAY),
                at(MONDAY),
            ),
        ]
    )
    judgement = judged(facts, at(MONDAY + timedelta(days=1)))
    assert not any(c.holds for c in judgement.conditions)
    assert judgement.figures["in_post"] is False


def test_the_next_judgement_is_due_by_next_monday_at_the_latest():
    facts = fold([(registered(), at(START)), (held(held_on=MONDAY), at(MONDAY))])
    judgement = judged(facts, at(MONDAY, 10))
    assert judgement.next_due_at == midnight_after(MONDAY + timedelta(days=6))


# --- a team ---------------------------------------------------------------------------------------


def _team(*percents: str) -> TeamFacts:
    facts = TeamFacts(TEAM)
    for i, percent in enumerate(percents):
        facts = evolve_team(facts, team_capacity(percent), uuid4(), at(MONDAY, 9 + i))
    return facts


def test_a_team_reaching_its_full_threshold():
    team = judge_team(_team("96", "100"), [], None, POLICY, at(MONDAY, 12))
    assert team is not None
    full = condition(team, "team-full")
    assert (full.holds, full.since) == (True, at(MONDAY, 10))  # at 100%: reached
    assert full.facts["declared_full"] is False
    cleared = judge_team(_team("96", "100", "99.9"), [], None, POLICY, at(MONDAY, 12))
    assert cleared is not None
    assert not condition(cleared, "team-full").holds


def test_a_supervisor_with_more_than_eight_staff():
    members = [Member(f"P-{i}", MANAGER) for i in range(9)] + [Member("P-X", "P-0101")]
    team = judge_team(_team("90"), members, None, POLICY, at(MONDAY))
    assert team is not None
    ratio = condition(team, "supervisor-ratio")
    assert ratio.holds
    assert ratio.facts["supervisors_over"] == [{"line_manager_id": MANAGER, "staff": 9}]
    eight = judge_team(_team("90"), members[1:], None, POLICY, at(MONDAY))
    assert eight is not None
    assert not condition(eight, "supervisor-ratio").holds


def test_a_team_whose_region_is_unknown_is_not_judged():
    assert judge_team(TeamFacts(TEAM), [], None, POLICY, at(MONDAY)) is None


@pytest.mark.parametrize("seed", range(20))
def test_how_the_three_topics_interleave_changes_no_fact(seed):
    from plimsoll_wellbeing.duty_codec import facts_json

    producers = [
        [
            (registered(), at(START)),
            (capacity("104"), at(MONDAY)),
            (capacity("112"), at(MONDAY, 11)),
        ],
        [
            (
                LeaveRecorded(
                    practitioner_id=registered().practitioner_id,
                    leave_id="L",
                    kind="annual",
                    first_day=MONDAY,
                    last_day=MONDAY,
                    minutes_per_day=None,
                    note=None,
                ),
                at(MONDAY),
            )
        ],
        [(held(held_on=MONDAY), at(MONDAY)), (declared(), at(MONDAY)), (answered(), at(MONDAY))],
    ]
    in_order = fold([e for producer in producers for e in producer])
    rng = random.Random(seed)
    queues = [list(p) for p in producers]
    shuffled = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        shuffled.append(queue.pop(0))
    assert facts_json(fold(shuffled)) == facts_json(in_order)
