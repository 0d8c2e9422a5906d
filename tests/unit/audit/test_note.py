"""Signed notes and checkpoints (C2SP signed-note, tlog-checkpoint) with Ed25519 keys."""

import base64
import hashlib

import pytest
from plimsoll_audit.log.checkpoint import Checkpoint, open_checkpoint
from plimsoll_audit.log.merkle import EMPTY_ROOT
from plimsoll_audit.log.note import NoteError, Signer, Verifier, key_id, open_note, sign

ORIGIN = "plimsoll.example.org/audit"


@pytest.fixture(scope="module")
def signer():
    return Signer.generate(ORIGIN)


def test_keys_round_trip_in_gos_formats(signer):
    again = Signer.parse(str(signer))
    assert str(again) == str(signer)
    assert str(again.verifier) == str(signer.verifier)
    text = str(signer.verifier)
    name, hex_id, encoded = text.split("+", 2)
    raw = base64.b64decode(encoded)
    assert name == ORIGIN
    assert raw[0] == 1
    assert len(raw) == 33
    digest = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw[1:]).digest()
    assert int(hex_id, 16) == int.from_bytes(digest[:4], "big") == key_id(ORIGIN, raw[1:])
    assert str(signer).startswith(f"PRIVATE+KEY+{ORIGIN}+{hex_id}+")


def test_checkpoint_note_layout(signer):
    note = Checkpoint(ORIGIN, 0, EMPTY_ROOT).signed([signer])
    text, _, signature = note.partition("\n\n")
    assert text == f"{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert signature.startswith(f"\u2014 {ORIGIN} ")
    assert signature.endswith("\n")
    blob = base64.b64decode(signature.split(" ")[2])
    assert blob[:4] == signer.verifier.id.to_bytes(4, "big")
    assert len(blob) == 68
    assert open_checkpoint(note, [signer.verifier], ORIGIN) == Checkpoint(ORIGIN, 0, EMPTY_ROOT)


def test_another_key_an_altered_text_and_a_wrong_origin_are_refused(signer):
    other = Signer.generate(ORIGIN)  # same name, another key: another id
    note = Checkpoint(ORIGIN, 5, b"\x01" * 32).signed([signer])
    with pytest.raises(NoteError, match="no signature by a trusted key"):
        open_note(note, [other.verifier])
    with pytest.raises(NoteError, match="does not verify"):
        open_note(note.replace("\n5\n", "\n6\n"), [signer.verifier])
    with pytest.raises(NoteError, match="not 'other'"):
        open_checkpoint(note, [signer.verifier], "other")
    forged = Checkpoint(ORIGIN, 5, b"\x01" * 32).signed([other])
    with pytest.raises(NoteError):
        open_note(forged, [signer.verifier])


def test_unknown_signatures_are_ignored_when_a_known_one_verifies(signer):
    witness = Signer.generate("witness.example/w1")
    note = sign(Checkpoint(ORIGIN, 1, b"\x02" * 32).text(), [signer, witness])
    opened = open_note(note, [signer.verifier])
    assert opened.verified_by == (signer.verifier,)
    assert opened.unknown == ("witness.example/w1",)


@pytest.mark.parametrize(
    "key",
    [
        "",
        "name+1234abcd",
        "na me+00000000+AQ==",
        f"{ORIGIN}+00000000+AQ==",
        f"{ORIGIN}+zzzzzzzz+" + base64.b64encode(b"\x01" + b"\x00" * 32).decode(),
    ],
)
def test_malformed_verifier_keys_are_refused(key):
    with pytest.raises(NoteError):
        Verifier.parse(key)


@pytest.mark.parametrize(
    "note",
    [
        "",
        "no signatures\n",
        "a\n1\n\n\u2014 x\n",
        "a\n\n- x AAAAAAA=\n",
        "a\x01\n\n\u2014 x AAAAAAA=\n",
    ],
)
def test_malformed_notes_are_refused(signer, note):
    with pytest.raises(NoteError):
        open_note(note, [signer.verifier])


def padding_bits_set(encoded: str) -> str:
    """The same bytes in base64 with the last character's unused bits set: a spelling
    lenient decoders accept, one byte away from the canonical one."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    body = encoded.rstrip("=")
    unused = {1: 0b11, 2: 0b1111}[len(encoded) - len(body)]
    return body[:-1] + alphabet[alphabet.index(body[-1]) | unused] + encoded[len(body) :]


def test_a_signature_or_root_spelt_in_non_canonical_base64_is_refused(signer):
    note = Checkpoint(ORIGIN, 5, b"\x01" * 32).signed([signer])
    text, _, signature = note.rpartition("\u2014 ")
    name, _, encoded = signature.strip().partition(" ")
    lenient = padding_bits_set(encoded)
    assert lenient != encoded
    assert base64.b64decode(lenient) == base64.b64decode(encoded)
    with pytest.raises(NoteError, match="not base64"):
        open_note(f"{text}\u2014 {name} {lenient}\n", [signer.verifier])

    root = base64.b64encode(b"\x01" * 32).decode()
    altered = Checkpoint(ORIGIN, 5, b"\x01" * 32).text().replace(root, padding_bits_set(root))
    with pytest.raises(NoteError, match="root hash is not base64"):
        open_checkpoint(sign(altered, [signer]), [signer.verifier], ORIGIN)
