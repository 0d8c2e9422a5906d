"""Given an event and the facts around it, when the rules are applied, then these intents."""

from plimsoll_notifications.domain.decisions import (
    OF,
    Addressee,
    Cause,
    Facts,
    Subscription,
    decide,
    escalation,
)
from plimsoll_notifications.rules import load_rules

RULES = load_rules()
BREACH = {
    "breach_id": "BR-1",
    "rule": "capacity-red",
    "subject_kind": "practitioner",
    "subject_id": "P-0001",
    "practitioner_id": "P-0001",
    "team_id": "T-NORTH-1",
    "region_id": "R-NORTH",
    "facts": {"capacity_percent": "112.4"},
}


def cause(event_type="breach-opened", data=None, practitioner="P-0001"):
    return Cause(
        "0195a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
        event_type,
        "/plimsoll/wellbeing",
        practitioner,
        data if data is not None else BREACH,
    )


def addressees(intents):
    return {(str(i.addressee), i.channels) for i in intents}


def test_a_breach_is_told_to_the_practitioner_their_manager_partners_and_ops():
    facts = Facts(
        subscriptions=[
            Subscription("WH-1", frozenset({"breach-opened"})),
            Subscription("WH-2", frozenset({"team-full-declared"})),
        ]
    )
    intents = decide(RULES, cause(), facts)
    assert addressees(intents) == {
        ("practitioner:P-0001", ("inbox",)),
        (f"line-manager:{OF}P-0001", ("email", "inbox")),
        ("partners:WH-1", ("webhook",)),
        ("ops", ("digest",)),
    }
    manager = next(i for i in intents if i.addressee.who == "line-manager")
    assert manager.acknowledge_within_hours == 24
    assert manager.escalate_to == "head-of-service"
    assert manager.step == "breach-opened:BR-1"


def test_what_is_told_is_the_identifiers_only():
    intent = decide(RULES, cause(), Facts())[0]
    assert "facts" not in intent.identifiers
    assert intent.identifiers["breach_id"] == "BR-1"
    assert intent.identifiers["practitioner_id"] == "P-0001"


def test_a_union_representative_is_told_only_with_consent():
    without = decide(RULES, cause(), Facts())
    with_consent = decide(RULES, cause(), Facts(representatives=["uma.union"]))
    assert "union-representative:uma.union" not in {str(i.addressee) for i in without}
    assert "union-representative:uma.union" in {str(i.addressee) for i in with_consent}


def test_a_team_breach_goes_to_the_team_managers_not_to_a_practitioner():
    team = {
        **BREACH,
        "subject_kind": "team",
        "subject_id": "T-NORTH-1",
        "practitioner_id": None,
        "rule": "team-full",
    }
    told = {str(i.addressee) for i in decide(RULES, cause(data=team, practitioner=None), Facts())}
    assert "team-manager:T-NORTH-1" in told
    assert not any(a.startswith(("practitioner", "line-manager")) for a in told)


def test_each_escalation_level_is_its_own_step():
    to_manager = decide(RULES, cause("breach-escalated", {**BREACH, "level": "manager"}), Facts())
    to_head = decide(
        RULES, cause("breach-escalated", {**BREACH, "level": "head-of-service"}), Facts()
    )
    assert {i.step for i in to_manager} == {"breach-escalated:BR-1:manager"}
    assert {i.step for i in to_head} == {"breach-escalated:BR-1:head-of-service"}
    assert "head-of-service:R-NORTH" in {str(i.addressee) for i in to_head}


def test_a_declaration_names_its_line_manager():
    declared = {
        "practitioner_id": "P-0001",
        "declaration_id": "D-1",
        "team_id": "T-NORTH-1",
        "region_id": "R-NORTH",
        "line_manager_id": "P-0100",
        "answer_due_by": "2025-03-12",
    }
    told = {str(i.addressee) for i in decide(RULES, cause("workload-declared", declared), Facts())}
    assert "line-manager:P-0100" in told


def test_the_same_event_twice_gives_the_same_intents():
    assert decide(RULES, cause(), Facts()) == decide(RULES, cause(), Facts())


def test_escalation_goes_to_the_head_of_service_of_the_region():
    assert escalation("head-of-service", "P-0001", {"region_id": "R-NORTH"}, Facts()) == (
        Addressee("head-of-service", "R-NORTH")
    )
    assert escalation("head-of-service", "P-0001", {}, Facts()) == Addressee(
        "head-of-service", f"{OF}P-0001"
    )
