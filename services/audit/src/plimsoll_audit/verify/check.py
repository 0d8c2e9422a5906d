"""Every check `plimsoll-verify` makes of a bundle, each failure in words a person reads.

1. The manifest is signed by a trusted key and names this bundle and its content's digest.
2. Each checkpoint is signed by a trusted key, of the bundle's log (origin), sizes ascending.
3. Each checkpoint is consistent with the next (RFC 9162 consistency proofs).
4. Each entry is in the last checkpoint's tree at its index (RFC 9162 inclusion proof),
   indices strictly ascending, its leaf canonical JSON of a CloudEvent.
5. Each entry belongs in the bundle: an event about its practitioner within its period,
   or a policy or consent event (whoever it is about), never someone else's record.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import pairwise
from typing import Any

from plimsoll_platform.clock import UK

from plimsoll_audit.log.checkpoint import Checkpoint
from plimsoll_audit.log.leaves import Unloggable, canonical
from plimsoll_audit.log.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from plimsoll_audit.log.note import NoteError, Verifier, open_note
from plimsoll_audit.verify.bundle import FORMAT, Bundle, digest, manifest_text
from plimsoll_audit.verify.replay import CONSENT_PREFIX, POLICY_PREFIX, short_type


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def verify(bundle: Bundle, trusted: Sequence[Verifier]) -> Outcome:
    out = Outcome()
    _manifest(bundle, trusted, out)
    checkpoints = _checkpoints(bundle, trusted, out)
    if checkpoints:
        _consistency(bundle, checkpoints, out)
        _entries(bundle, checkpoints[-1], out)
    else:
        out.failures.append("the bundle holds no checkpoint to prove its entries against")
    return out


def _manifest(bundle: Bundle, trusted: Sequence[Verifier], out: Outcome) -> None:
    try:
        text = open_note(bundle.manifest, trusted).text
    except NoteError as error:
        out.failures.append(f"manifest: {error}")
        return
    expected = manifest_text(bundle.origin, bundle.bundle_id, digest(bundle.content))
    if text != expected:
        lines = text.split("\n")
        if lines[0] != FORMAT:
            out.failures.append("manifest: it is not a bundle manifest")
        else:
            out.failures.append(
                "manifest: the signed digest does not match the content: the bundle was altered "
                "after export (or entries were added or removed)"
            )
        return
    out.checked.append("manifest signed by the log's key, content unchanged since export")


def _checkpoints(bundle: Bundle, trusted: Sequence[Verifier], out: Outcome) -> list[Checkpoint]:
    found: list[Checkpoint] = []
    for i, signed in enumerate(bundle.checkpoints):
        try:
            checkpoint = Checkpoint.parse(open_note(signed.note, trusted).text)
        except NoteError as error:
            out.failures.append(f"checkpoint {i}: {error}")
            return []
        if checkpoint.origin != bundle.origin:
            out.failures.append(
                f"checkpoint {i} is of log {checkpoint.origin!r}, not {bundle.origin!r}"
            )
            return []
        if found and checkpoint.size < found[-1].size:
            out.failures.append(f"checkpoint {i} is smaller than the one before it: out of order")
            return []
        found.append(checkpoint)
    if found:
        out.checked.append(f"{len(found)} checkpoints signed by a trusted key")
    return found


def _consistency(bundle: Bundle, checkpoints: list[Checkpoint], out: Outcome) -> None:
    if len(bundle.consistency) != len(checkpoints) - 1:
        out.failures.append(
            f"{len(checkpoints)} checkpoints need {len(checkpoints) - 1} consistency proofs, "
            f"the bundle has {len(bundle.consistency)}"
        )
        return
    for proof, (old, new) in zip(bundle.consistency, pairwise(checkpoints), strict=True):
        if (proof.first, proof.second) != (old.size, new.size):
            out.failures.append(
                f"a consistency proof is for sizes {proof.first}->{proof.second}, "
                f"not {old.size}->{new.size}"
            )
            return
        try:
            verify_consistency(old.size, new.size, old.root, new.root, proof.hashes)
        except ProofError as error:
            out.failures.append(
                f"checkpoints {old.size} and {new.size} are not consistent: {error}"
            )
            return
    if checkpoints[1:]:
        out.checked.append("each checkpoint extends the one before it (append-only)")


def _entries(bundle: Bundle, final: Checkpoint, out: Outcome) -> None:
    start, end = date.fromisoformat(bundle.period_start), date.fromisoformat(bundle.period_end)
    previous = -1
    failures_before = len(out.failures)
    for entry in bundle.entries:
        name = f"entry {entry.index}"
        if entry.index <= previous:
            out.failures.append(
                f"{name} comes after entry {previous}: entries reordered or repeated"
            )
        previous = max(previous, entry.index)
        try:
            verify_inclusion(
                entry.index, final.size, leaf_hash(entry.leaf), entry.inclusion, final.root
            )
        except ProofError as error:
            out.failures.append(f"{name} is not in the log at that place: {error}")
            continue
        event = _event(entry.leaf, name, out)
        if event is None:
            continue
        reason = _misplaced(event, bundle.practitioner_id, start, end)
        if reason:
            out.failures.append(
                f"{name} ({event.get('id')}) does not belong in this bundle: {reason}"
            )
            continue
        out.events.append(event)
    if len(out.failures) == failures_before:
        out.checked.append(
            f"{len(bundle.entries)} entries, each proved in the log of {final.size} entries"
        )


def _event(leaf: bytes, name: str, out: Outcome) -> dict[str, Any] | None:
    try:
        event = json.loads(leaf)
        if not isinstance(event, dict) or canonical(event) != leaf:
            raise Unloggable("not a canonical JSON object")
        datetime.fromisoformat(str(event["time"]))
        return event
    except (ValueError, KeyError, Unloggable) as error:
        out.failures.append(f"{name} is not a canonical CloudEvent: {error}")
        return None


def _misplaced(event: dict[str, Any], practitioner: str, start: date, end: date) -> str | None:
    kind = short_type(str(event.get("type", "")))
    day = datetime.fromisoformat(str(event["time"])).astimezone(UK).date()
    if kind.startswith(POLICY_PREFIX):
        # A policy is in force for everyone from its approval: any before the period's end.
        return None if day <= end else f"policy recorded on {day}, after the period"
    if event.get("subject") != practitioner:
        return f"it concerns {event.get('subject')!r}, not {practitioner}"
    if kind.startswith(CONSENT_PREFIX):
        return None if day <= end else f"consent recorded on {day}, after the period"
    if not start <= day <= end:
        return f"it was recorded on {day}, outside {start} to {end}"
    return None


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
