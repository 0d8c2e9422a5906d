"""The API kit every service's routes are written with.

* `StrictBody`: request bodies refuse fields they do not know.
* `problem_responses`: the problem details a route can answer, described in
  the service's own words, for the OpenAPI document.
* `IdempotencyKey`: the `Idempotency-Key` header as an `Idempotency`, scoped
  to the caller and the route, with a fingerprint of the request, so that a
  retry returns the first answer and the same key on another request is 422;
  `RequiredIdempotencyKey` where a write must never count twice (logged time).
* `held` and `attach`: what the app holds (handlers, queries, read models),
  as typed dependencies: `WorkforceDep = Annotated[Workforce, Depends(held(Workforce))]`.
"""

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, Final, Protocol, TypeVar, runtime_checkable

from fastapi import Depends, FastAPI, Header, Request
from plimsoll_events.handling import Idempotency
from pydantic import BaseModel, ConfigDict

from plimsoll_platform.auth import CurrentPrincipal
from plimsoll_platform.problems import ProblemDetails

T = TypeVar("T")


class StrictBody(BaseModel):
    """A request body: a field the API does not know is refused, never silently dropped."""

    model_config = ConfigDict(extra="forbid")


# --- problem responses -------------------------------------------------------------------------

_PROBLEM: Final = {"model": ProblemDetails, "content": {"application/problem+json": {}}}

ALWAYS: Final[Mapping[int, str]] = {
    401: "No valid token",
    403: "The caller's role, team or region does not allow it",
    422: "A value is not valid; invalid-params names the field",
}
"""What any route behind a token may answer."""

COMMAND: Final[Mapping[int, str]] = {
    409: "Conflicts with what is recorded, or someone changed it at the same time",
    413: "The request body is too large",
}
"""What a command (a request that records events) may answer besides."""


def problem_responses(
    described: Mapping[int, str] | None = None, *, command: bool = False
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: `ALWAYS`, `COMMAND` for commands, and `described` (a
    404 in the service's words, say), each answered as problem details."""
    statuses = {**ALWAYS, **(COMMAND if command else {}), **(described or {})}
    return {status: {**_PROBLEM, "description": text} for status, text in sorted(statuses.items())}


# --- idempotency -------------------------------------------------------------------------------

IDEMPOTENCY_KEY_PATTERN: Final = r"^[\x20-\x7e]{1,255}$"


_KEY_RULES: Final = (
    "1 to 255 printable ASCII characters (a UUID, say). Retrying with the same key returns "
    "the first answer and records nothing; the same key with another request is refused (422)."
)


async def _scoped(request: Request, principal: CurrentPrincipal, key: str) -> Idempotency:
    body = await request.body()
    fingerprint = hashlib.sha256(request.url.query.encode() + b"\n" + body).hexdigest()
    return Idempotency(
        f"{principal.subject} {request.method} {request.url.path} {key}", fingerprint
    )


async def idempotency(
    request: Request,
    principal: CurrentPrincipal,
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", pattern=IDEMPOTENCY_KEY_PATTERN, description=_KEY_RULES),
    ] = None,
) -> Idempotency | None:
    return None if key is None else await _scoped(request, principal, key)


async def required_idempotency(
    request: Request,
    principal: CurrentPrincipal,
    key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            pattern=IDEMPOTENCY_KEY_PATTERN,
            description=f"Required on this write: {_KEY_RULES}",
        ),
    ],
) -> Idempotency:
    return await _scoped(request, principal, key)


IdempotencyKey = Annotated[Idempotency | None, Depends(idempotency)]
RequiredIdempotencyKey = Annotated[Idempotency, Depends(required_idempotency)]
"""The same, required (422 without it): for writes that must never count twice."""


# --- what the app holds ------------------------------------------------------------------------


@runtime_checkable
class Lifecycle(Protocol):
    """Something that runs alongside the app (jobs, projections): started and stopped with it."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def attach(app: FastAPI, *components: object) -> None:
    """Hold components for `held` dependencies (by their class); those with `start` and
    `stop` run for the app's lifetime, started in this order and stopped in reverse."""
    holding: dict[type, object] = app.state.held
    for component in components:
        holding[type(component)] = component
        if isinstance(component, Lifecycle):
            app.state.lifecycle.append(component)


def held(kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency giving the component of this class that the app holds (async: FastAPI
    runs a plain function dependency on its thread pool, a hop for a dictionary lookup)."""

    async def component(request: Request) -> T:
        found = request.app.state.held.get(kind)
        if found is None:
            raise RuntimeError(f"the app holds no {kind.__name__}: attach it in main")
        return found  # type: ignore[no-any-return]

    return component
