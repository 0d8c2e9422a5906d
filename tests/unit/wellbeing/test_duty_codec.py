"""The duty-of-care facts survive their JSON form unchanged (the working-time arithmetic they
are judged by is the kit's, tested in tests/unit/platform/test_working_time.py)."""

from datetime import date, timedelta
from uuid import uuid4

from plimsoll_events.types.timesheet import LeaveRecorded
from plimsoll_platform.working_time import LeaveSpan
from plimsoll_wellbeing.domain.duty import TeamFacts, evolve_team
from plimsoll_wellbeing.duty_codec import facts_from, facts_json, team_from, team_json

from .duty_given import at, capacity, fold, registered, team_capacity
from .given import answered, declared, held, scheduled


def test_facts_and_team_facts_survive_their_json_form():
    monday = date(2025, 3, 3)
    leave = LeaveRecorded(
        practitioner_id=registered().practitioner_id,
        leave_id="L-1",
        kind="annual",
        first_day=monday,
        last_day=monday + timedelta(days=2),
        minutes_per_day=120,
        note=None,
    )
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
            (leave, at(monday)),
        ]
    )
    assert facts.leave == {"L-1": LeaveSpan("L-1", "annual", monday, date(2025, 3, 5), 120)}
    raw = facts_json(facts)
    assert facts_from(facts.practitioner_id, raw) == facts

    team = evolve_team(TeamFacts("T-1"), team_capacity("101"), uuid4(), at(monday))
    assert team_from("T-1", team.region_id, team_json(team)) == team
