"""What enters the log: each CloudEvent as received, in RFC 8785 canonical JSON.

The leaf bytes are the whole event, attributes and data, canonicalised from the
bytes Kafka delivered: never from a database's JSON text, never re-encoded from
a model, so that anyone holding the event can recompute its leaf hash.

`canonical` takes a fast path when RFC 8785 and orjson's sorted, compact JSON
agree byte for byte: no floats anywhere (ECMAScript prints 37.0 as 37),
integers within +/-(2^53 - 1), and ASCII keys (RFC 8785 sorts keys by UTF-16
code units, orjson by code points; they differ only beyond the BMP). Strings
escape the same way in both (", \\, and control characters; \\u00xx in lower
case). Anything else goes through the `rfc8785` package. Property tests hold
the two equal, and `to_leaf` equal to the package on the standard library's parse.

`to_leaf` parses with orjson first (several times faster than `json`, and the
log appends every event of every service); a message orjson refuses or parses
to anything but plain values (it reads integers past 64 bits as floats) is
parsed again by the standard library, whose numbers are exact, so what orjson
cannot read changes nothing but the time taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
import rfc8785

from plimsoll_audit.log.merkle import leaf_hash

MAX_SAFE_INTEGER: Final = 2**53 - 1


class Unloggable(ValueError):
    """The message is not a CloudEvent the log can hold; the message says why."""


def _plain(value: Any, ascii_keys: bool = False) -> bool:
    """No float, no unsafe integer, no non-ASCII key anywhere in `value` (`ascii_keys`:
    known already). The common values are checked inline: this runs on every event logged."""
    kind = type(value)
    if kind is dict:
        if not ascii_keys and not all(key.isascii() for key in value):
            return False
        values = value.values()
    elif kind is list:
        values = value
    elif kind is int:
        return bool(-MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)
    else:
        return kind is str or kind is bool or value is None
    for item in values:
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if (kind is dict or kind is list) and _plain(item, ascii_keys):
            continue
        return False
    return True


def canonical(value: Any, *, plain: bool | None = None) -> bytes:
    """RFC 8785 canonical JSON of a parsed JSON value (`plain`: already known to qualify)."""
    if plain if plain is not None else _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate: the package says why
            pass
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


def _parsed(raw: bytes) -> tuple[Any, bool]:
    """The JSON value of `raw`, and whether it is plain (see `_plain`)."""
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if _plain(event, raw.isascii()):  # ASCII bytes mean ASCII keys
            return event, True
    numbers = _Numbers()
    try:
        event = json.loads(
            raw, parse_float=numbers.float_, parse_int=numbers.int_, parse_constant=numbers.constant
        )
    except (ValueError, UnicodeError) as error:
        raise Unloggable(f"not UTF-8 JSON: {error}") from None
    # ASCII bytes mean ASCII keys; otherwise the keys are looked at one by one.
    return event, numbers.plain and (raw.isascii() or _plain(event))


def to_leaf(raw: bytes) -> Leaf:
    """The leaf of a CloudEvent in structured JSON mode, as Kafka delivered it."""
    event, plain = _parsed(raw)
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
    body = canonical(event, plain=plain)
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
