"""A breach's lifecycle: given its stream's events, when a command, then events (or a refusal)."""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from plimsoll_events.types.wellbeing import (
    BreachAcknowledged,
    BreachCause,
    BreachEscalated,
    BreachOpened,
    BreachRejudged,
    BreachResolved,
)
from plimsoll_wellbeing.domain.breach import (
    BREACH,
    Acknowledge,
    AlreadyAcknowledged,
    BreachNotOpen,
    EscalateDue,
    Judge,
    ResolveByDecision,
    Subject,
    breach_id,
    breach_stream,
)
from plimsoll_wellbeing.domain.errors import NotFound

from .given import PRACTITIONER, REGION, TEAM

NOW = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)  # a Wednesday
SINCE = datetime(2025, 3, 5, 9, 30, tzinfo=UTC)
PAT = Subject("practitioner", PRACTITIONER, PRACTITIONER, TEAM, REGION)
TEAM_SUBJECT = Subject("team", TEAM, None, TEAM, REGION)
STREAM = breach_stream("capacity-red", "practitioner", PRACTITIONER)
FIRST = breach_id(STREAM, 1)
CAUSE = BreachCause(
    kind="event",
    event_id=uuid4(),
    event_type="capacity-changed",
    source="/plimsoll/allocation",
    at=SINCE,
)


def judge(holds: bool = True, **overrides: Any) -> Judge:
    fields: dict[str, Any] = {
        "rule": "capacity-red",
        "subject": PAT,
        "holds": holds,
        "facts": {"capacity_percent": "112.4"},
        "thresholds": {"capacity_red": {"percent": 110, "source": "WMT"}},
        "policy_version": 1,
        "breached_since": SINCE,
        "cause": CAUSE,
        "judged_at": NOW,
        "acknowledge_by": date(2025, 3, 7),
        "escalate_by": date(2025, 3, 12),
        **overrides,
    }
    return Judge(**fields)


def opened(**overrides: Any) -> BreachOpened:
    [event] = BREACH.run(judge(**overrides))
    assert isinstance(event, BreachOpened)
    return event


def test_a_condition_holding_opens_a_breach_with_its_facts_thresholds_and_policy():
    [event] = BREACH.run(judge())

    assert event == BreachOpened(
        breach_id=FIRST,
        rule="capacity-red",
        subject_kind="practitioner",
        subject_id=PRACTITIONER,
        practitioner_id=PRACTITIONER,
        team_id=TEAM,
        region_id=REGION,
        facts={"capacity_percent": "112.4"},
        thresholds={"capacity_red": {"percent": 110, "source": "WMT"}},
        policy_version=1,
        breached_since=SINCE,
        cause=CAUSE,
        judged_at=NOW,
        acknowledge_by=date(2025, 3, 7),
        escalate_by=date(2025, 3, 12),
    )
    assert event.subject == PRACTITIONER  # the Kafka key and CloudEvents subject


def test_judging_the_same_again_records_nothing():
    assert BREACH.run(judge(), [opened()]) == []
    assert BREACH.run(judge(holds=False), []) == []


def test_one_breach_per_rule_and_subject_is_open_at_a_time():
    later = judge(breached_since=SINCE + timedelta(hours=3), facts={"capacity_percent": "130"})
    assert BREACH.run(later, [opened()]) == []


def test_the_condition_clearing_resolves_it_citing_the_cause():
    clearing = CAUSE.model_copy(update={"event_id": uuid4(), "at": NOW})
    [event] = BREACH.run(judge(holds=False, cause=clearing, facts={"x": 1}), [opened()])

    assert isinstance(event, BreachResolved)
    assert (event.breach_id, event.how, event.cause, event.facts) == (
        FIRST,
        "condition-cleared",
        clearing,
        {"x": 1},
    )
    assert event.decided_by is None
    assert event.reason is None


def test_a_new_policy_version_rejudges_an_open_breach_and_says_so():
    [event] = BREACH.run(judge(policy_version=2), [opened()])

    assert isinstance(event, BreachRejudged)
    assert (event.policy_version, event.previous_policy_version) == (2, 1)
    rejudged = [opened(), event]
    assert BREACH.run(judge(policy_version=2), rejudged) == []  # judged under v2 now
    [resolved] = BREACH.run(judge(holds=False, policy_version=3), rejudged)
    assert isinstance(resolved, BreachResolved)
    assert resolved.policy_version == 3


