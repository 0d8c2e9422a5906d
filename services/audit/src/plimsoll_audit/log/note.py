"""C2SP signed notes with Ed25519 keys, in the key formats of Go's golang.org/x/mod/sumdb/note.

* Verifier key: `<name>+<key id, 8 hex digits>+<base64(0x01 || 32-byte public key)>`.
* Signer key:   `PRIVATE+KEY+<name>+<key id>+<base64(0x01 || 32-byte seed)>`.
* Key id: the first four bytes of SHA-256(name || 0x0A || 0x01 || public key).
* A signed note is the text (ending in a newline), a blank line, then one line per
  signature: an em dash, a space, the key name, a space, base64(key id || signature).
  The signature covers the text including its final newline.

Verification follows the spec: signatures by keys the verifier does not know are
ignored; one by a known key (name and id) that does not verify rejects the note;
and a note with no verified signature by a known key is rejected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519: Final = 0x01
DASH: Final = "\u2014 "
MAX_SIGNATURES: Final = 32
MAX_NOTE_BYTES: Final = 64 * 1024


class NoteError(ValueError):
    """A key or a note is malformed, or a note does not verify; the message says which."""


def key_id(name: str, public: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def b64decode(text: str) -> bytes:
    """Standard base64, in its one canonical spelling only: the padding bits of the last
    character must be zero, so that no byte of a note, checkpoint or bundle can change
    without its meaning changing (raises `binascii.Error`)."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise binascii.Error("not in canonical base64 (non-zero padding bits)")
    return raw


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"key name {name!r} is empty or holds a space or '+'")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    name: str
    id: int
    public: Ed25519PublicKey = field(repr=False, compare=False)
    raw: bytes = field(repr=False)

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)  # base64 may hold '+'
        if len(parts) != 3:
            raise NoteError("a verifier key is <name>+<8 hex digits>+<base64 key>")
        name, hex_id, encoded = parts
        _check_name(name)
        try:
            claimed = int(hex_id, 16) if len(hex_id) == 8 else -1
            raw = b64decode(encoded)
        except (ValueError, binascii.Error):
            raise NoteError(f"verifier key {name}: the id or the key is not encoded") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError(f"verifier key {name}: not an Ed25519 key (type 0x01, 32 bytes)")
        if claimed != key_id(name, raw[1:]):
            raise NoteError(f"verifier key {name}: its id does not match its name and key")
        return cls(name, claimed, Ed25519PublicKey.from_public_bytes(raw[1:]), raw[1:])

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.raw).decode()
        return f"{self.name}+{self.id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    private: Ed25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> Signer:
        _check_name(name)
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signer key is PRIVATE+KEY+<name>+<8 hex digits>+<base64 key>")
        _, _, name, hex_id, encoded = parts
        _check_name(name)
        try:
            raw = b64decode(encoded)
        except (ValueError, binascii.Error):
            raise NoteError(f"signer key {name}: the key is not base64") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError(f"signer key {name}: not an Ed25519 seed (type 0x01, 32 bytes)")
        signer = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if hex_id != f"{signer.verifier.id:08x}":
            raise NoteError(f"signer key {name}: its id does not match its name and key")
        return signer

    @property
    def verifier(self) -> Verifier:
        public = self.private.public_key()
        raw = _raw_public(public)
        return Verifier(self.name, key_id(self.name, raw), public, raw)

    def __str__(self) -> str:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        seed = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        encoded = base64.b64encode(bytes([ED25519]) + seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.id:08x}+{encoded}"

    def sign_note(self, text: str) -> str:
        return sign(text, [self])

    def signature_line(self, text: str) -> str:
        signature = self.private.sign(text.encode())
        blob = struct.pack(">I", self.verifier.id) + signature
        return f"{DASH}{self.name} {base64.b64encode(blob).decode()}\n"


def sign(text: str, signers: Sequence[Signer]) -> str:
    """The signed note of `text` (which must end in a newline) by every signer."""
    _check_text(text)
    if not signers:
        raise NoteError("a note needs at least one signature")
    return text + "\n" + "".join(signer.signature_line(text) for signer in signers)


@dataclass(frozen=True)
class Opened:
    text: str
    verified_by: tuple[Verifier, ...]
    unknown: tuple[str, ...]  # names of signatures by keys we do not know


def split_note(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """The text and (name, key id || signature) of each signature line; raises if malformed."""
    if len(note.encode()) > MAX_NOTE_BYTES:
        raise NoteError(f"the note is larger than {MAX_NOTE_BYTES} bytes")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("the note holds a control character other than newline")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("the note has no blank line before its signatures")
    text, lines = note[: cut + 1], note[cut + 2 :].splitlines()
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has no signature, or more than {MAX_SIGNATURES}")
    signatures = []
    for line in lines:
        name, space, encoded = line.removeprefix(DASH).partition(" ")
        if not line.startswith(DASH) or not space:
            raise NoteError(f"signature line {line[:40]!r} is not '\u2014 <name> <base64>'")
        _check_name(name)
        try:
            blob = b64decode(encoded)
        except (ValueError, binascii.Error):
            raise NoteError(f"the signature by {name} is not base64") from None
        if len(blob) < 5:
            raise NoteError(f"the signature by {name} is too short")
        signatures.append((name, blob))
    return text, signatures


def open_note(note: str, known: Iterable[Verifier]) -> Opened:
    """The note's text, if a known key signed it; raises NoteError otherwise."""
    text, signatures = split_note(note)
    keys = {(v.name, v.id): v for v in known}
    verified: list[Verifier] = []
    unknown: list[str] = []
    for name, blob in signatures:
        verifier = keys.get((name, int(struct.unpack(">I", blob[:4])[0])))
        if verifier is None:
            unknown.append(name)
        elif verifier.verify(text.encode(), blob[4:]):
            verified.append(verifier)
        else:
            raise NoteError(f"the signature by {name} does not verify: the note was altered")
    if not verified:
        raise NoteError(
            "no signature by a trusted key"
            + (f" (signed by unknown keys: {', '.join(unknown)})" if unknown else "")
        )
    return Opened(text, tuple(verified), tuple(unknown))


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("a note text ends in a newline and holds no blank line here")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note text holds no control character other than newline")
