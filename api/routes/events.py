"""Server-sent events of inventory changes, in the order the indexer committed them."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api import inventory
from api.deps import InventoryReadable
from api.errors import InvalidFilterError, ServiceUnavailableError
from api.routes._problems import problems

router = APIRouter(tags=["events"], dependencies=[InventoryReadable])

BATCH = 500
_EXAMPLE = (
    "retry: 2000\n\n"
    "id: 42\nevent: provider_registered\n"
    'data: {"id":42,"kind":"provider_registered","subject":"0x7099…","block_number":17,'
    '"log_index":0,"data":{"name":"Acme GPU"},"as_of_block":17}\n\n'
)


_EVENT_SCHEMA = {
    "type": "object",
    "description": "one server-sent event; `data` is the change as JSON",
    "properties": {
        "id": {"type": "string", "description": "the change id"},
        "event": {"type": "string", "description": "the change kind"},
        "data": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


def _read(factory: Callable[[], Session], after: int) -> tuple[list[dict[str, Any]], int]:
    with factory() as session:
        block = inventory.as_of(session)
        rows = inventory.changes_after(session, after, BATCH)
    return [
        {
            "id": int(r.id),
            "kind": r.kind,
            "subject": r.subject,
            "block_number": int(r.block_number),
            "log_index": r.log_index,
            "data": r.data or {},
            "as_of_block": block,
        }
        for r in rows
    ], block


def _frame(change: dict[str, Any]) -> str:
    data = json.dumps(change, separators=(",", ":"))
    return f"id: {change['id']}\nevent: {change['kind']}\ndata: {data}\n\n"


@router.get(
    "/v1/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "a text/event-stream of inventory changes; each event's id is the "
            "change id (resume with Last-Event-ID), its data the change as JSON with "
            "`as_of_block`. A `reorg` event means rows after its block were replaced.",
            "content": {"text/event-stream": {"schema": _EVENT_SCHEMA, "example": _EXAMPLE}},
        },
        **problems(InvalidFilterError, ServiceUnavailableError),
    },
)
async def events(
    request: Request,
    last_event_id: Annotated[
        str | None, Header(description="resume after this change id (sent by EventSource)")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, lt=2**63, description="start after this change id")
    ] = None,
    follow: Annotated[
        bool, Query(description="keep the stream open for new changes (false: backlog only)")
    ] = True,
) -> StreamingResponse:
    """Streams inventory changes as the indexer commits them (server-sent events)."""
    start = after if after is not None else 0
    if last_event_id is not None and last_event_id.strip():
        try:
            start = int(last_event_id.strip())
        except ValueError:
            raise InvalidFilterError("Last-Event-ID must be a change id (an integer)") from None
        if start < 0:
            raise InvalidFilterError("Last-Event-ID must not be negative")
    factory = request.app.state.session_factory
    settings = request.app.state.settings
    try:
        first, _ = await anyio.to_thread.run_sync(_read, factory, start)
    except Exception as exc:
        raise ServiceUnavailableError(f"the inventory database is not readable: {exc}") from None

    async def stream() -> AsyncIterator[str]:
        cursor = start
        batch = first
        yield "retry: 2000\n\n"
        last_sent = time.monotonic()
        while True:
            for change in batch:
                cursor = change["id"]
                yield _frame(change)
                last_sent = time.monotonic()
            if len(batch) >= BATCH:
                batch, _ = await anyio.to_thread.run_sync(_read, factory, cursor)
                continue
            if not follow or await request.is_disconnected():
                return
            await anyio.sleep(settings.sse_poll_interval)
            if time.monotonic() - last_sent > settings.sse_keepalive:
                yield ": keepalive\n\n"
                last_sent = time.monotonic()
            try:
                batch, _ = await anyio.to_thread.run_sync(_read, factory, cursor)
            except Exception:
                batch = []

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
