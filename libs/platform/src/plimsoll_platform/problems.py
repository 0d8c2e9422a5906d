"""RFC 9457 problem details for every error a service returns."""

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from plimsoll_events.faults import is_transient
from plimsoll_events.refusals import Refused
from psycopg import Error as DatabaseError
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://plimsoll.example.org/problems/"
# How long a client is told to wait while the database is away (a restart takes seconds).
RETRY_AFTER_SECONDS = 5


class InvalidParam(BaseModel):
    name: str
    reason: str


class ProblemDetails(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    # Named as in RFC 9457's own example, so generic clients recognise it.
    invalid_params: list[InvalidParam] | None = Field(
        default=None, serialization_alias="invalid-params"
    )


class Problem(Exception):
    """Raise from a route or handler to answer with problem details."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        kind: str | None = None,
        invalid_params: list[InvalidParam] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.headers = headers or {}
        self.details = ProblemDetails(
            type=PROBLEM_BASE + kind if kind else "about:blank",
            title=title,
            status=status,
            detail=detail,
            invalid_params=invalid_params,
        )


def problem_response(details: ProblemDetails, request: Request) -> JSONResponse:
    body = details.model_copy(update={"instance": str(request.url.path)})
    return JSONResponse(
        body.model_dump(exclude_none=True, by_alias=True),
        status_code=details.status,
        media_type=PROBLEM_JSON,
    )


def _field_name(location: tuple[Any, ...]) -> str:
    # ("body", "practitioner", "contracted_hours") -> "practitioner.contracted_hours"
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or ".".join(str(p) for p in location)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        response = problem_response(exc.details, request)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        params = [InvalidParam(name=_field_name(e["loc"]), reason=e["msg"]) for e in exc.errors()]
        details = ProblemDetails(
            type=PROBLEM_BASE + "invalid-request",
            title="The request is not valid",
            status=422,
            detail="; ".join(f"{p.name}: {p.reason}" for p in params),
            invalid_params=params,
        )
        return problem_response(details, request)

    async def on_database(request: Request, exc: Exception) -> JSONResponse:
        # The connection lost, the server restarting or out of a resource for now: the same
        # request will do once it is back (a write cut at its commit may have happened; its
        # Idempotency-Key makes the retry safe). Anything else is the service's fault: a 500.
        if not is_transient(exc):
            raise exc
        details = ProblemDetails(
            type=PROBLEM_BASE + "database-unavailable",
            title="The service cannot reach its database for now",
            status=503,
            detail=f"try again in {RETRY_AFTER_SECONDS} seconds; a write retried with the same "
            "Idempotency-Key is done at most once",
        )
        response = problem_response(details, request)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    app.add_exception_handler(DBAPIError, on_database)
    app.add_exception_handler(DatabaseError, on_database)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # A body FastAPI could not read at all (not JSON, a broken form): as invalid
            # as a body that breaks its schema, and answered the same way.
            details = ProblemDetails(
                type=PROBLEM_BASE + "invalid-request",
                title="The request is not valid",
                status=422,
                detail=f"body: {exc.detail}",
                invalid_params=[InvalidParam(name="body", reason=str(exc.detail))],
            )
        else:
            details = ProblemDetails(title=str(exc.detail), status=exc.status_code)
        response = problem_response(details, request)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(_allowed(request))
        return response


def _allowed(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


ProblemMapping = Mapping[type[Exception], Callable[[Any], Problem]]
"""Exceptions of code the platform must not import (a domain's refusals, the event
store's conflicts), each with the function that turns one into a `Problem`."""


def install_problem_mapping(app: FastAPI, mapping: ProblemMapping) -> None:
    """Answer each mapped exception, wherever a route raises it, as its problem details."""
    for exception_type, to_problem in mapping.items():

        async def on_mapped(
            request: Request, exc: Exception, to_problem: Callable[[Any], Problem] = to_problem
        ) -> JSONResponse:
            problem = to_problem(exc)
            response = problem_response(problem.details, request)
            response.headers.update(problem.headers)
            return response

        app.add_exception_handler(exception_type, on_mapped)


def refusal_problem(refusal: Refused) -> Problem:
    """A domain's refusal as problem details: its status and kind, and the field at fault."""
    return Problem(
        refusal.status,
        refusal.title,
        refusal.reason,
        kind=refusal.kind,
        invalid_params=None
        if refusal.field is None
        else [InvalidParam(name=refusal.field, reason=refusal.reason)],
    )
