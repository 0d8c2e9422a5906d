"""Field types shared by the shipped event types and every service's HTTP bodies.

The same rules as `plimsoll_events.refusals` (one definition of each), written
as pydantic types so that a body or an event carrying anything else is refused
at the edge, and so that the JSON Schema and OpenAPI documents say exactly what
is accepted.
"""

from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator, StringConstraints, WithJsonSchema

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
