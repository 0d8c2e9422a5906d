"""A pure evidence-bundle builder for the verifier's tests: the same file format as the
service writes (verify.bundle), from leaves held in memory."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import rfc8785
from plimsoll_audit.log.checkpoint import Checkpoint
from plimsoll_audit.log.merkle import MemoryHashes, Tree, leaf_hash
from plimsoll_audit.log.note import Signer
from plimsoll_audit.verify.bundle import FORMAT, digest, encode, manifest_text

ORIGIN = "plimsoll.example.org/audit"
T0 = datetime(2025, 3, 3, 9, tzinfo=UTC)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def event(i: int, subject: str = "P-0001", kind: str = "hours-logged", **data: Any) -> bytes:
    body = {
        "practitioner_id": subject,
        "day": "2025-03-03",
        "minutes": 60 + i,
        "category": "casework",
        "started_at": None,
        "ended_at": None,
        "note": None,
        "on_behalf_reason": None,
        **data,
    }
    return rfc8785.dumps(
        {
            "specversion": "1.0",
            "id": f"00000000-0000-7000-8000-{i:012d}",
            "source": "/plimsoll/timesheet",
            "type": f"org.example.plimsoll.{kind}.v3",
            "subject": subject,
            "time": (T0 + timedelta(hours=i)).isoformat(),
            "actor": "pat.practitioner",
            "data": body,
        }
    )


def make_log(n: int = 12) -> list[bytes]:
    """n entries: even ones P-0001's, odd ones P-0002's."""
    return [event(i, "P-0001" if i % 2 == 0 else "P-0002") for i in range(n)]


def build(
    leaves: list[bytes],
    signer: Signer,
    *,
    practitioner: str = "P-0001",
    chain: tuple[int, ...] = (3, 7),
    picked: list[int] | None = None,
    content_change: Any = None,
) -> bytes:
    hashes = MemoryHashes([leaf_hash(x) for x in leaves])
    size = len(leaves)
    sizes = [*chain, size]
    notes = [Checkpoint(ORIGIN, s, Tree(hashes, s).root()).signed([signer]) for s in sizes]
    tree = Tree(hashes, size)
    chosen = (
        picked
        if picked is not None
        else [i for i, leaf in enumerate(leaves) if json.loads(leaf)["subject"] == practitioner]
    )
    content: dict[str, Any] = {
        "format": FORMAT,
        "bundle_id": "b-1",
        "practitioner_id": practitioner,
        "period_start": "2025-03-01",
        "period_end": "2025-03-31",
        "origin": ORIGIN,
        "exported_at": "2025-04-01T09:00:00+00:00",
        "exported_by": "aude.auditor",
        "basis": "auditor",
        "consent_event_id": None,
        "verifier_keys": [str(signer.verifier)],
        "checkpoints": [{"note": n, "signed_at": "2025-04-01T00:00:00+00:00"} for n in notes],
        "consistency": [
            {"first": a, "second": b, "hashes": [b64(h) for h in Tree(hashes, b).consistency(a)]}
            for a, b in pairwise(sizes)
        ],
        "entries": [
            {"index": i, "leaf": b64(leaves[i]), "inclusion": [b64(h) for h in tree.inclusion(i)]}
            for i in chosen
        ],
    }
    if content_change is not None:
        content_change(content)
    manifest = signer.sign_note(manifest_text(ORIGIN, "b-1", digest(content)))
    return encode(content, manifest)
