"""Wellbeing's copy of the working-time arithmetic says what timesheet's says, on the same
records (a service may not import another; a test may, to hold the two equal). And the facts
survive their JSON form unchanged."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from plimsoll_platform.clock import is_working_day
from plimsoll_timesheet.domain import figures as timesheet
from plimsoll_timesheet.domain.day import contracted_day_minutes as timesheet_day
from plimsoll_wellbeing.domain import working_time as wellbeing
from plimsoll_wellbeing.duty_codec import facts_from, facts_json, team_from, team_json

from .duty_given import at, capacity, fold, registered, team_capacity
from .given import answered, declared, held, scheduled

KINDS = ("annual", "sickness", "toil", "training")


@pytest.mark.parametrize("seed", range(25))
def test_weeks_and_averages_agree_with_timesheets(seed):
    rng = random.Random(seed)
    hours = Decimal(rng.choice(["37", "30", "22.5", "18.75", "0"]))
    start = date(2025, 1, 1) + timedelta(days=rng.randrange(60))
    leaving = None if rng.random() < 0.7 else start + timedelta(days=rng.randrange(30, 150))

    def contracted(day: date) -> int | None:
        if day < start or (leaving is not None and day > leaving):
            return None
        return wellbeing.contracted_day_minutes(hours, is_working_day(day))

    last = wellbeing.IsoWeek.of(date(2025, 5, 20))
    worked: dict[date, tuple[int, int]] = {}
    records = {}
    for week in wellbeing.window(last, 20):
        for day in week.days():
            if rng.random() < 0.6:
                entries, overtime = rng.randrange(0, 700), rng.choice([0, 0, 90])
                worked[day] = (entries, overtime)
                records[day] = timesheet.DayRecord(day, {"casework": entries}, overtime)
    spans = []
    for i in range(rng.randrange(4)):
        first = date(2025, 1, 6) + timedelta(days=rng.randrange(120))
        spans.append(
            (KINDS[i % 4], first, first + timedelta(days=rng.randrange(8)), rng.choice([None, 120]))
        )
    ours = [wellbeing.LeaveSpan(*s) for s in spans]
    theirs = [timesheet.LeaveSpan(f"L-{i}", *s) for i, s in enumerate(spans)]

    for n in (4, 17):
        window = wellbeing.window(last, n)
        mine = [wellbeing.week_of(w, worked, ours, contracted) for w in window]
        other = [
            timesheet.week_figures(timesheet.IsoWeek(w.year, w.week), records, theirs, contracted)
            for w in window
        ]
        assert [(w.counted_minutes, w.contracted_minutes, w.days_in_post) for w in mine] == [
            (w.counted_minutes, w.contracted_minutes, w.days_in_post) for w in other
        ]
        a, b = wellbeing.average(mine), timesheet.rolling_average(other)
        assert (a.weeks_counted, a.counted_minutes, a.contracted_minutes) == (
            b.weeks_counted,
            b.counted_minutes,
            b.contracted_minutes,
        )
        assert (a.above_contract, a.above_hours(48)) == (b.above_contract, b.above_48_hours)


def test_the_contracted_day_is_timesheets():
    for hours in ("37", "37.5", "22.5", "18.75", "7.25", "0"):
        for working in (True, False):
            assert wellbeing.contracted_day_minutes(Decimal(hours), working) == timesheet_day(
                Decimal(hours), working
            )


def test_facts_and_team_facts_survive_their_json_form():
    monday = date(2025, 3, 3)
    facts = fold(
        [
            (registered(), at(monday)),
            (capacity("104.5"), at(monday, 10)),
            (capacity("99"), at(monday, 11)),
            (capacity("112"), at(monday, 12)),
            (scheduled(scheduled_for=monday + timedelta(days=7)), at(monday)),
            (held(held_on=monday), at(monday)),
            (declared(), at(monday)),
            (answered(), at(monday)),
        ]
    )
    raw = facts_json(facts)
    assert facts_from(facts.practitioner_id, raw) == facts
    from uuid import uuid4

    from plimsoll_wellbeing.domain.duty import TeamFacts, evolve_team

    team = evolve_team(TeamFacts("T-1"), team_capacity("101"), uuid4(), at(monday))
    assert team_from("T-1", team.region_id, team_json(team)) == team
