"""What could not be processed, and replaying it once the cause is fixed."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from notifier import scope
from notifier.api.deps import MAX_PK, PrincipalDep, RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.auth import Principal, Role
from notifier.delivery.intake import replan_unmatched
from notifier.errors import InvalidInput, NotFound
from notifier.events.schema import parse_stream_entry
from notifier.events.stream import DEAD_STREAM, STREAM

router = APIRouter(prefix="/v1", tags=["dead letters"], route_class=DocumentedRoute)
SCAN_PAGE, SCAN_PAGES = 500, 40  # a school's admin's listing reads at most 20,000 entries
STREAM_ID = re.compile(r"\d{1,20}-\d{1,20}")  # a Redis stream id, e.g. 1795434897945-0


def _text(value: bytes | None, limit: int = 4000) -> str | None:
    return value[:limit].decode("utf-8", "replace") if value is not None else None


@router.get("/dead-letters", summary="Stream entries that could not be processed, with reasons")
async def dead_letters(
    runtime: RuntimeDep, principal: PrincipalDep, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    principal.require(Role.admin)
    entries = await _visible(runtime.redis, principal, limit)
    return {
        "items": [
            {
                "id": entry_id.decode(),
                "entry_id": _text(fields.get(b"entry_id")),
                "reason": _text(fields.get(b"reason")),
                "at": _text(fields.get(b"at")),
                "payload": _text(fields.get(b"payload")),
                "school_id": _text(fields.get(b"school")),
            }
            for entry_id, fields in entries
        ]
    }


def _school_of(fields: dict[bytes, bytes]) -> str | None:
    return _text(fields.get(b"school"))


async def _visible(redis: Redis, principal: Principal, limit: int) -> list[Any]:
    """The newest `limit` entries the principal may see: a school's admin, those its school's
    tokens posted (the stream's own entries are the region's)."""
    if principal.school_id is None:
        return list(await redis.xrevrange(DEAD_STREAM, count=limit))
    found: list[Any] = []
    top = "+"
    for _ in range(SCAN_PAGES):
        page = await redis.xrevrange(DEAD_STREAM, max=top, count=SCAN_PAGE)
        found += [e for e in page if _school_of(e[1]) == principal.school_id]
        if len(found) >= limit or len(page) < SCAN_PAGE:
            break
        top = "(" + page[-1][0].decode()
    return found[:limit]


@router.post(
    "/dead-letters/{ident}/replay",
    summary="Put an entry back on the event stream",
    responses=errors_of(404),
)
async def replay_dead_letter(
    ident: str, runtime: RuntimeDep, principal: PrincipalDep
) -> JSONResponse:
    principal.require(Role.admin)
    # Fuzz fix: Redis refused an id of another shape ("abc", "-", 2**64) and that was a 500.
    if not STREAM_ID.fullmatch(ident):
        raise NotFound(f"no dead letter {ident!r}: ids look like 1795434897945-0")
    try:
        found = await runtime.redis.xrange(DEAD_STREAM, min=ident, max=ident, count=1)
    except ResponseError:  # digits beyond 64 bits
        found = []
    if not found:
        raise NotFound(f"no dead letter {ident!r}")
    fields = found[0][1]
    if scope.outside(principal.school_id, [_school_of(fields) or ""]):
        raise NotFound(f"no dead letter {ident!r}")  # another school's: not even its existence
    payload = fields.get(b"payload")
    if payload is None:
        raise InvalidInput("this entry had no event to replay")
    try:  # refuse what would only land here again
        parse_stream_entry({b"event": payload}, max_bytes=runtime.settings.max_event_bytes)
    except InvalidInput as exc:
        raise InvalidInput(f"the event is still invalid: {exc.reason}") from None
    again = {b"event": payload}
    if (school := fields.get(b"school")) is not None:
        again[b"school"] = school
    stream_id = await runtime.redis.xadd(STREAM, again)  # type: ignore[arg-type]
    await runtime.redis.xdel(DEAD_STREAM, ident)
    return JSONResponse({"replayed": ident, "stream_id": stream_id.decode()})


@router.post(
    "/events/unmatched/replay",
    summary="Plan unmatched events again (after the roster gained their pupils)",
)
async def replay_unmatched(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    pk: list[Annotated[int, Field(ge=1, le=MAX_PK)]] | None = Query(
        None, description="only these events (pk from the listing)"
    ),
) -> dict[str, int]:
    principal.require(Role.admin, Role.integration)
    result = await replan_unmatched(
        session=session,
        now=runtime.clock(),
        tenant=principal.school_id,
        pks=pk,
        coalesce=timedelta(seconds=runtime.settings.coalesce_seconds),
    )
    return {
        "planned": result.planned,
        "still_unmatched": result.still_unmatched,
        "notifications": result.notifications,
    }
