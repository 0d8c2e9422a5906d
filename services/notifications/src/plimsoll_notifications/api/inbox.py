"""The in-app inbox: list, read, acknowledge; new items pushed live (server-sent events)."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from plimsoll_events.refusals import NotFound, OutsideScope
from plimsoll_events.types.fields import Identifier, Text
from plimsoll_platform.api import IdempotencyKey, StrictBody, problem_responses
from plimsoll_platform.event_sourcing import CommandMetadata
from plimsoll_platform.roles import Role
from pydantic import BaseModel

from plimsoll_notifications.api.deps import (
    HandlersDep,
    HistoryReader,
    QueriesDep,
    SignedIn,
    TimeDep,
)
from plimsoll_notifications.domain.notification import Acknowledge, Read

router = APIRouter(tags=["inbox"])
NOT_YOURS = {404: "No such notification (admins and services only; others get 403)"}
SSE_POLL_SECONDS = 1.0
SSE_KEEPALIVE_SECONDS = 15.0


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


@router.get(
    "/inbox/stream",
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses()},
    summary="New inbox items as they arrive (server-sent events, one `notification` each)",
)
async def stream(caller: SignedIn, queries: QueriesDep, request: Request) -> StreamingResponse:
    recipient = caller.actor_id
    cursor = await asyncio.to_thread(queries.head)

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
            await asyncio.sleep(SSE_POLL_SECONDS)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


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
