"""The log read by Go's reference implementation (golang.org/x/mod/sumdb/note and tlog):
our checkpoint signature, tiles, entry bundles and JSON proofs, through our HTTP routes; our
signer against note.Sign; our verifier against the Certificate Transparency vectors those
packages publish (sumdb/tlog/testdata/argon2020).

The Go program is services/audit/reference (go.mod and go.sum committed); `go` is required.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from plimsoll_audit.log import store
from plimsoll_audit.log.merkle import leaf_hash, verify_consistency, verify_inclusion
from plimsoll_audit.log.note import Signer

from .conftest import ORIGIN, leaves

REFERENCE = Path(__file__).resolve().parents[3] / "services" / "audit" / "reference"


def go() -> str:
    found = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if found is None:
        pytest.fail(
            "the Go toolchain is needed for the reference cross-check: install Go "
            "(https://go.dev/dl) and put `go` on PATH",
            pytrace=False,
        )
    return found


def go_env() -> dict[str, str]:
    return {**os.environ, "GOFLAGS": "-mod=mod"}


@pytest.fixture(scope="module")
def tlogcheck(tmp_path_factory) -> Path:
    binary = tmp_path_factory.mktemp("go") / "tlogcheck"
    done = subprocess.run(
        [go(), "build", "-o", str(binary), "."],
        cwd=REFERENCE,
        env=go_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return binary


def test_go_reads_and_verifies_our_log(served, app_engine, tlogcheck, stack):
    url, signer = served
    token = stack.token("aude.auditor")
    headers = {"Authorization": f"Bearer {token}"}
    with app_engine.begin() as conn:
        store.append(conn, leaves(300))
    old = httpx.get(f"{url}/checkpoint", headers=headers).text
    assert old.split("\n")[1] == "300"
    with app_engine.begin() as conn:
        store.append(conn, leaves(760, start=300))  # 1060: four full tiles and a partial
    published = httpx.get(f"{url}/checkpoint/verifier-key", headers=headers).text.strip()
    assert published == str(signer.verifier)
    done = subprocess.run(
        [
            str(tlogcheck),
            "log",
            "-url",
            url,
            "-vkey",
            published,
            "-token",
            token,
            "-index",
            "0",
            "-index",
            "255",
            "-index",
            "256",
            "-index",
            "299",
            "-index",
            "1059",
            "-old",
            "300",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok checkpoint plimsoll.example.org/audit size 1060" in done.stdout
    assert "ok consistency 300 -> 1060" in done.stdout
    assert done.stdout.count("inclusion proof (tlog's and the log's, equal)") == 5


def test_go_refuses_our_log_under_another_key(served, app_engine, tlogcheck, stack):
    url, _ = served
    token = stack.token("aude.auditor")
    with app_engine.begin() as conn:
        store.append(conn, leaves(10))
    impostor = str(Signer.generate(ORIGIN).verifier)
    done = subprocess.run(
        [str(tlogcheck), "log", "-url", url, "-vkey", impostor, "-token", token],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "checkpoint signature" in done.stderr


def test_our_signatures_are_byte_for_byte_those_of_note_sign(tlogcheck):
    signer = Signer.generate("plimsoll.example.org/audit-test")
    text = "plimsoll.example.org/audit-test\n42\n" + base64.b64encode(b"\x07" * 32).decode() + "\n"
    done = subprocess.run(
        [str(tlogcheck), "sign", "-skey", str(signer)],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == signer.sign_note(text)


def module_dir() -> Path:
    listed = subprocess.run(
        [go(), "list", "-m", "-json", "golang.org/x/mod"],
        cwd=REFERENCE,
        env=go_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    return Path(json.loads(listed.stdout)["Dir"])


def test_certificate_transparency_vectors_published_with_tlog():
    """Google's Argon 2020 CT log: an entry, its audit path and a consistency proof, as
    golang.org/x/mod ships them to test tlog; our verifier must accept them as tlog does."""
    testdata = module_dir() / "sumdb" / "tlog" / "testdata" / "argon2020"
    sth = json.loads((testdata / "sth.json").read_text())
    size, root = sth["tree_size"], base64.b64decode(sth["sha256_root_hash"])
    entry = base64.b64decode(
        json.loads((testdata / "entries.json").read_text())["entries"][0]["leaf_input"]
    )
    proof = json.loads((testdata / "proof.json").read_text())
    path = [base64.b64decode(h) for h in proof["audit_path"]]
    verify_inclusion(proof["leaf_index"], size, leaf_hash(entry), path, root)
    ct_test = (testdata.parents[1] / "ct_test.go").read_text()
    old_hash = base64.b64decode(re.search(r'ParseHash\("([^"]+)"\)', ct_test).group(1))
    old_size = int(
        re.search(r"CheckTree\(tp.Proof, root.Size, root.Hash, (\d+), oh\)", ct_test).group(1)
    )
    consistency = [
        base64.b64decode(h)
        for h in json.loads((testdata / "consistency.json").read_text())["consistency"]
    ]
    verify_consistency(old_size, size, old_hash, root, consistency)
    with pytest.raises(ValueError, match="does not rebuild"):
        verify_consistency(old_size, size, leaf_hash(b"forged"), root, consistency)
