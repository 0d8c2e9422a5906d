"""The audit chapter of the story: evidence that holds up without trusting Plimsoll.

`chapter(endpoints, told)` tells it (`python deploy/local/demo_audit.py` runs it alone); told
last, the bundle holds what the chapters before it did to Pat (P-0001):

1. the auditor (aude.auditor) fetches the log's verifier key and latest checkpoint;
2. a manager asking for Pat's bundle is refused (403), and the refusal is itself recorded;
3. the auditor exports Pat's evidence bundle for the last year;
4. `plimsoll-verify` checks it offline against the verifier key: VERIFIED, exit 0;
5. one byte of a copy is flipped, inside an event: the verifier refuses it, exit 1;
6. the HTML and PDF reports are saved under `.stack/demo/`, and their paths printed.

Each step checks its answer (StoryBroken with a message if one is wrong).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from plimsoll_platform.clock import SystemClock
from story import ROOT, STATE, Api, Json, check, run_alone, show_problem, step

VERIFY = ROOT / ".venv" / "bin" / "plimsoll-verify"
PRACTITIONER = "P-0001"  # pat.practitioner


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


def chapter(endpoints: Json, told: Json) -> str:
    audit = Api(endpoints["services"]["audit"], endpoints["keycloak_issuer"], timeout=120)
    out = STATE / "demo"
    out.mkdir(parents=True, exist_ok=True)

    step("Audit: every event of every service is in a signed Merkle-tree log")
    key = audit.call("aude.auditor", "GET", "/checkpoint/verifier-key", 200).text.strip()
    checkpoint = audit.call("aude.auditor", "POST", "/checkpoint", 200).text
    check(checkpoint.count("\n") >= 4, f"no signed checkpoint: {checkpoint!r}")
    print(f"  verifier key (publish it; the verifier trusts nothing else): {key}")
    print("  latest checkpoint (C2SP tlog-checkpoint, signed note):")
    print("    " + checkpoint.strip().replace("\n", "\n    "))

    step(f"Mo (a manager) asks for {PRACTITIONER}'s evidence bundle: refused, and recorded")
    today = SystemClock().today()
    period = {
        "practitioner_id": PRACTITIONER,
        "period_start": str(today - timedelta(days=365)),
        "period_end": str(today),
    }
    refused = audit.call("mo.manager", "POST", "/bundles", 403, json=period)
    show_problem(refused, "outside-scope", None)
    print("  (recorded as bundle-refused)")

    start, end = period["period_start"], period["period_end"]
    step(f"Aude (auditor) exports {PRACTITIONER}'s bundle for {start} to {end}")
    exported = audit.call("aude.auditor", "POST", "/bundles", 201, json=period).json()
    links, bundle_id = exported["links"], exported["bundle_id"]
    bundle = out / f"bundle-{bundle_id}.json"
    bundle.write_bytes(audit.call("aude.auditor", "GET", links["bundle"], 200).content)
    html = out / f"report-{bundle_id}.html"
    html.write_text(audit.call("aude.auditor", "GET", links["report_html"], 200).text)
    pdf = out / f"report-{bundle_id}.pdf"
    pdf.write_bytes(audit.call("aude.auditor", "GET", links["report_pdf"], 200).content)
    print(
        f"  {exported['events']} events, proved against a checkpoint of "
        f"{exported['tree_size']} entries; sha256 {exported['sha256'][:16]}..."
    )

    step("plimsoll-verify checks it offline: no database, no network, only the verifier key")
    done = _verify(bundle, key)
    print("  " + done.stdout.strip().replace("\n", "\n  "))
    check(done.returncode == 0, f"the honest bundle did not verify: {done.stdout}")

    step("One byte flipped inside an event of a copy: the verifier refuses it")
    tampered, at = _flip_inside_an_event(bundle.read_bytes())
    forged = out / f"tampered-{bundle_id}.json"
    forged.write_bytes(tampered)
    refusal = _verify(forged, key)
    print(f"  byte {at} changed; plimsoll-verify exits {refusal.returncode}:")
    print("  " + refusal.stdout.strip().replace("\n", "\n  "))
    check(refusal.returncode == 1, f"the tampered bundle was not refused: {refusal.stdout}")

    step("The report a person reads")
    print(f"  HTML: {html}")
    print(f"  PDF:  {pdf}")
    print(f"  bundle: {bundle} (give it with the verifier key to anyone who must check it)")
    return (
        f"{PRACTITIONER}'s bundle of {exported['events']} events verified offline "
        f"(VERIFIED, exit 0); a one-byte forgery refused (exit 1)"
    )


if __name__ == "__main__":
    sys.exit(run_alone(chapter))
