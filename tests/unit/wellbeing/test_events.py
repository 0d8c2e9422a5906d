"""The wellbeing events: supervision-held's upcast from v1, and what every event carries."""

from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.types.wellbeing import SupervisionHeld, SupervisionHeldV1

V1 = dict(SupervisionHeldV1.examples[0])


def test_v1_is_read_as_v2_keeping_its_suspended_cases_as_agreed_actions():
    upcast = CATALOGUE.decode("supervision-held", 1, V1)

    assert isinstance(upcast, SupervisionHeld)
    assert upcast.agreed_actions == [
        "Review the risk assessment of X777519 by Friday",
        "Work suspended on case X123456 (recorded in supervision-held v1)",
    ]
    assert upcast.workload_reviewed is True  # it suspended work: the workload was reviewed
    assert upcast.wellbeing_discussed is False
    assert upcast.line_manager_id is None
    assert upcast.supervisor_reason is None
    assert (upcast.practitioner_id, upcast.supervisor_id, upcast.duration_minutes) == (
        "P-0001",
        "P-0100",
        90,
    )


def test_a_v1_event_always_gets_the_same_supervision_id():
    first = CATALOGUE.decode("supervision-held", 1, V1)
    again = CATALOGUE.decode("supervision-held", 1, dict(V1))
    other = CATALOGUE.decode("supervision-held", 1, {**V1, "held_on": "2025-03-05"})

    assert first.supervision_id == again.supervision_id  # type: ignore[attr-defined]
    assert first.supervision_id.startswith("legacy-")  # type: ignore[attr-defined]
    assert other.supervision_id != first.supervision_id  # type: ignore[attr-defined]


def test_a_v1_without_suspensions_drops_blank_actions_and_reviewed_nothing():
    upcast = CATALOGUE.decode(
        "supervision-held",
        1,
        {**V1, "agreed_actions": ["  ", "Book leave"], "work_suspended_case_ids": []},
    )
    assert upcast.agreed_actions == ["Book leave"]  # type: ignore[attr-defined]
    assert upcast.workload_reviewed is False  # type: ignore[attr-defined]


def test_every_wellbeing_event_about_a_practitioner_has_them_as_subject():
    wellbeing = [m for m in CATALOGUE if m.service == "wellbeing"]
    for model in wellbeing:
        event = model.model_validate(model.examples[0])
        if model.type.startswith(("policy-", "team-full-")):
            assert event.subject is None  # the policy, or a team: keyed by their stream
        else:
            assert event.subject == "P-0001", model.type
    assert len({m.type for m in wellbeing}) == 25
