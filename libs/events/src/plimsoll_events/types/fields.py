"""Field types shared by the shipped event types and every service's HTTP bodies.

The same rules as `plimsoll_events.refusals` (one definition of each), written
as pydantic types so that a body or an event carrying anything else is refused
at the edge, and so that the JSON Schema and OpenAPI documents say exactly what
is accepted.
"""

import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import core_schema

from plimsoll_events.refusals import (
    EARLIEST_DAY,
    IDENTIFIER_PATTERN,
    LATEST_DAY,
    MAX_TEXT_LENGTH,
)

Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
"""An id issued by the owning service or an HMPPS/Cafcass system (practitioner, team, case):
1 to 100 letters, digits, '.', '_' or '-', starting and ending with a letter or digit."""

_PRINTABLE = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
TEXT_PATTERN = rf"^{_PRINTABLE}*[^\s\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]{_PRINTABLE}*$"
"""Not blank, and no NUL or other control characters but tab and line breaks."""

Text = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=TEXT_PATTERN)
]
"""Free text written by a person (a reason, a note): 1 to 2000 characters, not blank."""

ACTOR_PATTERN = r"^[^\s\x00-\x1f\x7f-\x9f]{1,255}$"

ActorName = Annotated[str, StringConstraints(pattern=ACTOR_PATTERN)]
"""Who did something, as the realm names them (a username, a service account) or as the
system names itself (`system:reduction-calendar`): 1 to 255 printable characters, no spaces."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
"""A name or short label a person gave (a practitioner's name, a reason's title): 1 to 200
characters, not blank, no control characters."""

DAY_PATTERN = r"^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
"""An ISO calendar day from 1900 to 2199, as a string."""


def _iso_day(value: Any) -> Any:
    """A day only as an ISO `YYYY-MM-DD` string (or a date): pydantic would otherwise read
    `0` as 1970-01-01, and days past 2199 overflow date arithmetic (`refusals.day`)."""
    if isinstance(value, date) and not hasattr(value, "hour"):
        day = value
    elif isinstance(value, str) and len(value) == 10:
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a day written YYYY-MM-DD") from None
    else:
        raise ValueError("must be a day written YYYY-MM-DD")
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(f"must be from {EARLIEST_DAY} to {LATEST_DAY}")
    return day


Day = Annotated[
    date,
    BeforeValidator(_iso_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
]
"""A calendar day in a request (body, path or query): an ISO string from 1900 to 2199."""


LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"
"""One line: not blank, no control characters at all (not even tab or line breaks)."""

Line = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH, pattern=LINE_PATTERN)
]
"""Text a person wrote, carried in a URL (a query's reason, a file's name): as `Text`, but on
one line, since a URL carries no control characters (the gate refuses them)."""


# --- decimals within bounds --------------------------------------------------------------------


def _same_length(low: str, high: str) -> list[str]:
    """Regex alternatives for the digit strings of one length from `low` to `high`."""
    if low == high:
        return [low]
    common = 0
    while low[common] == high[common]:
        common += 1
    prefix, low, high = low[:common], low[common:], high[common:]
    if len(low) == 1:
        return [f"{prefix}[{low}-{high}]"]
    rest = len(low) - 1
    found: list[str] = []
    first = int(low[0])
    if low[1:] != "0" * rest:
        found += [prefix + low[0] + tail for tail in _same_length(low[1:], "9" * rest)]
        first += 1
    last = int(high[0]) if high[1:] == "9" * rest else int(high[0]) - 1
    if first <= last:
        digit = "[0-9]" if rest == 1 else f"[0-9]{{{rest}}}"
        found.append(f"{prefix}[{first}-{last}]{digit}")
    if high[1:] != "9" * rest:
        found += [prefix + high[0] + tail for tail in _same_length("0" * rest, high[1:])]
    return found


def _whole_numbers(low: int, high: int) -> list[str]:
    """Regex alternatives for the whole numbers from `low` to `high`, without leading zeros."""
    found: list[str] = []
    while low <= high:
        top = min(high, 10 ** len(str(low)) - 1)
        found += _same_length(str(low), str(top))
        low = top + 1
    return found


def _fractions(low: int, high: int, places: int) -> list[str]:
    """Regex alternatives for the 1 to `places` digits after a point whose value, in units of
    the last place, is from `low` to `high`."""
    found: list[str] = []
    for digits in range(1, places + 1):
        unit = 10 ** (places - digits)
        first, last = -(-low // unit), high // unit
        if first <= last:
            found += _same_length(str(first).zfill(digits), str(last).zfill(digits))
    return found


def _either(alternatives: list[str]) -> str:
    return alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"


def decimal_pattern(low: Decimal, high: Decimal, places: int) -> str:
    """A regex for the decimals from `low` to `high` (neither negative) with at most `places`
    decimal places, written plainly: `7`, `7.5`, `37.50`; no sign, exponent or leading zero."""
    if places < 1 or low < 0 or high < low:
        raise ValueError("places from 1, and 0 <= low <= high")
    scale = 10**places
    low_units, high_units = int(low * scale), int(high * scale)
    low_whole, low_part = divmod(low_units, scale)
    high_whole, high_part = divmod(high_units, scale)
    any_part = rf"(?:\.[0-9]{{1,{places}}})?"

    def ending(first: int, last: int) -> str:
        point = rf"\.{_either(_fractions(first, last, places))}"
        return f"(?:{point})?" if first == 0 else point

    if low_whole == high_whole:
        return f"^{low_whole}{ending(low_part, high_part)}$"
    found = [f"{low_whole}{ending(low_part, scale - 1)}"]
    if low_whole + 1 <= high_whole - 1:
        found.append(_either(_whole_numbers(low_whole + 1, high_whole - 1)) + any_part)
    found.append(f"{high_whole}{ending(0, high_part)}")
    return f"^(?:{'|'.join(found)})$"


class DecimalBounds:
    """Holds a decimal from `low` to `high` with at most `places` decimal places, written as a
    JSON string (exact, as the API answers with) or a JSON number:
    `Annotated[Decimal, DecimalBounds("0", "37.5")]`. The JSON Schema says the same: the
    string's pattern allows exactly the values the domain accepts."""

    def __init__(self, low: str, high: str, *, places: int = 2, description: str = "") -> None:
        self.low, self.high, self.places = Decimal(low), Decimal(high), places
        self.description = description
        self.pattern = decimal_pattern(self.low, self.high, places)
        self._matches = re.compile(self.pattern).match

    def exact(self, value: Any) -> Decimal:
        low, high, places = self.low, self.high, self.places
        if isinstance(value, str):
            if not self._matches(value):
                raise ValueError(
                    f"must be a decimal from {low} to {high} with at most {places} decimal "
                    "places, written plainly (e.g. 7.5)"
                )
            return Decimal(value)
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            raise ValueError("must be a decimal, as a JSON string or number")
        exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if not exact.is_finite() or not low <= exact <= high:
            raise ValueError(f"must be from {low} to {high}")
        if exact != exact.quantize(Decimal(1).scaleb(-places)):
            raise ValueError(f"must have at most {places} decimal places")
        return exact

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_before_validator_function(self.exact, handler(source))

    def __get_pydantic_json_schema__(self, schema: Any, handler: GetJsonSchemaHandler) -> Any:
        number = {
            "type": "number",
            "minimum": float(self.low),
            "maximum": float(self.high),
            "multipleOf": float(Decimal(1).scaleb(-self.places)),
        }
        found: dict[str, Any] = {"anyOf": [number, {"type": "string", "pattern": self.pattern}]}
        if self.description:
            found["description"] = self.description
        return found


