"""The access log: who read whose data, recorded before the answer leaves.

Every read of a person's data through any service is itself an event
(`personal-data-read`, in the service's own store, hence on its topic and in
the audit log). A read route notes whose records it serves (`access.Caller`
does it for every practitioner it lets the caller into on a GET, and routes
serving named figures add them with `Caller.served`); `ReadsRecorded`, an ASGI
middleware, appends one event per practitioner served — in one append, on a
stream of the request's own so that concurrent reads never conflict — when the
route answers 2xx, and only then lets the answer go. If the read cannot be
recorded the caller gets 503 instead of the data: a read the log does not hold
is never served.

`X-Purpose` (optional, free text) says why, and is recorded with the read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final
from uuid import UUID, uuid4

from fastapi import Request
from plimsoll_events.catalogue import CATALOGUE
from plimsoll_events.records import Metadata
from plimsoll_events.refusals import MAX_TEXT_LENGTH, InvalidValue, acceptable_text
from plimsoll_events.store import EventStore
from plimsoll_events.types.audit import PersonalDataRead
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plimsoll_platform.auth import Principal
from plimsoll_platform.problems import (
    PROBLEM_BASE,
    PROBLEM_JSON,
    RETRY_AFTER_SECONDS,
    ProblemDetails,
)

log = logging.getLogger(__name__)

READS: Final = "personal_reads"
PURPOSE_HEADER: Final = "X-Purpose"
READ_METHODS: Final = frozenset({"GET", "HEAD"})


def reads_of(request: Request) -> list[str] | None:
    """The request's list of practitioners served, made on first use; None for a command."""
    if request.method not in READ_METHODS:
        return None
    reads: list[str] | None = getattr(request.state, READS, None)
    if reads is None:
        reads = []
        setattr(request.state, READS, reads)
    return reads


def purpose_of(headers: Headers) -> str | None:
    """The caller's stated purpose, if it is text the log can hold."""
    purpose = headers.get(PURPOSE_HEADER)
    if not purpose or not purpose.strip():
        return None
    try:
        return acceptable_text(purpose[:MAX_TEXT_LENGTH], PURPOSE_HEADER)
    except InvalidValue:
        return None


class ReadsRecorded:
    """Append who read whose data before a 2xx answer to a read leaves the service."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: Callable[[], EventStore | None],
        service: str,
        correlation: Callable[[Headers], UUID],
        traceparent: Callable[[], str | None],
    ) -> None:
        self.app = app
        self.store = store
        self.service = service
        self.correlation = correlation
        self.traceparent = traceparent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in READ_METHODS:
            await self.app(scope, receive, send)
            return
        refused = False

        async def recording(message: Message) -> None:
            nonlocal refused
            if refused:
                return
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                state = scope.get("state", {})
                served: list[str] = state.get(READS) or []
                principal: Principal | None = state.get("principal")
                if served and principal is not None:
                    try:
                        await run_in_threadpool(self._record, scope, principal, served)
                    except Exception:
                        log.exception("a read could not be recorded; it is not served")
                        refused = True
                        await _unavailable(scope, send)
                        return
            await send(message)

        await self.app(scope, receive, recording)

    def _record(self, scope: Scope, principal: Principal, served: list[str]) -> None:
        store = self.store()
        if store is None:
            return
        headers = Headers(scope=scope)
        reader = principal.username or principal.subject
        metadata = Metadata(
            actor=reader,
            correlation_id=self.correlation(headers),
            traceparent=self.traceparent(),
        )
        resource = f"{scope['method']} {scope['path']}"
        now = datetime.now(UTC)
        events = [
            CATALOGUE.new_event(
                PersonalDataRead(
                    practitioner_id=practitioner_id,
                    reader=reader,
                    reader_roles=sorted(principal.roles),
                    served_by=self.service,
                    resource=resource,
                    purpose=purpose_of(headers),
                    read_at=now,
                ),
                metadata,
            )
            for practitioner_id in dict.fromkeys(served)  # each once, in order
        ]
        store.append(f"read-{uuid4()}", 0, events)


async def _unavailable(scope: Scope, send: Send) -> None:
    body = ProblemDetails(
        type=PROBLEM_BASE + "access-log-unavailable",
        title="The read could not be recorded",
        status=503,
        detail="who reads whose data is recorded before it is served; try again shortly",
        instance=scope["path"],
    )
    response = JSONResponse(
        body.model_dump(exclude_none=True, by_alias=True),
        status_code=503,
        media_type=PROBLEM_JSON,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, nothing, send)
