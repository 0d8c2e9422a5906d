"""The in-app inbox: list, read, acknowledge; new items pushed live (server-sent events)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from plimsoll_events.refusals import NotFound, OutsideScope
from plimsoll_events.types.fields import Identifier, Text
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.auth import unauthorised
from plimsoll_platform.event_sourcing import CommandMetadata
from plimsoll_platform.roles import Role
from pydantic import BaseModel

from plimsoll_notifications import stream_tickets
from plimsoll_notifications.api.deps import (
    HandlersDep,
    HistoryReader,
    QueriesDep,
    SignedIn,
    TimeDep,
)
from plimsoll_notifications.domain.notification import Acknowledge, Read
from plimsoll_notifications.queries import NotificationQueries

router = APIRouter(tags=["inbox"])
NOT_YOURS = {404: "No such notification (admins and services only; others get 403)"}
SSE_POLL_SECONDS = 1.0
SSE_KEEPALIVE_SECONDS = 15.0
LIVE_PATH = "/live/inbox"
"""Outside the gate's bearer check (see `main`): the ticket is checked here instead."""


class InboxItem(BaseModel):
    notification_id: str
    title: str
    link: str
    practitioner_id: str | None
    identifiers: dict[str, str]
    step: str
    rule: str
    urgent: bool
    needs_acknowledgement: bool
    acknowledge_by: datetime | None
    round: int
    sent_at: datetime
    read_at: datetime | None
    acknowledged_at: datetime | None
    escalated_at: datetime | None


class Acknowledgement(StrictBody):
    note: Text | None = None


def _item(queries: QueriesDep, caller: SignedIn, notification_id: str) -> dict[str, Any]:
    row = queries.item(notification_id)
    if row is None or row["recipient"] != caller.actor_id:
        if row is None and caller.everywhere:
            raise NotFound(f"no notification {notification_id}", field="notification_id")
        raise OutsideScope(
            f"notification {notification_id} is not in your inbox", field="notification_id"
        )
    return row


@router.get("/inbox", responses=problem_responses(), summary="My inbox, newest first")
def inbox(
    caller: SignedIn,
    queries: QueriesDep,
    unread: Annotated[bool, Query(description="Only what I have not opened")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[InboxItem]:
    rows = queries.inbox(caller.actor_id, unread=unread, limit=limit)
    return [InboxItem.model_validate(row) for row in rows]


STREAM_DESCRIPTION = """\
Server-sent events: each new or re-delivered item of the caller's inbox as an event
`notification` whose `id` is its position. A client that reconnects with `Last-Event-ID`
(as `EventSource` does by itself) gets every item after that id first, then the new ones;
without it, only what arrives from now on. `after` does the same for a client that opens a
new connection and cannot set the header (a new `EventSource`).

Authentication: a bearer token here. A browser's native `EventSource` cannot send one: it
gets a ticket with its token (`POST /inbox/stream/tickets`) and opens `GET /live/inbox?ticket=`
instead. Never put the access token itself in a URL.
"""
MAX_POSITION = 2**63 - 1
LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=100,
        description=(
            "Resume after this event id (sent by EventSource when it reconnects); an id this "
            "stream did not give (not a position) is ignored: the stream starts from now"
        ),
    ),
]
After = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="Resume after this event id, for a client that cannot send the header",
    ),
]


def _events(
    request: Request, queries: NotificationQueries, recipient: str, cursor: int
) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        nonlocal cursor
        yield "retry: 2000\n\n"
        quiet = 0.0
        while not await request.is_disconnected():
            rows = await asyncio.to_thread(queries.since, recipient, cursor)
            for row in rows:
                cursor = max(cursor, int(row["position"]))
                item = InboxItem.model_validate(row).model_dump_json()
                yield f"id: {row['position']}\nevent: notification\ndata: {item}\n\n"
            quiet = 0.0 if rows else quiet + SSE_POLL_SECONDS
            if quiet >= SSE_KEEPALIVE_SECONDS:
                quiet = 0.0
                yield ": still here\n\n"
            if not rows:
                await asyncio.sleep(SSE_POLL_SECONDS)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _cursor(
    queries: NotificationQueries, last_event_id: str | None, after: int | None
) -> int:
    if last_event_id is not None and last_event_id.isascii() and last_event_id.isdigit():
        position = int(last_event_id)
        if position <= MAX_POSITION:
            return position
    if after is not None:
        return after
    return await asyncio.to_thread(queries.head)


