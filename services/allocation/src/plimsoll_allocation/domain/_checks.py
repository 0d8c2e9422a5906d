"""Value checks shared by the aggregates, each raising `InvalidValue` naming the field."""

from decimal import Decimal

from plimsoll_allocation.domain.errors import InvalidValue

MAX_IDENTIFIER_LENGTH = 100
MAX_TEXT_LENGTH = 2000
_HUNDREDTH = Decimal("0.01")


def identifier(value: str, field: str) -> str:
    """An id: 1 to 100 characters, not blank."""
    if not value.strip() or len(value) > MAX_IDENTIFIER_LENGTH:
        raise InvalidValue(f"must be 1 to {MAX_IDENTIFIER_LENGTH} characters", field=field)
    return value


def text(value: str, field: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """Words a person wrote: not blank, at most `max_length` characters."""
    if not value.strip():
        raise InvalidValue("must say something", field=field)
    if len(value) > max_length:
        raise InvalidValue(f"must be at most {max_length} characters", field=field)
    return value


def optional_text(value: str | None, field: str) -> str | None:
    """Optional words: None, or `text`."""
    return None if value is None else text(value, field)


def decimal(value: Decimal, field: str, *, low: Decimal, high: Decimal, unit: str) -> Decimal:
    """A finite decimal from `low` to `high` inclusive, with at most 2 decimal places."""
    if not value.is_finite() or not low <= value <= high:
        raise InvalidValue(f"must be from {low} to {high} {unit}", field=field)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        rounded = value.quantize(_HUNDREDTH)
        if rounded != value:
            raise InvalidValue("must have at most 2 decimal places", field=field)
        return rounded
    return value
