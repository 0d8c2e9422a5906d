"""Weighting schemes served from their streams, Cafcass stages, regions and overrides, end to end.

The service's database persists between runs and is shared by every test, so
the scheme test brings a changed probation scheme back to the default's
weights (as the next version) before it ends.
"""

import uuid
from decimal import ROUND_HALF_UP, Decimal

import pytest

from ..calendar import uk_today
from .api import (
    TEAM,
    allocate_case,
    assert_problem,
    fresh_suffix,
    open_case,
    read_capacity,
    register_practitioner,
)

pytestmark = pytest.mark.stack


def _scheme(api, tokens, kind: str) -> dict:
    response = api.get(f"/weighting-schemes/{kind}", headers=tokens("hana.head"))
    assert response.status_code == 200, response.text
    return response.json()


def _with_c1(scheme: dict, points: int, version: int) -> dict:
    tiers = {**scheme["tier_points"]["community"], "C1": points}
    return {
        **scheme,
        "version": version,
        "tier_points": {**scheme["tier_points"], "community": tiers},
    }


def test_schemes_in_force_are_listed(api, tokens):
    response = api.get("/weighting-schemes", headers=tokens("pat.practitioner"))
    assert response.status_code == 200, response.text
    kinds = [view["kind"] for view in response.json()]
    assert kinds == ["probation", "cafcass"]
    assert api.get("/weighting-schemes/nope", headers=tokens("hana.head")).status_code == 404


def test_scheme_change_reweighs_open_cases_and_capacity(api, tokens, allocation_store):
    practitioner_id = register_practitioner(api, tokens)
    case_id = open_case(api, tokens, "community", "C1")
    assert allocate_case(api, tokens, case_id, practitioner_id).status_code == 201
    in_force = _scheme(api, tokens, "probation")["scheme"]
    c1 = in_force["tier_points"]["community"]["C1"]
    before = read_capacity(api, tokens, practitioner_id)
    assert before["total_points"] == c1

    # A stale version is refused, and nothing is written.
    stream = "weighting-scheme-probation"
    written = len(allocation_store.read_stream(stream))
    stale = api.put(
        "/weighting-schemes/probation",
        json=_with_c1(in_force, c1 + 10, in_force["version"]),
        headers=tokens("ada.admin"),
    )
    assert assert_problem(stale, 409, "version")["type"].endswith("/stale-scheme-version")
    # A scheme holds in every region: neither a manager nor a head of service changes it.
    for user in ("mo.manager", "hana.head"):
        forbidden = api.put(
            "/weighting-schemes/probation",
            json=_with_c1(in_force, c1 + 10, in_force["version"] + 1),
            headers=tokens(user),
        )
        assert forbidden.status_code == 403, forbidden.text
    assert len(allocation_store.read_stream(stream)) == written

    changed = api.put(
        "/weighting-schemes/probation",
        json=_with_c1(in_force, c1 + 10, in_force["version"] + 1),
        params={"reason": "stack test"},
        headers=tokens("ada.admin"),
    )
    try:
        assert changed.status_code == 200, changed.text
        assert changed.json()["scheme"]["version"] == in_force["version"] + 1
        assert changed.json()["cases_reweighed"] >= 1
        assert changed.json()["recorded"] is True
        # The same change sent again (an answer lost, say): success, and nothing recorded.
        again = api.put(
            "/weighting-schemes/probation",
            json=_with_c1(in_force, c1 + 10, in_force["version"] + 1),
            headers=tokens("ada.admin"),
        )
        assert again.status_code == 200, again.text
        assert again.json()["recorded"] is False
        assert again.json()["cases_reweighed"] == changed.json()["cases_reweighed"]
        assert len(allocation_store.read_stream(stream)) == written + 1
        # ...but that version with other content is stale.
        other = api.put(
            "/weighting-schemes/probation",
            json=_with_c1(in_force, c1 + 11, in_force["version"] + 1),
            headers=tokens("ada.admin"),
        )
        assert_problem(other, 409, "version")
        assert _scheme(api, tokens, "probation")["scheme"]["version"] == in_force["version"] + 1
        assert allocation_store.read_stream(stream)[-1].type == "weighting-scheme-changed"
        last = allocation_store.read_stream(f"case-{case_id}")[-1]
        assert last.type == "case-weighting-changed"
        assert last.data["cause"] == "scheme-changed"
        assert last.data["points"] == c1 + 10
        after = read_capacity(api, tokens, practitioner_id)
        assert after["total_points"] == c1 + 10
        assert Decimal(after["capacity_percent"]) > Decimal(before["capacity_percent"])
        # New cases are weighed under the version in force.
        new_case = open_case(api, tokens, "community", "C1")
        read = api.get(f"/cases/{new_case}", headers=tokens("mo.manager")).json()
        assert read["points"] == c1 + 10
        assert read["weighting_scheme_version"] == in_force["version"] + 1
    finally:
        restored = api.put(
            "/weighting-schemes/probation",
            json=_with_c1(in_force, c1, in_force["version"] + 2),
            params={"reason": "stack test: back to the agreed weights"},
            headers=tokens("ada.admin"),
        )
        assert restored.status_code == 200, restored.text
    assert read_capacity(api, tokens, practitioner_id)["total_points"] == c1


