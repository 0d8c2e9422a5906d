"""The running audit service (the local stack's): C2SP tile routes and their refusals, proofs
by event id, the log fed with the other services' events, and a refused bundle request
recorded in the log itself."""

from __future__ import annotations

import base64
import time

import pytest
import sqlalchemy
from plimsoll_audit.log.merkle import leaf_hash, verify_inclusion
from plimsoll_audit.log.tiles import encode_index, unbundle
from sqlalchemy import text
from sqlalchemy.engine import make_url


@pytest.fixture(scope="module")
def auditor(service_api):
    return service_api("audit", "aude.auditor")


def size_of(auditor) -> int:
    return int(auditor.get("/checkpoint").text.split("\n")[1])


def test_the_log_holds_the_other_services_events(auditor):
    assert size_of(auditor) > 0
    proof = auditor.get("/proofs/inclusion", params={"index": 0}).json()
    tile = auditor.get("/tile/0/000.p/1").content
    assert base64.b64decode(proof["leaf_hash"]) == tile[:32]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tile/0/x999/x999/999", 404),
        ("/tile/5/000", 404),
        ("/tile/entries/x999/999", 404),
        ("/tile/00/000", 400),
        ("/tile/0/1", 400),
        ("/tile/0/000.p/256", 400),
        ("/tile/64/000", 400),
    ],
)
def test_tiles_past_the_tree_are_404_and_malformed_paths_400(auditor, path, status):
    assert auditor.get(path).status_code == status


def test_an_entry_bundle_hashes_to_its_level_0_tile(auditor):
    size = size_of(auditor)
    width = min(size, 256)
    suffix = "" if width == 256 else f".p/{width}"
    entries = unbundle(auditor.get(f"/tile/entries/000{suffix}").content)
    tile = auditor.get(f"/tile/0/000{suffix}").content
    assert [leaf_hash(e) for e in entries] == [tile[i : i + 32] for i in range(0, 32 * width, 32)]


def test_proofs_past_the_tree_are_400_and_unknown_events_404(auditor):
    size = size_of(auditor)
    assert auditor.get("/proofs/consistency", params={"first": size + 10}).status_code == 400
    assert (
        auditor.get("/proofs/consistency", params={"first": 1, "second": 10**9}).status_code == 400
    )
    assert auditor.get("/proofs/inclusion", params={"index": 10**9}).status_code == 400
    assert auditor.get("/proofs/inclusion", params={"event_id": "no-such"}).status_code == 404


def test_entries_are_for_auditors_only_and_signed_hashes_for_anyone(service_api):
    assert service_api("audit", "pat.practitioner").get("/tile/entries/000.p/1").status_code == 403
    nobody = service_api("audit")
    assert nobody.get("/tile/entries/000.p/1").status_code == 401
    # A tile client sends no token: the checkpoint, hash tiles and proofs are public.
    assert nobody.get("/tile/0/000.p/1").status_code == 200
    assert nobody.get("/checkpoint").status_code == 200
    assert nobody.get("/proofs/inclusion", params={"index": 0}).status_code == 200
    assert nobody.post("/checkpoint").status_code == 401


def test_a_refused_bundle_request_enters_the_log_and_is_provable(stack, service_api, auditor):
    refused = service_api("audit", "mo.manager").post(
        "/bundles",
        json={
            "practitioner_id": "P-0001",
            "period_start": "2025-01-01",
            "period_end": "2025-12-31",
        },
    )
    assert refused.status_code == 403
    # The service's own store belongs to its application role, which created it.
    engine = sqlalchemy.create_engine(make_url(stack.postgres["audit"]).set(username="audit_app"))
    with engine.connect() as conn:
        event_id = conn.execute(
            text(
                "select event_id from events where type = 'bundle-refused' and "
                "metadata->>'actor' = 'mo.manager' order by position desc limit 1"
            )
        ).scalar_one()
    engine.dispose()
    deadline = time.monotonic() + 60
    while auditor.get("/proofs/inclusion", params={"event_id": str(event_id)}).status_code != 200:
        assert time.monotonic() < deadline, "the bundle-refused event did not reach the log in 60 s"
        time.sleep(0.5)
    note = auditor.post("/checkpoint").text.split("\n")
    size, root = int(note[1]), base64.b64decode(note[2])
    proof = auditor.get(
        "/proofs/inclusion", params={"event_id": str(event_id), "size": size}
    ).json()
    verify_inclusion(
        proof["index"],
        size,
        base64.b64decode(proof["leaf_hash"]),
        [base64.b64decode(h) for h in proof["hashes"]],
        root,
    )
    entries = unbundle(auditor.get(f"/tile/entries/{_bundle_path(proof['index'], size)}").content)
    assert b"org.example.plimsoll.bundle-refused.v1" in entries[proof["index"] % 256]


def _bundle_path(index: int, size: int) -> str:
    tile = index // 256
    width = min(256, size - tile * 256)
    return encode_index(tile) + ("" if width == 256 else f".p/{width}")
