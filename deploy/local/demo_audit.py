"""The audit chapter of `make demo`: evidence that holds up without trusting Plimsoll.

`audit_chapter(endpoints)` (endpoints as `.stack/endpoints.json` holds them):

1. the auditor (aude.auditor) fetches the log's verifier key and latest checkpoint;
2. a manager asking for Pat's bundle is refused (403), and the refusal is itself recorded;
3. the auditor exports Pat's (P-0001) evidence bundle for the last year;
4. `plimsoll-verify` checks it offline against the verifier key: VERIFIED, exit 0;
5. one byte of a copy is flipped, inside an event: the verifier refuses it, exit 1;
6. the HTML and PDF reports are saved, and their paths printed.

Each step checks its answer and raises `AuditStoryBroken` otherwise.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from plimsoll_platform.clock import SystemClock

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("PLIMSOLL_STACK_DIR", ROOT / ".stack"))
VERIFY = ROOT / ".venv" / "bin" / "plimsoll-verify"
PRACTITIONER = "P-0001"  # pat.practitioner


class AuditStoryBroken(Exception):
    """The audit service did not answer as the story says."""


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise AuditStoryBroken(what)


def _step(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _client(base: str, issuer: str, username: str) -> httpx.Client:
    form = {
        "grant_type": "password",
        "client_id": "plimsoll-web",
        "username": username,
        "password": f"{username}-local-only",
    }
    answer = httpx.post(f"{issuer}/protocol/openid-connect/token", data=form, timeout=10)
    _check(answer.status_code == 200, f"Keycloak refused {username}: {answer.text}")
    token = answer.json()["access_token"]
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)


def _verify(bundle: Path, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VERIFY), str(bundle), "--key", key],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _flip_inside_an_event(data: bytes) -> tuple[bytes, int]:
    """A copy with one byte changed in the middle of the first entry's leaf (base64)."""
    content = json.loads(data)["content"]
    leaf = (
        content["entries"][0]["leaf"] if content["entries"] else content["checkpoints"][0]["note"]
    )
    at = data.index(leaf.encode()) + len(leaf) // 2
    tampered = bytearray(data)
    tampered[at] = ord("A") if tampered[at] != ord("A") else ord("B")
    return bytes(tampered), at


def audit_chapter(endpoints: dict[str, Any]) -> None:
    base, issuer = endpoints["services"]["audit"], endpoints["keycloak_issuer"]
    out = STATE / "demo"
    out.mkdir(parents=True, exist_ok=True)
    with _client(base, issuer, "aude.auditor") as aude, _client(base, issuer, "mo.manager") as mo:
        _step("Audit: every event of every service is in a signed Merkle-tree log")
        key = aude.get("/checkpoint/verifier-key").text.strip()
        checkpoint = aude.post("/checkpoint").text
        _check(checkpoint.count("\n") >= 4, f"no signed checkpoint: {checkpoint!r}")
        print(f"  verifier key (publish it; the verifier trusts nothing else): {key}")
        print("  latest checkpoint (C2SP tlog-checkpoint, signed note):")
        print("    " + checkpoint.strip().replace("\n", "\n    "))

        _step(f"Mo (a manager) asks for {PRACTITIONER}'s evidence bundle: refused, and recorded")
        today = SystemClock().today()
        period = {
            "practitioner_id": PRACTITIONER,
            "period_start": str(today - timedelta(days=365)),
            "period_end": str(today),
        }
        refused = mo.post("/bundles", json=period)
        _check(refused.status_code == 403, f"a manager got a bundle: {refused.status_code}")
        print(f"  403 {refused.json()['detail']} (recorded as bundle-refused)")

        _step(
            f"Aude (auditor) exports {PRACTITIONER}'s bundle for {period['period_start']} to "
            f"{period['period_end']}"
        )
        answer = aude.post("/bundles", json=period)
        _check(answer.status_code == 201, f"export failed: {answer.status_code} {answer.text}")
        exported = answer.json()
        bundle = out / f"bundle-{exported['bundle_id']}.json"
        bundle.write_bytes(aude.get(exported["links"]["bundle"]).content)
        html = out / f"report-{exported['bundle_id']}.html"
        html.write_text(aude.get(exported["links"]["report_html"]).text)
        pdf = out / f"report-{exported['bundle_id']}.pdf"
        pdf.write_bytes(aude.get(exported["links"]["report_pdf"]).content)
        print(
            f"  {exported['events']} events, proved against a checkpoint of "
            f"{exported['tree_size']} entries; sha256 {exported['sha256'][:16]}..."
        )

    _step("plimsoll-verify checks it offline: no database, no network, only the verifier key")
    done = _verify(bundle, key)
    print("  " + done.stdout.strip().replace("\n", "\n  "))
    _check(done.returncode == 0, f"the honest bundle did not verify: {done.stdout}")

    _step("One byte flipped inside an event of a copy: the verifier refuses it")
    tampered, at = _flip_inside_an_event(bundle.read_bytes())
    forged = out / f"tampered-{exported['bundle_id']}.json"
    forged.write_bytes(tampered)
    done = _verify(forged, key)
    print(f"  byte {at} changed; plimsoll-verify exits {done.returncode}:")
    print("  " + done.stdout.strip().replace("\n", "\n  "))
    _check(done.returncode == 1, f"the tampered bundle was not refused: {done.stdout}")

    _step("The report a person reads")
    print(f"  HTML: {html}")
    print(f"  PDF:  {pdf}")
    print(f"  bundle: {bundle} (give it with the verifier key to anyone who must check it)")