def test_stage_change_on_a_cafcass_case(api, tokens, allocation_store):
    case_id = f"X{fresh_suffix()}"
    body = {
        "case_id": case_id,
        "team_id": TEAM,
        "case_type": "private-law",
        "stage": "work-before-first-hearing",
    }
    opened = api.post("/cases", json=body, headers=tokens("mo.manager"))
    assert opened.status_code == 201, opened.text
    hours = _scheme(api, tokens, "cafcass")["scheme"]["weekly_hours"]["private-law"]
    assert opened.json()["points"] == round(Decimal(str(hours["work-before-first-hearing"])) * 60)

    moved = api.put(
        f"/cases/{case_id}/stage", json={"stage": "section-7-report"}, headers=tokens("mo.manager")
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["stage"] == "section-7-report"
    assert moved.json()["points"] == round(Decimal(str(hours["section-7-report"])) * 60)
    last = allocation_store.read_stream(f"case-{case_id}")[-1]
    assert last.type == "case-weighting-changed"
    assert last.data["cause"] == "stage-changed"

    written = len(allocation_store.read_stream(f"case-{case_id}"))
    unknown = api.put(
        f"/cases/{case_id}/stage", json={"stage": "no-such-stage"}, headers=tokens("mo.manager")
    )
    assert_problem(unknown, 422, "stage")
    probation = open_case(api, tokens, "community", "C1")
    refused = api.put(
        f"/cases/{probation}/stage", json={"stage": "section-7-report"}, headers=tokens("hana.head")
    )
    assert_problem(refused, 422, "stage")
    assert len(allocation_store.read_stream(f"case-{case_id}")) == written


def test_region_capacity_pools_two_teams(api, tokens):
    """In R-SOUTH, hugo.head's region, which only the tests of this module add to."""
    region, head = "R-SOUTH", "hugo.head"

    def figures() -> dict:
        view = api.get(f"/regions/{region}/capacity", headers=tokens(head))
        assert view.status_code == 200, view.text
        return view.json()

    def register(team: str) -> str:
        practitioner_id = f"P-R-{fresh_suffix()}"
        body = {
            "practitioner_id": practitioner_id,
            "name": f"Region Tester {practitioner_id}",
            "grade": "PO",
            "team_id": team,
            "region_id": region,
            "contracted_hours": "37",
            "start_date": "2024-09-02",
        }
        response = api.post("/practitioners", json=body, headers=tokens(head))
        assert response.status_code == 201, response.text
        return practitioner_id

    before = figures()
    team_a, team_b = f"T-SOUTH-A-{fresh_suffix()}", f"T-SOUTH-B-{fresh_suffix()}"
    full = register(team_a)
    register(team_b)
    for _ in range(4):
        case_id = open_case(api, tokens, "licence", "A1", team=team_a, user=head)
        assert allocate_case(api, tokens, case_id, full, user=head).status_code == 201

    region_view = figures()
    assert region_view["total_points"] - before["total_points"] == 4 * 163
    assert region_view["available_points"] - before["available_points"] == 2 * 2176
    # Σ points / Σ available points over the whole region, not a mean of the teams'.
    pooled = Decimal(region_view["total_points"]) / region_view["available_points"]
    rounded = pooled.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) * 100
    assert Decimal(region_view["capacity_percent"]) == rounded
    teams = {t["team_id"]: t for t in region_view["teams"]}
    assert Decimal(teams[team_a]["capacity_percent"]) == Decimal("30.0")
    assert teams[team_b]["total_points"] == 0
    assert sum(t["total_points"] for t in teams.values()) == region_view["total_points"]

    ops = api.get(f"/regions/{region}/capacity", headers=tokens("ollie.ops"))
    assert ops.status_code == 200, ops.text
    assert ops.json()["teams"] is None
    assert ops.json()["capacity_percent"] == region_view["capacity_percent"]
    # Not another region's head, nor a manager or a practitioner.
    elsewhere = api.get(f"/regions/{region}/capacity", headers=tokens("hana.head"))
    assert_problem(elsewhere, 403, "region_id")
    for user in ("mo.manager", "pat.practitioner"):
        assert api.get(f"/regions/{region}/capacity", headers=tokens(user)).status_code == 403


