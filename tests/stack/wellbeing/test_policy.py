"""The policy through the public API: proposed, approved by both sides with two accounts,
adopted, readable as of any instant. The policy stream is shared by every run, so each test
proposes the next version after whatever is there."""

from datetime import UTC, datetime, timedelta

import pytest
from plimsoll_wellbeing.domain.policy import DEFAULT_THRESHOLDS, POLICY_STREAM

from .helpers import assert_problem

pytestmark = pytest.mark.stack


def next_version(wb) -> int:
    versions = wb("uma.union").get("/policy/history").json()["versions"]
    return max(v["policy_version"] for v in versions) + 1


def thresholds(**changes) -> dict:
    data = DEFAULT_THRESHOLDS.model_dump(mode="json")
    for path, value in changes.items():
        group, name = path.split("__")
        data[group][name] = value
    return data


def propose(wb, version: int, user: str = "uma.union", **changes):
    body = {
        "policy_version": version,
        "thresholds": thresholds(**changes),
        "reason": "Red at 105%, as agreed at the joint committee",
    }
    return wb(user).post("/policy/proposals", json=body)


def test_version_1_is_the_defaults_with_their_sources(wb):
    history = wb("emil.employer").get("/policy/history").json()
    first = history["versions"][0]

    assert first["policy_version"] == 1
    assert first["proposed_by"] is None
    assert first["thresholds"]["working_time"] == {
        "hours": 48,
        "weeks": 17,
        "source": "Working Time Regulations 1998, regulation 4: 48 hours a week averaged over "
        "17 weeks, unless the worker has opted out",
    }
    before_anything = wb("mo.manager").get("/policy", params={"as_of": "2000-01-01T00:00:00Z"})
    assert before_anything.json()["policy_version"] == 1


def test_a_version_takes_effect_once_both_sides_approve_it_with_two_accounts(wb):
    version = next_version(wb)
    before = datetime.now(UTC)
    proposed = propose(wb, version, capacity_red__percent=105)
    assert proposed.status_code == 201, proposed.text
    assert proposed.json()["status"] == "pending"

    path = f"/policy/proposals/{version}/approval"
    half = wb("emil.employer").post(path, json={})
    assert half.json()["status"] == "pending"
    assert wb("mo.manager").get("/policy").json()["policy_version"] != version

    adopted = wb("uma.union").post(path, json={})
    assert adopted.status_code == 200, adopted.text
    assert adopted.json()["status"] == "adopted"
    in_force = wb("mo.manager").get("/policy").json()
    assert in_force["policy_version"] == version
    assert in_force["thresholds"]["capacity_red"]["percent"] == 105
    assert (in_force["employer_approved_by"], in_force["union_approved_by"]) == (
        "emil.employer",
        "uma.union",
    )
    earlier = wb("mo.manager").get("/policy", params={"as_of": before.isoformat()}).json()
    assert earlier["policy_version"] < version


def test_a_second_approval_by_the_same_account_is_refused_and_nothing_written(wb, wellbeing_store):
    version = next_version(wb)
    assert propose(wb, version).status_code == 201
    path = f"/policy/proposals/{version}/approval"
    assert wb("uma.union").post(path, json={}).status_code == 200
    written = len(wellbeing_store.read_stream(POLICY_STREAM))

    again = wb("uma.union").post(path, json={})
    as_employer = wb("uma.union").post(path, json={"side": "employer"})

    assert_problem(again, 409, "policy_version")
    assert_problem(as_employer, 403, "side")  # uma is no employer representative
    assert len(wellbeing_store.read_stream(POLICY_STREAM)) == written


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"working_time__weeks": 0}, "thresholds.working_time.weeks"),
        ({"declaration_answer__working_days": 0}, "thresholds.declaration_answer.working_days"),
        ({"capacity_amber__percent": 1000}, "thresholds.capacity_amber.percent"),
        ({"capacity_red__percent": 90}, "thresholds.capacity_red.percent"),
    ],
)
def test_a_threshold_out_of_range_or_a_window_of_zero_is_refused_naming_it(
    wb, wellbeing_store, change, field
):
    written = len(wellbeing_store.read_stream(POLICY_STREAM))

    assert_problem(propose(wb, next_version(wb), **change), 422, field)
    assert len(wellbeing_store.read_stream(POLICY_STREAM)) == written


def test_rejection_is_recorded_and_a_newer_proposal_supersedes_a_pending_one(wb):
    first = next_version(wb)
    propose(wb, first)
    rejected = wb("emil.employer").post(
        f"/policy/proposals/{first}/rejection", json={"reason": "Not affordable this year"}
    )
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection"]["rejected_by"] == "emil.employer"
    assert_problem(
        wb("uma.union").post(f"/policy/proposals/{first}/approval", json={}), 409, "policy_version"
    )

    second = first + 1
    propose(wb, second)
    wb("emil.employer").post(f"/policy/proposals/{second}/approval", json={})
    propose(wb, second + 1, user="emil.employer")
    history = {
        v["policy_version"]: v for v in wb("uma.union").get("/policy/history").json()["versions"]
    }
    assert history[second]["status"] == "superseded"
    assert history[second + 1]["proposed_by"] == "emil.employer"


def test_only_representatives_propose_and_approve_and_a_stale_version_is_refused(wb):
    version = next_version(wb)
    assert_problem(propose(wb, version, user="mo.manager"), 403)
    assert_problem(propose(wb, version, user="ada.admin"), 403)
    assert_problem(propose(wb, version - 1), 409, "policy_version")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert wb("ollie.ops").get("/policy", params={"as_of": future}).status_code == 200
