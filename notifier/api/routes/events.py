"""POST /v1/events (structured, batch, binary CloudEvents) and the unmatched-event report."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.api.deps import MAX_PK, PrincipalDep, RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, ErrorOut, errors_of
from notifier.auth import Role
from notifier.delivery.dead_letters import unmatched_events
from notifier.delivery.planner import foreign, load_roster, named_in
from notifier.errors import InvalidInput
from notifier.events.schema import (
    JournalEventIn,
    Parsed,
    Rejected,
    parse_batch,
    parse_binary,
    parse_structured,
)
from notifier.events.stream import publish
from notifier.events.types import event_type_label
from notifier.metrics import EVENTS_IN

router = APIRouter(prefix="/v1/events", tags=["events"], route_class=DocumentedRoute)

MAX_REQUEST_BYTES = 16 * 1024 * 1024
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"


class RejectedOut(BaseModel):
    id: str | None
    error: str


class EventsOut(BaseModel):
    """What was accepted, and each event refused with the reason (SPEC §5)."""

    accepted: list[str]
    rejected: list[RejectedOut]


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise InvalidInput(f"request is larger than {MAX_REQUEST_BYTES} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise InvalidInput(f"request is larger than {MAX_REQUEST_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(request: Request, body: bytes, max_bytes: int) -> list[Parsed]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == STRUCTURED:
        return parse_structured(body, max_bytes=max_bytes)
    if media == BATCH:
        return parse_batch(body, max_bytes=max_bytes)
    if any(h.lower().startswith("ce-") for h in request.headers):
        return parse_binary(request.headers, body, max_bytes=max_bytes)
    raise InvalidInput(
        f"Content-Type must be {STRUCTURED}, {BATCH}, or binary mode with ce-* headers"
    )


@router.post(
    "",
    status_code=202,
    summary="Accept journal events (CloudEvents 1.0: structured, batch or binary mode)",
    responses={
        202: {"model": EventsOut},
        400: {"model": EventsOut, "description": "Nothing valid: the body is unreadable"},
        415: {"model": EventsOut, "description": "Neither a CloudEvents Content-Type nor ce-*"},
        422: {
            "model": EventsOut | ErrorOut,
            "description": "Nothing valid (each event's reason), or an invalid parameter",
        },
        **errors_of(413),
    },
)
async def post_events(
    request: Request, runtime: RuntimeDep, principal: PrincipalDep, session: SessionDep
) -> JSONResponse:
    principal.require(Role.integration, Role.admin)
    body = await _read_body(request)
    try:
        parsed = _parse(request, body, runtime.settings.max_event_bytes)
    except InvalidInput as exc:
        EVENTS_IN.labels("http", "other", "rejected").inc()
        status = 415 if exc.reason.startswith("Content-Type") else 400
        return JSONResponse(
            {"accepted": [], "rejected": [{"id": None, "error": exc.reason}]}, status_code=status
        )
    accepted = [p for p in parsed if isinstance(p, JournalEventIn)]
    rejected = [p for p in parsed if isinstance(p, Rejected)]
    if principal.school_id is not None and accepted:
        accepted, refused = await _own_school(session, principal.school_id, accepted)
        rejected += refused
    if accepted:
        # Durable before we answer: the stream is persisted by Redis (AOF) and read by the group.
        await publish(runtime.redis, accepted)
    for ev in accepted:
        EVENTS_IN.labels("http", event_type_label(ev.type), "accepted").inc()
    if rejected:
        EVENTS_IN.labels("http", "other", "rejected").inc(len(rejected))
    payload = {
        "accepted": [ev.id for ev in accepted],
        "rejected": [{"id": r.id, "error": r.error} for r in rejected],
    }
    return JSONResponse(payload, status_code=202 if accepted else 422)


async def _own_school(
    session: AsyncSession, school_id: str, events: list[JournalEventIn]
) -> tuple[list[JournalEventIn], list[Rejected]]:
    """A school's token posts for its school only: each event carries the school, and one that
    names another school's pupil or class is rejected now (the consumer checks again, since the
    roster may change before it is stored)."""
    events = [dataclasses.replace(ev, tenant=school_id) for ev in events]
    named = named_in(events)
    roster = await load_roster(
        session=session, student_ids=named.student_ids, class_ids=named.class_ids
    )
    reasons = [(ev, foreign(ev, roster)) for ev in events]
    return (
        [ev for ev, why in reasons if why is None],
        [Rejected(ev.id, why) for ev, why in reasons if why is not None],
    )


@router.get("/unmatched", summary="Events whose pupil or class is not on the roster")
async def unmatched(
    session: SessionDep,
    principal: PrincipalDep,
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(
        None, ge=1, le=MAX_PK, description="page: return events older than this pk"
    ),
) -> dict[str, Any]:
    principal.require(Role.admin, Role.integration)
    # A school's token sees what the school's own tokens posted.
    page = await unmatched_events(session, principal, limit=limit, before=before)
    return {
        "items": [
            {
                "pk": e.pk,
                "source": e.source,
                "id": e.event_id,
                "type": e.type,
                "time": e.time,
                "received_at": e.received_at,
                "reason": e.detail,
                "student_id": e.data.get("student_id"),
                "class_id": e.data.get("class_id"),
            }
            for e in page.items
        ],
        "next_before": page.next_before,
    }
