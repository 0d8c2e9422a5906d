"""CSV uploads: one way for every service that takes a file of rows.

A route takes the body with `CsvText` (`text/csv`, UTF-8 with or without a byte-order mark;
else 415 or 422), describes it with `csv_body`, and answers 422 with `header_problem` when
the service's reader raises `HeaderError` (the whole file refused, naming the columns).
Every other row is its own command: what was not recorded is a `Rejection` (line, column,
why), answered as `RejectedRow`, so that one bad row never stops the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from plimsoll_platform.problems import InvalidParam, Problem

MEDIA_TYPES = ("text/csv", "application/csv")


class HeaderError(ValueError):
    """The header row is wrong (columns missing, unknown or repeated), or the file is not
    text: the whole file is refused."""

    def __init__(
        self,
        reason: str,
        *,
        missing: Sequence[str] = (),
        unknown: Sequence[str] = (),
        repeated: Sequence[str] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.missing = tuple(missing)
        self.unknown = tuple(unknown)
        self.repeated = tuple(repeated)


@dataclass(frozen=True)
class Rejection:
    """A row not recorded: its line in the file, the column at fault (None: the row), why."""

    line: int
    field: str | None
    reason: str


class RejectedRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line: int = Field(description="The line the row starts on; the header is line 1")
    field: str | None = Field(description="The column at fault; null when it is the whole row")
    reason: str


def decode(body: bytes) -> str:
    """The body as text: UTF-8, with or without a byte-order mark."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HeaderError(
            f"the file is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8"
        ) from exc


def header_problem(error: HeaderError) -> Problem:
    params = (
        [InvalidParam(name=c, reason="missing column") for c in error.missing]
        + [InvalidParam(name=c, reason="unknown column") for c in error.unknown]
        + [InvalidParam(name=c, reason="repeated column") for c in error.repeated]
    )
    return Problem(
        422,
        "The CSV header is not valid",
        error.reason,
        kind="invalid-csv-header",
        invalid_params=params or None,
    )


async def csv_text(request: Request) -> str:
    """The body as text, when it is CSV."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in MEDIA_TYPES:
        raise Problem(415, "Unsupported media type", "send the file as text/csv", kind="media")
    try:
        return decode(await request.body())
    except HeaderError as error:
        raise header_problem(error) from error


CsvText = Annotated[str, Depends(csv_text)]


def csv_body(columns: Sequence[str], optional: frozenset[str], example: str) -> dict[str, Any]:
    """The route's `openapi_extra`: a `text/csv` body, its columns and an example."""
    required = [c for c in columns if c not in optional]
    return {
        "requestBody": {
            "required": True,
            "description": f"CSV, UTF-8, header row first. Columns: {', '.join(columns)}; "
            f"required: {', '.join(required)}; optional (column or value may be left out): "
            f"{', '.join(c for c in columns if c in optional)}.",
            "content": {"text/csv": {"schema": {"type": "string"}, "example": example}},
        }
    }
