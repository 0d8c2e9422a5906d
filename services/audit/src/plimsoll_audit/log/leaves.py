"""What enters the log: each CloudEvent as received, in RFC 8785 canonical JSON.

The leaf bytes are the whole event, attributes and data, canonicalised from the
bytes Kafka delivered: never from a database's JSON text, never re-encoded from
a model, so that anyone holding the event can recompute its leaf hash.

`canonical` takes a fast path when RFC 8785 and Python's own sorted, compact
JSON agree byte for byte: no floats anywhere (ECMAScript prints 37.0 as 37),
integers within +/-(2^53 - 1), and ASCII keys (RFC 8785 sorts keys by UTF-16
code units, Python by code points; they differ only beyond the BMP). Strings
escape the same way in both (", \\, and control characters; \\u00xx in lower
case). Anything else goes through the `rfc8785` package. A property test holds
the two equal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import rfc8785

from plimsoll_audit.log.merkle import leaf_hash

MAX_SAFE_INTEGER: Final = 2**53 - 1


class Unloggable(ValueError):
    """The message is not a CloudEvent the log can hold; the message says why."""


def _plain(value: Any) -> bool:
    """No float, no unsafe integer, no non-ASCII key anywhere in `value`."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    if kind is dict:
        return all(k.isascii() and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(v) for v in value)
    return False


def canonical(value: Any, *, plain: bool | None = None) -> bytes:
    """RFC 8785 canonical JSON of a parsed JSON value (`plain`: already known to qualify)."""
    if plain if plain is not None else _plain(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeError, ValueError) as error:
        raise Unloggable(f"no canonical JSON for this event: {error}") from None


@dataclass(frozen=True, slots=True)
class Leaf:
    """One event ready for the log: who sent it, its id, and its canonical bytes."""

    source: str
    event_id: str
    type: str
    subject: str | None
    time: datetime
    leaf: bytes
    hash: bytes


_REQUIRED: Final = ("specversion", "id", "source", "type", "time")


class _Numbers:
    """Notes, while parsing, anything that rules out the fast path (cheaper than a walk)."""

    __slots__ = ("plain",)

    def __init__(self) -> None:
        self.plain = True

    def float_(self, text: str) -> float:
        self.plain = False
        return float(text)

    def int_(self, text: str) -> int:
        value = int(text)
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            self.plain = False
        return value

    def constant(self, text: str) -> float:
        self.plain = False
        return float(text)


def to_leaf(raw: bytes) -> Leaf:
    """The leaf of a CloudEvent in structured JSON mode, as Kafka delivered it."""
    numbers = _Numbers()
    try:
        event = json.loads(
            raw, parse_float=numbers.float_, parse_int=numbers.int_, parse_constant=numbers.constant
        )
    except (ValueError, UnicodeError) as error:
        raise Unloggable(f"not UTF-8 JSON: {error}") from None
    if not isinstance(event, dict):
        raise Unloggable("a CloudEvent is a JSON object")
    for name in _REQUIRED:
        if not isinstance(event.get(name), str) or not event[name]:
            raise Unloggable(f"attribute {name!r} is missing or not a non-empty string")
    if not (event["id"] + event["source"]).isprintable():
        raise Unloggable("attribute 'id' or 'source' holds a control or unprintable character")
    if event["specversion"] != "1.0":
        raise Unloggable(f"specversion {event['specversion']!r} is not 1.0")
    subject = event.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise Unloggable("attribute 'subject' is not a string")
    try:
        time = datetime.fromisoformat(event["time"])
    except ValueError:
        raise Unloggable(f"time {event['time'][:40]!r} is not an RFC 3339 timestamp") from None
    if time.tzinfo is None:
        raise Unloggable("time has no offset")
    # ASCII bytes mean ASCII keys; otherwise the keys are looked at one by one.
    body = canonical(event, plain=numbers.plain and (raw.isascii() or _plain(event)))
    return Leaf(
        event["source"],
        event["id"],
        _short_type(event["type"]),
        subject,
        time,
        body,
        leaf_hash(body),
    )


def _short_type(cloudevent_type: str) -> str:
    """`org.example.plimsoll.case-allocated.v1` -> `case-allocated` (others kept whole)."""
    parts = cloudevent_type.split(".")
    if len(parts) >= 3 and parts[-1].startswith("v") and parts[-1][1:].isdigit():
        return parts[-2]
    return cloudevent_type
