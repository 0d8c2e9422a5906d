"""The policy: proposed, approved by both sides with two accounts, adopted; version 1 the
defaults. Given events, when a command, then events (or a refusal)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from plimsoll_events.types.wellbeing import (
    PolicyAdopted,
    PolicyApproved,
    PolicyProposed,
    PolicyRejected,
    PolicyThresholds,
)
from plimsoll_wellbeing.domain.errors import (
    AlreadyApproved,
    InvalidValue,
    NotFound,
    NotPermitted,
    PolicyNotPending,
    SideAlreadyApproved,
    StalePolicyVersion,
)
from plimsoll_wellbeing.domain.policy import (
    DEFAULT_POLICY,
    DEFAULT_THRESHOLDS,
    POLICY,
    ApprovePolicy,
    ProposePolicy,
    RejectPolicy,
    in_force,
)
from pydantic import ValidationError

AT = datetime(2025, 4, 1, 9, 30, tzinfo=UTC)
UNION = frozenset({"union"})
EMPLOYER = frozenset({"employer"})


def thresholds(**changes: Any) -> PolicyThresholds:
    data = DEFAULT_THRESHOLDS.model_dump()
    for path, value in changes.items():
        group, name = path.split("__")
        data[group][name] = value
    return PolicyThresholds.model_validate(data)


RED_105 = thresholds(capacity_red__percent=105)


def propose(version: int = 2, **overrides: Any) -> ProposePolicy:
    fields: dict[str, Any] = {
        "policy_version": version,
        "thresholds": RED_105,
        "side": "union",
        "actor_id": "uma.union",
        "actor_sides": UNION,
        "reason": "Red at 105%",
        **overrides,
    }
    return ProposePolicy(**fields)


def approve(actor: str, side: str, version: int = 2) -> ApprovePolicy:
    return ApprovePolicy(version, side, actor, frozenset({side}), AT)  # type: ignore[arg-type]


def proposed(version: int = 2, policy: PolicyThresholds = RED_105) -> PolicyProposed:
    return PolicyProposed(
        policy_version=version,
        thresholds=policy,
        proposed_by="uma.union",
        side="union",
        reason="Red at 105%",
    )


def approved(actor: str, side: str, version: int = 2) -> PolicyApproved:
    return PolicyApproved(policy_version=version, approved_by=actor, side=side)  # type: ignore[arg-type]


def refused(command: Any, history: list[Any], error: type[Exception], field: str) -> None:
    with pytest.raises(error) as raised:
        POLICY.run(command, history)
    assert raised.value.field == field  # type: ignore[attr-defined]


def test_version_1_is_the_agreed_defaults_each_with_its_source():
    policy = DEFAULT_POLICY.thresholds
    assert DEFAULT_POLICY.policy_version == 1
    assert DEFAULT_POLICY.adopted_at is None
    assert (policy.capacity_amber.percent, policy.capacity_red.percent) == (100, 110)
    assert (policy.excessive_workload.percent, policy.excessive_workload.weeks) == (110, 4)
    assert policy.average_hours.weeks == 4
    assert (policy.working_time.hours, policy.working_time.weeks) == (48, 17)
    assert policy.daily_rest.hours == 11
    interval = policy.supervision_interval
    assert (interval.days, interval.first_year_days) == (28, 14)
    assert set(interval.first_year_grades) == {"NQO", "PQiP"}
    assert policy.declaration_answer.working_days == 5
    assert policy.supervisor_ratio.staff == 8
    assert policy.team_full.percent == 100
    assert "Cafcass joint statement" in policy.average_hours.source
    assert "Working Time Regulations 1998" in policy.working_time.source
    assert all(getattr(policy, name).source for name in PolicyThresholds.model_fields)


def test_a_proposal_is_the_next_version_whole():
    assert POLICY.run(propose()) == [proposed()]
    refused(propose(3), [], StalePolicyVersion, "policy_version")
    refused(propose(2), [proposed()], StalePolicyVersion, "policy_version")


def test_a_threshold_out_of_range_or_a_window_of_zero_is_refused_by_its_model():
    for change in (
        {"working_time__weeks": 0},
        {"capacity_amber__percent": 0},
        {"declaration_answer__working_days": 0},
        {"team_full__percent": 400},
    ):
        with pytest.raises(ValidationError):
            thresholds(**change)


def test_red_below_amber_or_a_laxer_first_year_is_refused_naming_the_threshold():
    refused(
        propose(thresholds=thresholds(capacity_red__percent=95)),
        [],
        InvalidValue,
        "thresholds.capacity_red.percent",
    )
    refused(
        propose(thresholds=thresholds(supervision_interval__first_year_days=30)),
        [],
        InvalidValue,
        "thresholds.supervision_interval.first_year_days",
    )


def test_a_representative_acts_only_for_their_side():
    refused(propose(side="employer"), [], NotPermitted, "side")
    refused(
        ApprovePolicy(2, "union", "emil.employer", EMPLOYER, AT), [proposed()], NotPermitted, "side"
    )


def test_one_approval_does_not_adopt():
    assert POLICY.run(approve("emil.employer", "employer"), [proposed()]) == [
        approved("emil.employer", "employer")
    ]


def test_the_second_sides_approval_adopts_that_exact_version_in_the_same_decision():
    history = [proposed(), approved("emil.employer", "employer")]

    assert POLICY.run(approve("uma.union", "union"), history) == [
        approved("uma.union", "union"),
        PolicyAdopted(
            policy_version=2,
            thresholds=RED_105,
            adopted_at=AT,
            employer_approved_by="emil.employer",
            union_approved_by="uma.union",
        ),
    ]


def test_the_same_account_cannot_approve_twice_nor_for_both_sides():
    history = [proposed(), approved("uma.union", "union")]
    refused(approve("uma.union", "union"), history, AlreadyApproved, "policy_version")
    both = ApprovePolicy(2, "employer", "uma.union", frozenset({"union", "employer"}), AT)
    refused(both, history, AlreadyApproved, "policy_version")


def test_two_accounts_of_one_side_do_not_make_an_agreement():
    history = [proposed(), approved("uma.union", "union")]
    refused(approve("ursula.union", "union"), history, SideAlreadyApproved, "side")


def test_a_newer_proposal_supersedes_a_pending_one_and_its_approvals():
    history = [proposed(2), approved("emil.employer", "employer"), proposed(3)]
    refused(approve("uma.union", "union", 2), history, PolicyNotPending, "policy_version")
    assert POLICY.run(approve("uma.union", "union", 3), history) == [
        approved("uma.union", "union", 3)
    ]


def test_rejection_is_recorded_and_ends_the_version():
    reject = RejectPolicy(2, "employer", "emil.employer", EMPLOYER, "Not affordable")
    rejected = POLICY.run(reject, [proposed()])
    assert rejected == [
        PolicyRejected(
            policy_version=2, rejected_by="emil.employer", side="employer", reason="Not affordable"
        )
    ]
    refused(
        approve("uma.union", "union"), [proposed(), *rejected], PolicyNotPending, "policy_version"
    )
    refused(approve("uma.union", "union", 7), [proposed()], NotFound, "policy_version")


def test_the_version_in_force_at_an_instant():
    adopted = PolicyAdopted(
        policy_version=2,
        thresholds=RED_105,
        adopted_at=AT,
        employer_approved_by="emil.employer",
        union_approved_by="uma.union",
    )
    later = adopted.model_copy(update={"policy_version": 3, "adopted_at": AT + timedelta(days=30)})

    assert in_force([], AT) == DEFAULT_POLICY
    assert in_force([adopted, later], AT - timedelta(seconds=1)).policy_version == 1
    assert in_force([adopted, later], AT).policy_version == 2
    assert in_force([later, adopted], AT + timedelta(days=31)).policy_version == 3
