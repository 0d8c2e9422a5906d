"""The evidence bundle file: one RFC 8785 canonical JSON object, signed by the log's key.

    {"content": {...}, "manifest": "<signed note>"}

`content` holds the bundle's facts: practitioner, period, who exported it and
why, the log's origin, checkpoints (signed notes, ascending sizes) with the
consistency proof between each and the next, and entries (log index, canonical
leaf bytes in base64, inclusion proof against the last checkpoint). The
manifest is a signed note by the log's key whose text names the bundle and
carries the SHA-256 of `content` in canonical JSON:

    plimsoll-evidence-bundle/1
    <origin>
    <bundle id>
    <base64 SHA-256 of canonical content>

The whole file must be canonical JSON, so no byte of it is free: a change that
would parse to the same value (an escape, a space) breaks canonical form, any
other changes the content (its digest) or the manifest (its signature).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from plimsoll_audit.log.leaves import Unloggable, canonical
from plimsoll_audit.log.note import b64decode

FORMAT: Final = "plimsoll-evidence-bundle/1"
MAX_BUNDLE_BYTES: Final = 256 * 1024 * 1024
MAX_ENTRIES: Final = 1_000_000


class BundleUnreadable(ValueError):
    """The file is not a bundle this verifier can check (malformed, truncated, oversized)."""


def manifest_text(origin: str, bundle_id: str, content_digest: bytes) -> str:
    return f"{FORMAT}\n{origin}\n{bundle_id}\n{base64.b64encode(content_digest).decode()}\n"


def digest(content: dict[str, Any]) -> bytes:
    return hashlib.sha256(canonical(content)).digest()


def encode(content: dict[str, Any], manifest: str) -> bytes:
    return canonical({"content": content, "manifest": manifest})


@dataclass(frozen=True)
class Entry:
    index: int
    leaf: bytes
    inclusion: list[bytes]


@dataclass(frozen=True)
class Consistency:
    first: int
    second: int
    hashes: list[bytes]


@dataclass(frozen=True)
class SignedCheckpoint:
    note: str
    signed_at: str


@dataclass(frozen=True)
class Bundle:
    content: dict[str, Any]
    manifest: str
    bundle_id: str
    practitioner_id: str
    period_start: str
    period_end: str
    origin: str
    checkpoints: list[SignedCheckpoint]
    consistency: list[Consistency]
    entries: list[Entry]


def _get(obj: dict[str, Any], name: str, kind: type, where: str) -> Any:
    if name not in obj:
        raise BundleUnreadable(f"{where}: '{name}' is missing")
    value = obj[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BundleUnreadable(f"{where}: '{name}' is not {kind.__name__}")
    return value


def _hashes(values: Any, where: str) -> list[bytes]:
    if not isinstance(values, list):
        raise BundleUnreadable(f"{where}: not a list of hashes")
    return [_b64(v, where, 32) for v in values]


def _b64(value: Any, where: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise BundleUnreadable(f"{where}: not a base64 string")
    try:
        raw = b64decode(value)
    except (ValueError, binascii.Error):
        raise BundleUnreadable(f"{where}: not valid base64") from None
    if size is not None and len(raw) != size:
        raise BundleUnreadable(f"{where}: a hash is {len(raw)} bytes, not {size}")
    return raw


def parse(data: bytes) -> Bundle:
    """The bundle in `data`; raises BundleUnreadable saying exactly what is wrong."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleUnreadable(
            f"the file is {len(data):,} bytes, over the {MAX_BUNDLE_BYTES:,}-byte limit"
        )
    if not data:
        raise BundleUnreadable("the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BundleUnreadable(f"the file is not UTF-8 text (byte {error.start})") from None
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise BundleUnreadable(
            f"not JSON, or cut short ({error.__class__.__name__}: {error})"
        ) from None
    except RecursionError:
        raise BundleUnreadable("the JSON is nested too deeply") from None
    if not isinstance(parsed, dict) or set(parsed) != {"content", "manifest"}:
        raise BundleUnreadable("a bundle is a JSON object with exactly 'content' and 'manifest'")
    try:
        canonical_form = canonical(parsed)
    except (Unloggable, RecursionError) as error:
        raise BundleUnreadable(f"the bundle has no canonical JSON form: {error}") from None
    if canonical_form != data:
        raise BundleUnreadable(
            "the file is not in RFC 8785 canonical form, as exported: it was re-encoded or altered"
        )
    content = _get(parsed, "content", dict, "bundle")
    manifest = _get(parsed, "manifest", str, "bundle")
    if _get(content, "format", str, "content") != FORMAT:
        raise BundleUnreadable(f"format is not {FORMAT}")
    raw_checkpoints = _get(content, "checkpoints", list, "content")
    raw_consistency = _get(content, "consistency", list, "content")
    raw_entries = _get(content, "entries", list, "content")
    if len(raw_entries) > MAX_ENTRIES:
        raise BundleUnreadable(f"more than {MAX_ENTRIES:,} entries")
    checkpoints = []
    for i, item in enumerate(raw_checkpoints):
        where = f"checkpoint {i}"
        if not isinstance(item, dict):
            raise BundleUnreadable(f"{where}: not an object")
        checkpoints.append(
            SignedCheckpoint(_get(item, "note", str, where), _get(item, "signed_at", str, where))
        )
    consistency = []
    for i, item in enumerate(raw_consistency):
        where = f"consistency proof {i}"
        if not isinstance(item, dict):
            raise BundleUnreadable(f"{where}: not an object")
        consistency.append(
            Consistency(
                _get(item, "first", int, where),
                _get(item, "second", int, where),
                _hashes(item.get("hashes"), where),
            )
        )
    entries = []
    for i, item in enumerate(raw_entries):
        where = f"entry {i}"
        if not isinstance(item, dict):
            raise BundleUnreadable(f"{where}: not an object")
        entries.append(
            Entry(
                _get(item, "index", int, where),
                _b64(item.get("leaf"), where),
                _hashes(item.get("inclusion"), where),
            )
        )
    for name in ("period_start", "period_end"):
        try:
            date.fromisoformat(_get(content, name, str, "content"))
        except ValueError:
            raise BundleUnreadable(f"content: '{name}' is not a date (YYYY-MM-DD)") from None
    return Bundle(
        content=content,
        manifest=manifest,
        bundle_id=_get(content, "bundle_id", str, "content"),
        practitioner_id=_get(content, "practitioner_id", str, "content"),
        period_start=_get(content, "period_start", str, "content"),
        period_end=_get(content, "period_end", str, "content"),
        origin=_get(content, "origin", str, "content"),
        checkpoints=checkpoints,
        consistency=consistency,
        entries=entries,
    )
