"""plimsoll-verify: every check, every tampering, and unusable files answered in one line."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
import rfc8785
from plimsoll_audit.log.note import Signer
from plimsoll_audit.verify import cli
from plimsoll_audit.verify.bundle import digest, encode, manifest_text, parse
from plimsoll_audit.verify.check import verify

from .bundles import ORIGIN, b64, build, event, make_log

SIGNER = Signer.generate(ORIGIN)
KEY = str(SIGNER.verifier)


def check(data: bytes, key: str = KEY) -> list[str]:
    return verify(parse(data), [SIGNER.verifier] if key == KEY else []).failures


def run(tmp_path: Path, data: bytes, *args: str) -> tuple[int, str]:
    path = tmp_path / "bundle.json"
    path.write_bytes(data)
    out = tmp_path / "out.txt"
    with out.open("w") as stream:
        code = cli.run([str(path), "--key", KEY, *args], out=stream)
    return code, out.read_text()


def test_an_honest_bundle_verifies(tmp_path):
    code, out = run(tmp_path, build(make_log(), SIGNER))
    assert code == 0, out
    assert "VERIFIED" in out
    assert "6 entries, each proved in the log of 12 entries" in out


def test_as_of_replays_the_state_at_an_instant(tmp_path):
    code, out = run(tmp_path, build(make_log(), SIGNER), "--as-of", "2025-03-03T13:30:00Z")
    assert code == 0
    # Entries 0, 2 and 4 (09:00, 11:00, 13:00) were known by 13:30; 6, 8, 10 were not.
    assert "hours in the week of 2025-03-03: 3.1" in out  # 60 + 62 + 64 minutes


def test_a_checkpoint_signed_by_another_key_is_refused():
    impostor = Signer.generate(ORIGIN)
    failures = check(build(make_log(), impostor))
    assert any("no signature by a trusted key" in f for f in failures)


def leaves_changed(change):
    def apply(content):
        change(content["entries"])

    return apply


def test_reordered_entries_are_refused():
    def swap(entries):
        entries[1], entries[2] = entries[2], entries[1]

    failures = check(build(make_log(), SIGNER, content_change=leaves_changed(swap)))
    assert any("entries reordered" in f for f in failures)


def test_swapped_leaves_under_their_indices_are_refused():
    def swap(entries):
        entries[1]["leaf"], entries[2]["leaf"] = entries[2]["leaf"], entries[1]["leaf"]

    failures = check(build(make_log(), SIGNER, content_change=leaves_changed(swap)))
    assert sum("is not in the log at that place" in f for f in failures) == 2


def test_an_inserted_forged_event_is_refused():
    def insert(entries):
        forged = event(99)
        entries.insert(3, {"index": 7, "leaf": b64(forged), "inclusion": entries[3]["inclusion"]})

    failures = check(build(make_log(), SIGNER, content_change=leaves_changed(insert)))
    assert any("entry 7 is not in the log" in f for f in failures)


def test_an_inserted_real_event_of_someone_else_is_refused():
    failures = check(build(make_log(), SIGNER, picked=[0, 1, 2]))
    assert any("concerns 'P-0002', not P-0001" in f for f in failures)


def test_an_event_deleted_from_the_log_is_refused():
    """The operator drops an event and rebuilds the tree: the old checkpoints no longer match."""
    leaves = make_log()
    honest = json.loads(build(leaves, SIGNER))
    rewritten = json.loads(build(leaves[:4] + leaves[5:], SIGNER, chain=()))
    rewritten["content"]["checkpoints"] = [
        *honest["content"]["checkpoints"][:2],
        *rewritten["content"]["checkpoints"],
    ]
    rewritten["content"]["consistency"] = [
        *honest["content"]["consistency"][:1],
        {"first": 7, "second": 11, "hashes": []},
    ]
    content = rewritten["content"]

    manifest = SIGNER.sign_note(manifest_text(ORIGIN, "b-1", digest(content)))
    failures = check(encode(content, manifest))
    assert any("not consistent" in f for f in failures)


def test_an_entry_deleted_from_the_bundle_is_refused():
    honest = json.loads(build(make_log(), SIGNER))
    del honest["content"]["entries"][2]
    failures = check(rfc8785.dumps(honest))
    assert any("manifest: the signed digest does not match" in f for f in failures)


def test_every_single_byte_change_is_detected():
    data = build(make_log(6), SIGNER, chain=(3,))
    undetected = []
    for position in range(len(data)):
        for flip in (0x01, 0x20):
            tampered = bytearray(data)
            tampered[position] ^= flip
            try:
                if not check(bytes(tampered)):
                    undetected.append(position)
            except Exception as error:  # parse refusals are detections; anything else is not
                if error.__class__.__name__ != "BundleUnreadable":
                    raise
    assert len(data) > 3000
    assert undetected == []


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "empty"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"content": {', "not JSON, or cut short"),
        (b"[]", "exactly 'content' and 'manifest'"),
        (b'{"content":{},"manifest":"x"}', "'format' is missing"),
        (b'{"manifest":"", "content":{}}', "not in RFC 8785 canonical form"),
    ],
)
def test_unusable_files_get_one_clear_line_and_exit_2(tmp_path, data, says):
    code, out = run(tmp_path, data)
    assert code == 2
    assert says in out
    assert "Traceback" not in out


def test_a_truncated_bundle_is_unusable(tmp_path):
    data = build(make_log(), SIGNER)
    code, out = run(tmp_path, data[: len(data) // 2])
    assert code == 2
    assert "cut short" in out


def test_an_oversized_bundle_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "MAX_BUNDLE_BYTES", 1000)
    code, out = run(tmp_path, build(make_log(), SIGNER))
    assert code == 2
    assert "over the 1,000-byte limit" in out


def test_the_console_script_needs_a_key_and_never_prints_a_traceback(tmp_path):
    path = tmp_path / "b.json"
    path.write_bytes(build(make_log(), SIGNER)[:-5])
    script = Path(sys.executable).with_name("plimsoll-verify")
    done = subprocess.run(
        [script, str(path), "--key", KEY], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    path.write_bytes(build(make_log(), SIGNER))
    done = subprocess.run([script, str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "--key" in done.stdout
    done = subprocess.run(
        [script, str(path), "--key", KEY], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stdout.strip().endswith("VERIFIED")


def test_keys_carried_in_the_bundle_are_trusted_only_when_asked(tmp_path):
    path = tmp_path / "b.json"
    path.write_bytes(build(make_log(), SIGNER))
    out = tmp_path / "o"
    with out.open("w") as stream:
        assert cli.run([str(path), "--trust-bundle-keys"], out=stream) == 0
    assert "warning: trusting the keys the bundle carries" in out.read_text()


def test_malformed_trusted_key_is_unusable(tmp_path):
    code = cli.run([str(tmp_path / "none"), "--key", "garbage"], out=(tmp_path / "o").open("w"))
    assert code == 2
    assert base64  # keeps the import used in this module's helpers