# --- instants ----------------------------------------------------------------------------------

INSTANT_PATTERN = (
    r"^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""An RFC 3339 instant from 1900 to 2199, with its offset from UTC."""

_INSTANT: Final = re.compile(INSTANT_PATTERN)


def _rfc3339_instant(value: Any) -> Any:
    """An instant only as an RFC 3339 string with an offset (or an aware datetime): pydantic
    would otherwise read `0.5` as half a second after 1970."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("must say its offset from UTC")
        return value
    if not isinstance(value, str) or not _INSTANT.match(value):
        raise ValueError("must be an instant written YYYY-MM-DDThh:mm:ss with an offset (Z)")
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be a real instant (that day exists)") from None


Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339_instant),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN}),
]
"""An instant in a request (an `as_of`): RFC 3339 with its offset, from 1900 to 2199."""


# --- times of day ------------------------------------------------------------------------------

LOCAL_TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
"""A time of day on the UK wall clock, without a zone: `09:30`, `09:30:15`."""

_LOCAL_TIME: Final = re.compile(LOCAL_TIME_PATTERN)


def _wall_clock(moment: Any) -> Any:
    if isinstance(moment, time) and moment.tzinfo is None:
        return moment
    if not isinstance(moment, str) or not _LOCAL_TIME.match(moment):
        raise ValueError("a UK wall-clock time of the day, without a zone (e.g. 09:30)")
    return time.fromisoformat(moment)


LocalTime = Annotated[
    time,
    BeforeValidator(_wall_clock),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCAL_TIME_PATTERN,
            "description": "A UK wall-clock time of the day, without a zone (e.g. 09:30)",
        }
    ),
]
"""A time of day in a request: the UK wall clock, never a zone (JSON Schema's `time` format
would demand one, and a zone on a wall-clock time means nothing)."""
