"""Evidence bundles through the audit app on a scratch log: who may have whose bundle (and
every refusal recorded), what a bundle holds (the period's events, the policies in force, the
consents, who read the data), and that plimsoll-verify accepts it and its reports render."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from plimsoll_audit.log import store
from plimsoll_audit.log.leaves import to_leaf
from sqlalchemy import text

from .conftest import cloudevent, leaves

PERIOD = {"period_start": "2025-03-01", "period_end": "2025-03-31"}
MARCH = datetime(2025, 3, 10, 12, tzinfo=UTC)


def other(
    i: int,
    kind: str,
    data: dict,
    *,
    subject: str = "P-0001",
    when=MARCH,
    source: str = "/plimsoll/wellbeing",
):
    return to_leaf(cloudevent(i, kind=kind, subject=subject, source=source, time=when, data=data))


@pytest.fixture
def log(served, app_engine):
    url, signer = served
    with app_engine.begin() as conn:
        store.append(conn, leaves(40))  # P-0001's hours, March 3rd
        store.append(conn, leaves(5, start=40, subject="P-0002"))
        store.append(
            conn,
            [
                other(
                    100,
                    "policy-version-approved",
                    {"version": 3, "capacity_threshold": 110},
                    subject="POLICY",
                    when=datetime(2024, 12, 1, tzinfo=UTC),
                ),
                other(
                    101,
                    "union-consent-given",
                    {"practitioner_id": "P-0001", "representative": "uma.union"},
                    when=datetime(2025, 1, 5, tzinfo=UTC),
                ),
                other(
                    102,
                    "personal-data-read",
                    {
                        "practitioner_id": "P-0001",
                        "reader": "mo.manager",
                        "reader_roles": ["manager"],
                        "served_by": "allocation",
                        "resource": "GET /practitioners/P-0001/capacity",
                        "purpose": "caseload review",
                        "read_at": MARCH.isoformat(),
                    },
                    source="/plimsoll/allocation",
                ),
                other(
                    103,
                    "hours-logged",
                    {"practitioner_id": "P-0001"},
                    when=datetime(2025, 5, 1, tzinfo=UTC),
                ),  # after the period
            ],
        )
    return url, signer


def client(url: str, stack, user: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {stack.token(user)}"}, timeout=60
    )


def recorded(app_engine, kind: str) -> list[dict]:
    with app_engine.connect() as conn:
        rows = conn.execute(
            text("select data from events where type = :t order by position"), {"t": kind}
        ).all()
    return [row[0] for row in rows]


def test_an_auditors_bundle_holds_the_period_the_policies_the_consents_and_the_reads(
    log, stack, app_engine, tmp_path
):
    url, signer = log
    with client(url, stack, "aude.auditor") as auditor:
        answer = auditor.post("/bundles", json={"practitioner_id": "P-0001", **PERIOD})
        assert answer.status_code == 201, answer.text
        exported = answer.json()
        data = auditor.get(exported["links"]["bundle"]).content
        html = auditor.get(exported["links"]["report_html"])
        pdf = auditor.get(exported["links"]["report_pdf"])
    assert exported["events"] == 43  # 40 hours + policy + consent + read; not May, not P-0002
    content = json.loads(data)["content"]
    types = [json.loads(base64.b64decode(e["leaf"]))["type"] for e in content["entries"]]
    assert sum("policy-version-approved" in t for t in types) == 1
    assert sum("union-consent-given" in t for t in types) == 1
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(data)
    script = Path(sys.executable).with_name("plimsoll-verify")
    done = subprocess.run(
        [script, str(bundle), "--key", str(signer.verifier)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout
    assert "43 entries, each proved" in done.stdout
    assert html.status_code == 200
    assert "VERIFIED" in html.text
    assert (
        "mo.manager read GET /practitioners/P-0001/capacity via allocation (caseload review)"
        in html.text
    )
    assert "<svg" in html.text
    assert pdf.content.startswith(b"%PDF")
    exports = recorded(app_engine, "bundle-exported")
    assert exports[-1]["basis"] == "auditor"
    assert exports[-1]["bundle_sha256"] == exported["sha256"]


def test_a_practitioner_has_their_own_bundle_only(log, stack, app_engine):
    url, _ = log
    with client(url, stack, "pat.practitioner") as pat:
        assert pat.post("/bundles", json={"practitioner_id": "P-0001", **PERIOD}).status_code == 201
        refused = pat.post("/bundles", json={"practitioner_id": "P-0002", **PERIOD})
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("outside-scope")
    assert recorded(app_engine, "bundle-refused")[-1]["requested_by"] == "pat.practitioner"


def test_a_union_representative_needs_the_members_consent_and_loses_it_when_withdrawn(
    log, stack, app_engine
):
    url, _ = log
    with client(url, stack, "uma.union") as uma:
        granted = uma.post("/bundles", json={"practitioner_id": "P-0001", **PERIOD})
        assert granted.status_code == 201, granted.text
        assert uma.post("/bundles", json={"practitioner_id": "P-0002", **PERIOD}).status_code == 403
        with app_engine.begin() as conn:
            store.append(
                conn,
                [
                    other(
                        104,
                        "union-consent-withdrawn",
                        {"practitioner_id": "P-0001", "representative": "una.union"},
                        when=datetime(2025, 6, 1, tzinfo=UTC),
                    )
                ],
            )
        # Withdrawing another representative's consent leaves hers standing.
        still = uma.post("/bundles", json={"practitioner_id": "P-0001", **PERIOD})
        assert still.status_code == 201, still.text
        with app_engine.begin() as conn:
            store.append(
                conn,
                [
                    other(
                        105,
                        "union-consent-withdrawn",
                        {"practitioner_id": "P-0001", "representative": "uma.union"},
                        when=datetime(2025, 6, 2, tzinfo=UTC),
                    )
                ],
            )
        withdrawn = uma.post("/bundles", json={"practitioner_id": "P-0001", **PERIOD})
    assert withdrawn.status_code == 403
    assert "withdrew" in withdrawn.json()["detail"]
    exported = recorded(app_engine, "bundle-exported")[-1]
    assert exported["basis"] == "union-consent"
    assert exported["consent_event_id"] == str(uuid.UUID(int=102))
    refusals = [r["reason"] for r in recorded(app_engine, "bundle-refused")]
    assert any("no consent" in r for r in refusals)


@pytest.mark.parametrize("user", ["mo.manager", "hana.head", "ollie.ops"])
def test_others_are_refused_and_the_attempt_recorded(log, stack, app_engine, user):
    url, _ = log
    with client(url, stack, user) as caller:
        answer = caller.post("/bundles", json={"practitioner_id": "P-0001", **PERIOD})
        assert answer.status_code == 403
        assert caller.get("/tile/entries/000").status_code == 403
    assert recorded(app_engine, "bundle-refused")[-1]["requested_by"] == user


def test_bad_periods_are_refused(log, stack):
    url, _ = log
    with client(url, stack, "aude.auditor") as auditor:
        backwards = auditor.post(
            "/bundles",
            json={
                "practitioner_id": "P-0001",
                "period_start": "2025-03-31",
                "period_end": "2025-03-01",
            },
        )
        assert backwards.status_code == 422
        unknown = auditor.post("/bundles", json={"practitioner_id": "P-0001", "x": 1, **PERIOD})
        assert unknown.status_code == 422
