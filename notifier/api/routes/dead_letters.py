"""What could not be processed, and replaying it once the cause is fixed (the service is
notifier/delivery/dead_letters.py, which the console calls too)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from notifier.api.deps import MAX_PK, PrincipalDep, RuntimeDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.auth import Role
from notifier.delivery import dead_letters as service

router = APIRouter(prefix="/v1", tags=["dead letters"], route_class=DocumentedRoute)
PAYLOAD_SHOWN = 4000  # characters of each payload in the listing


def _cut(text: str | None) -> str | None:
    return text[:PAYLOAD_SHOWN] if text is not None else None


@router.get("/dead-letters", summary="Stream entries that could not be processed, with reasons")
async def dead_letters(
    runtime: RuntimeDep, principal: PrincipalDep, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, Any]:
    principal.require(Role.admin)
    page = await service.dead_letters(runtime.redis, principal, limit=limit)
    return {
        "items": [
            {
                "id": letter.id,
                "entry_id": letter.entry_id,
                "reason": _cut(letter.reason),
                "at": letter.at,
                "payload": _cut(letter.payload),
                "school_id": letter.school_id,
            }
            for letter in page.items
        ]
    }


@router.post(
    "/dead-letters/{ident}/replay",
    summary="Put an entry back on the event stream",
    responses=errors_of(404),
)
async def replay_dead_letter(
    ident: str, runtime: RuntimeDep, principal: PrincipalDep, session: SessionDep
) -> JSONResponse:
    principal.require(Role.admin)
    stream_id = await service.replay_dead_letter(
        runtime.redis,
        session,
        principal,
        ident,
        max_event_bytes=runtime.settings.max_event_bytes,
    )
    return JSONResponse({"replayed": ident, "stream_id": stream_id})


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
    result = await service.replay_unmatched(
        session,
        principal,
        now=runtime.clock(),
        pks=pk,
        coalesce=timedelta(seconds=runtime.settings.coalesce_seconds),
    )
    return {
        "planned": result.planned,
        "still_unmatched": result.still_unmatched,
        "notifications": result.notifications,
    }