def test_overrides_are_listed_for_the_head_of_service(api, tokens):
    practitioner_id = register_practitioner(api, tokens, hours="3.7")  # 217 available points
    case_id = open_case(api, tokens, "licence", "A3")  # 219 points: 100.9%
    reason = f"Only PO with the language {uuid.uuid4().hex[:6]}"
    allocated = allocate_case(api, tokens, case_id, practitioner_id, override_reason=reason)
    assert allocated.status_code == 201, allocated.text

    listed = api.get(
        "/overrides",
        params={"since": uk_today().isoformat(), "team_id": "T-NORTH-1"},
        headers=tokens("hana.head"),
    )
    assert listed.status_code == 200, listed.text
    mine = [o for o in listed.json()["overrides"] if o["case_id"] == case_id]
    assert len(mine) == 1, listed.json()
    override = mine[0]
    assert override["reason"] == reason
    assert override["practitioner_id"] == practitioner_id
    assert override["decided_by_role"] == "manager"
    assert override["exceeded"] == "override-threshold"
    assert Decimal(str(override["capacity_after_percent"])) == Decimal("100.9")
    assert Decimal(str(override["capacity_before_percent"])) == Decimal("0")

    # The manager sees their own team's; not another team's; a practitioner sees none.
    own = api.get("/overrides", headers=tokens("mo.manager"))
    assert own.status_code == 200, own.text
    assert case_id in [o["case_id"] for o in own.json()["overrides"]]
    other = api.get("/overrides", params={"team_id": "T-ELSEWHERE"}, headers=tokens("mo.manager"))
    assert_problem(other, 403, "team_id")
    assert api.get("/overrides", headers=tokens("pat.practitioner")).status_code == 403


def test_reduction_reconciliation_runs_on_demand_for_admins_and_services_only(api, tokens, stack):
    service = {"Authorization": f"Bearer {stack.service_token('allocation')}"}
    done = api.post("/reductions/reconciliation", headers=service)
    assert done.status_code == 200, done.text
    assert done.json()["practitioners_examined"] >= 1
    assert done.json()["events_recorded"] >= 0
    again = api.post("/reductions/reconciliation", headers=tokens("ada.admin"))
    assert again.status_code == 200
    assert again.json()["events_recorded"] == 0  # the first run recorded what was due
    refused = api.post("/reductions/reconciliation", headers=tokens("mo.manager"))
    assert refused.status_code == 403
