"""Why a domain refuses a command, and the value checks every domain makes.

Pure, like the deciders that raise them: no framework imports. Every refusal
is a `Refused`; it names the input at fault (`field`, as the command spells
it, or None when no single input is) and says why (`reason`, a sentence for a
person), and its class carries what the HTTP edge needs: the `status` and the
`kind` that ends the problem type URI. A refused command records no event.

    Refused (422)
    ├── InvalidValue (422)   a value the command carries is not acceptable
    ├── NotFound (404)       what the command is about was never recorded
    ├── Conflict (409)       the command clashes with what is recorded
    │   └── AlreadyExists    a second record with one id
    └── NotPermitted (403)   the actor's role or scope does not allow it
        └── OutsideScope     a record outside the actor's team or region

A service's own refusals subclass these (allocation's `CaseIsClosed` is a
`Conflict`), so the edge answers them all one way.

The checks below are the one definition of an identifier, of text a person
wrote, of a decimal and a whole number within bounds, and of a calendar day a
store can hold: the same rules at every edge (`plimsoll_events.types.fields`
has them as pydantic types) and in every domain.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import ClassVar, Final, TypeVar

T = TypeVar("T")


class Refused(Exception):
    """A command refused; nothing is recorded."""

    status: ClassVar[int] = 422
    kind: ClassVar[str] = "refused"
    title: ClassVar[str] = "The command was refused"

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.reason = reason
        self.field = field


class InvalidValue(Refused):
    """A value the command carries is not acceptable."""

    status = 422
    kind = "invalid-value"
    title = "A value is not valid"


class NotFound(Refused):
    """What the command is about was never recorded."""

    status = 404
    kind = "not-found"
    title = "Not found"


class Conflict(Refused):
    """The command clashes with what is already recorded."""

    status = 409
    kind = "conflict"
    title = "The command conflicts with the current state"


class AlreadyExists(Conflict):
    """A record with this id is already there."""

    kind = "already-exists"
    title = "Already recorded"


class NotPermitted(Refused):
    """The actor's role or scope does not allow the command."""

    status = 403
    kind = "not-permitted"
    title = "Not permitted"


class OutsideScope(NotPermitted):
    """A record outside the actor's reach: another team, another region, someone else's."""

    kind = "outside-scope"
    title = "Outside the actor's team or region"


# --- the checks ------------------------------------------------------------------------------


def supplied(value: T | None, field: str) -> T:
    """`value`, which the application layer fills in on a command before it is decided (the
    scheme in force, today, a placement); refused, naming `field`, if it did not."""
    if value is None:
        raise InvalidValue("not supplied: the service fills it in before deciding", field=field)
    return value


MAX_IDENTIFIER_LENGTH: Final = 100
MAX_TEXT_LENGTH: Final = 2000

IDENTIFIER_PATTERN: Final = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?$"
"""Letters, digits and `.`, `_`, `-` inside, at most 100 characters: no spaces, no `/`,
nothing a URL path, a log line or a spreadsheet would change or misread."""

_IDENTIFIER: Final = re.compile(IDENTIFIER_PATTERN)
# NUL and the other C0/C1 controls except tab and line breaks, and lone surrogates: a store
# cannot hold a NUL or an unpaired surrogate (PostgreSQL refuses both), and controls hide text.
_UNACCEPTABLE_TEXT: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")

EARLIEST_DAY: Final = date(1900, 1, 1)
LATEST_DAY: Final = date(2199, 12, 31)
"""Days a command may name: a store, Kafka consumer or spreadsheet in any language holds
them, and a date arithmetic of a few years either side never overflows."""

LARGEST_WHOLE_NUMBER: Final = 2**31 - 1
"""The largest count or number of points a command may carry: a 32-bit integer column,
a JSON number in any language, and a CloudEvents Integer all hold it."""

_HUNDREDTH: Final = Decimal("0.01")


def identifier(value: str, field: str) -> str:
    """An id: 1 to 100 letters, digits, `.`, `_` or `-`, starting and ending with a letter or
    digit."""
    if not _IDENTIFIER.match(value):
        raise InvalidValue(
            f"must be 1 to {MAX_IDENTIFIER_LENGTH} letters, digits, '.', '_' or '-', "
            "starting and ending with a letter or digit",
            field=field,
        )
    return value


def acceptable_text(value: str, field: str) -> str:
    """Text a store can hold and a reader sees all of: no NUL, controls or lone surrogates."""
    found = _UNACCEPTABLE_TEXT.search(value)
    if found is not None:
        raise InvalidValue(
            f"must not contain control characters or unpaired surrogates "
            f"(found U+{ord(found.group()):04X} at {found.start()})",
            field=field,
        )
    return value


def text(value: str, field: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Words a person wrote: not blank, at most `max_length` characters, `acceptable_text`."""
    if not value.strip():
        raise InvalidValue("must say something", field=field)
    if len(value) > max_length:
        raise InvalidValue(f"must be at most {max_length} characters", field=field)
    return acceptable_text(value, field)


def optional_text(
    value: str | None, field: str, *, max_length: int = MAX_TEXT_LENGTH
) -> str | None:
    """Optional words: None, or `text`."""
    return None if value is None else text(value, field, max_length=max_length)


def decimal(
    value: Decimal, field: str, *, low: Decimal, high: Decimal, unit: str, places: int = 2
) -> Decimal:
    """A finite decimal from `low` to `high` inclusive, with at most `places` decimal places."""
    if not value.is_finite() or not low <= value <= high:
        raise InvalidValue(f"must be from {low} to {high} {unit}", field=field)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -places:
        quantum = _HUNDREDTH if places == 2 else Decimal(1).scaleb(-places)
        rounded = value.quantize(quantum)
        if rounded != value:
            raise InvalidValue(f"must have at most {places} decimal places", field=field)
        return rounded
    return value


def whole_number(
    value: int, field: str, *, low: int = 0, high: int = LARGEST_WHOLE_NUMBER, unit: str = ""
) -> int:
    """An integer from `low` to `high` inclusive (never above `LARGEST_WHOLE_NUMBER`)."""
    high = min(high, LARGEST_WHOLE_NUMBER)
    if isinstance(value, bool) or not low <= value <= high:
        raise InvalidValue(
            f"must be a whole number from {low} to {high}{' ' + unit if unit else ''}", field=field
        )
    return value


def day(
    value: date, field: str, *, earliest: date = EARLIEST_DAY, latest: date = LATEST_DAY
) -> date:
    """A calendar day from `earliest` to `latest` inclusive."""
    if not earliest <= value <= latest:
        raise InvalidValue(f"must be from {earliest} to {latest}", field=field)
    return value
