"""The rules as shipped: every type on the topics read is told of or ignored; a type the rules
do not know is refused with a reason; the document's own checks."""

import pytest
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.refusals import InvalidValue
from plimsoll_notifications.domain.rules import NotKnownToRules, parse_rules
from plimsoll_notifications.rules import load_rules, versions

READ_FROM = {"wellbeing", "allocation"}


def test_the_latest_rules_load_and_say_their_version():
    rules = load_rules()
    assert rules.version == versions()[-1]


def test_every_type_on_the_topics_read_is_told_of_or_ignored():
    known = load_rules().known()
    on_topics = {m.type for m in CATALOGUE.models() if m.service in READ_FROM}
    assert on_topics - known == set(), "decide in rules/vN.toml: tell of them, or ignore them"


def test_every_rule_names_a_type_of_the_catalogue():
    types = {m.type for m in CATALOGUE.models()}
    assert load_rules().known() - types == {"personal-data-read"} - types


def test_an_event_the_rules_do_not_know_is_refused_with_the_reason():
    with pytest.raises(NotKnownToRules, match="neither tell of nor ignore 'hours-logged'"):
        load_rules().for_event("hours-logged", {})


def test_an_ignored_event_tells_nobody():
    assert load_rules().for_event("case-opened", {}) == []


def test_when_picks_the_rule_by_the_event_data():
    rules = load_rules()
    to_head = rules.for_event("breach-escalated", {"level": "head-of-service"})
    assert [r.id for r in to_head] == ["breach-escalated-to-head-of-service"]


def _document(**audience):
    return {
        "version": 1,
        "ignored": [],
        "rule": [
            {
                "id": "r",
                "on": "breach-opened",
                "step": ["breach_id"],
                "identifiers": [],
                "title": "t",
                "urgent": True,
                "audiences": [audience],
            }
        ],
    }


@pytest.mark.parametrize(
    ("audience", "why"),
    [
        ({"who": "partners", "channels": ["email"]}, "partners are told by webhook"),
        ({"who": "line-manager", "channels": ["webhook"]}, "partners are told by webhook"),
        ({"who": "practitioner", "channels": ["digest"]}, "a digest is for ops alone"),
        (
            {"who": "line-manager", "channels": ["email"], "acknowledge_within_hours": 4},
            "goes to the inbox",
        ),
        (
            {"who": "line-manager", "channels": ["inbox"], "escalate_to": "ops"},
            "escalate_to needs",
        ),
    ],
)
def test_a_rule_document_that_makes_no_sense_is_refused(audience, why):
    with pytest.raises(InvalidValue, match=why):
        parse_rules(_document(**audience))


def test_a_type_both_told_of_and_ignored_is_refused():
    document = _document(who="practitioner", channels=["inbox"])
    document["ignored"] = ["breach-opened"]
    with pytest.raises(InvalidValue, match="both ignored and told of"):
        parse_rules(document)