def test_after_a_resolution_the_next_breach_is_the_second():
    history = [opened(), *BREACH.run(judge(holds=False), [opened()])]
    [event] = BREACH.run(judge(breached_since=NOW + timedelta(days=2)), history)

    assert isinstance(event, BreachOpened)
    assert event.breach_id == breach_id(STREAM, 2) != FIRST


def test_acknowledging_an_open_breach_once():
    [event] = BREACH.run(Acknowledge(FIRST, "mo.manager", "On it"), [opened()])
    assert event == BreachAcknowledged(
        breach_id=FIRST,
        rule="capacity-red",
        **PAT.fields(),
        acknowledged_by="mo.manager",
        note="On it",
    )

    with pytest.raises(AlreadyAcknowledged) as refused:
        BREACH.run(Acknowledge(FIRST, "hana.head"), [opened(), event])
    assert refused.value.field == "breach_id"


def test_a_resolved_breach_cannot_be_acknowledged_nor_resolved():
    history = [opened(), *BREACH.run(judge(holds=False), [opened()])]
    with pytest.raises(BreachNotOpen):
        BREACH.run(Acknowledge(FIRST, "mo.manager"), history)
    with pytest.raises(BreachNotOpen):
        BREACH.run(ResolveByDecision(FIRST, "mo.manager", "Done", NOW, 1), history)
    with pytest.raises(NotFound):
        BREACH.run(Acknowledge("BR-000000000000-1", "mo.manager"), history)


def test_resolved_by_a_decision_it_stays_resolved_for_that_episode():
    [decided] = BREACH.run(ResolveByDecision(FIRST, "hana.head", "Cases moved", NOW, 1), [opened()])
    assert isinstance(decided, BreachResolved)
    assert (decided.how, decided.decided_by, decided.reason, decided.cause) == (
        "decision",
        "hana.head",
        "Cases moved",
        None,
    )
    history = [opened(), decided]

    assert BREACH.run(judge(), history) == []  # still holding since the same instant
    assert BREACH.run(judge(policy_version=2), history) == []
    [again] = BREACH.run(judge(breached_since=NOW + timedelta(days=1)), history)  # held anew
    assert isinstance(again, BreachOpened)
    assert again.breach_id == breach_id(STREAM, 2)


def test_an_unacknowledged_breach_goes_to_the_manager_then_the_head_of_service():
    history = [opened()]
    assert BREACH.run(EscalateDue(date(2025, 3, 7)), history) == []  # its last day
    [manager] = BREACH.run(EscalateDue(date(2025, 3, 8)), history)
    assert isinstance(manager, BreachEscalated)
    assert (
        manager.level,
        manager.deadline_missed,
        manager.escalated_on,
        manager.next_deadline,
    ) == (
        "manager",
        date(2025, 3, 7),
        date(2025, 3, 8),
        date(2025, 3, 12),
    )
    history.append(manager)
    assert BREACH.run(EscalateDue(date(2025, 3, 10)), history) == []  # never twice to a level
    [head] = BREACH.run(EscalateDue(date(2025, 3, 13)), history)
    assert isinstance(head, BreachEscalated)
    assert (head.level, head.next_deadline) == ("head-of-service", None)
    assert BREACH.run(EscalateDue(date(2025, 4, 1)), [*history, head]) == []


def test_both_deadlines_missed_goes_straight_to_the_head_of_service():
    [event] = BREACH.run(EscalateDue(date(2025, 3, 20)), [opened()])
    assert isinstance(event, BreachEscalated)
    assert event.level == "head-of-service"


def test_an_acknowledged_breach_escalates_no_further():
    acknowledged = BreachAcknowledged(
        breach_id=FIRST, rule="capacity-red", **PAT.fields(), acknowledged_by="mo", note=None
    )
    assert BREACH.run(EscalateDue(date(2025, 3, 20)), [opened(), acknowledged]) == []


def test_a_teams_breach_goes_to_the_head_of_service_only():
    team = opened(subject=TEAM_SUBJECT, rule="team-full")
    assert BREACH.run(EscalateDue(date(2025, 3, 8)), [team]) == []
    [event] = BREACH.run(EscalateDue(date(2025, 3, 13)), [team])
    assert isinstance(event, BreachEscalated)
    assert event.level == "head-of-service"
    assert team.practitioner_id is None
    assert team.subject is None


def test_nothing_escalates_without_an_open_breach():
    assert BREACH.run(EscalateDue(date(2025, 4, 1)), []) == []