@router.get(
    "/inbox/stream",
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses()},
    summary="New inbox items as they arrive (server-sent events, one `notification` each)",
    description=STREAM_DESCRIPTION,
)
async def stream(
    caller: SignedIn,
    queries: QueriesDep,
    request: Request,
    last_event_id: LastEventId = None,
    after: After = None,
) -> StreamingResponse:
    cursor = await _cursor(queries, last_event_id, after)
    return _events(request, queries, caller.actor_id, cursor)


class StreamTicket(BaseModel):
    ticket: str
    """Opens the caller's stream at `GET /live/inbox?ticket=`; nothing else."""
    expires_at: datetime
    """Open the stream before this (a minute); an open stream stays open after it."""


@router.post(
    "/inbox/stream/tickets",
    responses=problem_responses(),
    summary="A short-lived ticket to open my live inbox stream from a browser (EventSource)",
)
def stream_ticket(caller: SignedIn, handlers: HandlersDep, time: TimeDep) -> StreamTicket:
    ticket, expires_at = stream_tickets.issue(handlers.engine, caller.actor_id, time.now())
    return StreamTicket(ticket=ticket, expires_at=expires_at)


@router.get(
    LIVE_PATH,
    responses={
        200: {"content": {"text/event-stream": {}}},
        **problem_responses({401: "No ticket, or one unknown or expired"}),
    },
    summary="My inbox stream for a browser's EventSource, opened with a ticket",
    description=STREAM_DESCRIPTION,
)
async def live(
    queries: QueriesDep,
    handlers: HandlersDep,
    time: TimeDep,
    request: Request,
    ticket: Annotated[
        str, Query(min_length=1, max_length=100, description="From POST /inbox/stream/tickets")
    ],
    last_event_id: LastEventId = None,
    after: After = None,
) -> StreamingResponse:
    recipient = await asyncio.to_thread(stream_tickets.redeem, handlers.engine, ticket, time.now())
    if recipient is None:
        raise unauthorised("the stream ticket is unknown or expired: ask for a new one")
    cursor = await _cursor(queries, last_event_id, after)
    return _events(request, queries, recipient, cursor)


@router.get("/inbox/{notification_id}", responses=problem_responses(NOT_YOURS), summary="One item")
def item(notification_id: Identifier, caller: SignedIn, queries: QueriesDep) -> InboxItem:
    return InboxItem.model_validate(_item(queries, caller, notification_id))


@router.post(
    "/inbox/{notification_id}/read",
    responses=problem_responses(NOT_YOURS, command=True),
    summary="Record that I opened it (the first time only)",
)
def read(
    notification_id: Identifier,
    caller: SignedIn,
    queries: QueriesDep,
    handlers: HandlersDep,
    time: TimeDep,
    metadata: CommandMetadata,
) -> InboxItem:
    _item(queries, caller, notification_id)
    handlers.read(Read(notification_id, caller.actor_id, time.now()), metadata)
    return InboxItem.model_validate(_item(queries, caller, notification_id))


@router.post(
    "/inbox/{notification_id}/acknowledgement",
    responses=problem_responses({**NOT_YOURS, 409: "Acknowledged already"}, command=True),
    summary="Acknowledge it: no reminder or escalation follows",
)
def acknowledge(
    notification_id: Identifier,
    body: Acknowledgement,
    caller: SignedIn,
    queries: QueriesDep,
    handlers: HandlersDep,
    time: TimeDep,
    metadata: CommandMetadata,
    key: IdempotencyKey,
) -> InboxItem:
    _item(queries, caller, notification_id)
    command = Acknowledge(notification_id, caller.actor_id, time.now(), body.note)
    handlers.acknowledge(command, metadata, key)
    return InboxItem.model_validate(_item(queries, caller, notification_id))


class HistoryEntry(BaseModel):
    type: str
    position: int
    recorded_at: datetime
    data: dict[str, Any]


@router.get(
    "/notifications/{notification_id}",
    responses=problem_responses({404: "No such notification"}),
    summary="Who was told what, when and how: every event of one notification",
)
def history(
    notification_id: Identifier, caller: HistoryReader, queries: QueriesDep
) -> list[HistoryEntry]:
    entries = queries.history(notification_id)
    privileged = caller.principal.has_any(Role.ADMIN, Role.SERVICE, Role.AUDITOR)
    if not entries:
        if privileged:
            raise NotFound(f"no notification {notification_id}", field="notification_id")
        raise OutsideScope(f"notification {notification_id} is not yours", field="notification_id")
    if not privileged and entries[0]["data"].get("recipient") != caller.actor_id:
        raise OutsideScope(f"notification {notification_id} is not yours", field="notification_id")
    return [HistoryEntry.model_validate(entry) for entry in entries]
