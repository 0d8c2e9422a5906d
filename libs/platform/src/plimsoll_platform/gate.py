"""The gate every request passes before a service does any work for it.

An ASGI middleware, so that it runs before FastAPI reads or parses a body:

1. operational routes (health, metrics, the OpenAPI document), and what a
   service declares public (the audit log's signed hashes), pass freely;
2. a URL with control characters (a NUL, say) is refused (422): no id, path
   or query value a service accepts contains one, and a store cannot hold it;
3. the bearer token is checked (401 without a valid one), so an
   unauthenticated caller never makes the server read, parse or store a body;
4. the body is held to a size limit (413), by its Content-Length and, for a
   body sent in chunks, as it arrives.

The caller the token describes is left in the request's state for
`auth.current_principal`.
"""

import re
from collections.abc import Mapping
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plimsoll_platform.auth import TokenRejected, TokenVerifier, unauthorised
from plimsoll_platform.problems import PROBLEM_BASE, PROBLEM_JSON, InvalidParam, ProblemDetails

PUBLIC_PATHS: Final = frozenset(
    {"/health/live", "/health/ready", "/metrics", "/openapi.json", "/docs", "/redoc"}
)
DEFAULT_MAX_BODY_BYTES: Final = 1024 * 1024
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]|%[01][0-9a-fA-F]|%7[fF]")


def _problem(
    status: int,
    title: str,
    detail: str,
    kind: str,
    *,
    path: str,
    params: list[InvalidParam] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ProblemDetails(
        type=PROBLEM_BASE + kind,
        title=title,
        status=status,
        detail=detail,
        instance=path if not _CONTROL.search(path) else None,
        invalid_params=params,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True, by_alias=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


class Gate:
    """Control characters, then the token, then the body's size; see the module's docstring.

    `large_bodies` raises the limit for paths under a prefix (CSV uploads).
    `public` marks path prefixes public (True) or not (False); the longest matching
    prefix decides, so `{"/tile/": True, "/tile/entries/": False}` opens the one and
    not the other. A public route that wants a caller still checks the token itself.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        large_bodies: Mapping[str, int] | None = None,
        public: Mapping[str, bool] | None = None,
    ) -> None:
        self.app = app
        # Longest first, so the first match is the most specific.
        self.public = sorted((public or {}).items(), key=lambda item: -len(item[0]))
        self.verifier = verifier
        self.max_body_bytes = max_body_bytes
        self.large_bodies = dict(large_bodies or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        raw = (
            scope.get("raw_path", b"").decode("latin-1")
            + "?"
            + scope["query_string"].decode("latin-1")
        )
        if _CONTROL.search(path) or _CONTROL.search(raw):
            where = "path" if _CONTROL.search(path) else "query"
            await _problem(
                422,
                "The request is not valid",
                f"the URL's {where} contains a control character",
                "invalid-request",
                path=path,
                params=[InvalidParam(name=where, reason="contains a control character")],
            )(scope, receive, send)
            return
        try:
            token = _bearer(Headers(scope=scope))
            principal = await run_in_threadpool(self.verifier.verify, token)
        except TokenRejected as rejected:
            problem = unauthorised(str(rejected))
            await _problem(
                401,
                problem.details.title,
                str(rejected),
                "not-authenticated",
                path=path,
                headers=problem.headers,
            )(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        limit = self._limit_for(path)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(limit, path)(scope, receive, send)
            return
        await self._within(limit, path, scope, receive, send)

    def _is_public(self, path: str) -> bool:
        if path in PUBLIC_PATHS:
            return True
        return next((public for prefix, public in self.public if path.startswith(prefix)), False)

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.large_bodies.items():
            if path.startswith(prefix):
                return limit
        return self.max_body_bytes

    @staticmethod
    def _too_large(limit: int, path: str) -> JSONResponse:
        return _problem(
            413,
            "The request body is too large",
            f"this route accepts bodies of at most {limit} bytes",
            "body-too-large",
            path=path,
        )

    async def _within(
        self, limit: int, path: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """Run the app, answering 413 instead if a chunked body grows past `limit`."""
        received = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not refused:
                    refused = True
                    if not started:
                        await self._too_large(limit, path)(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 is the answer; whatever the app says after is dropped
            started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not refused:
                raise
            # The app saw the body end early (a ClientDisconnect): the 413 is the answer.


def _bearer(headers: Headers) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("a Bearer token from the plimsoll realm is required")
    return token.strip()
