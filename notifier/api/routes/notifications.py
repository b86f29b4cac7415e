"""The delivery log: what was sent to whom, by which channel, and every attempt."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Query

from notifier import scope
from notifier.api.access import guardian_access
from notifier.api.deps import MAX_PK, PrincipalDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.auth import Role
from notifier.delivery.log import delivery_log

router = APIRouter(prefix="/v1", tags=["delivery log"], route_class=DocumentedRoute)


@router.get(
    "/guardians/{guardian_id}/notifications",
    summary="A guardian's delivery log",
    responses=errors_of(404),
)
async def guardian_notifications(
    guardian_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    status: str | None = Query(None, pattern="^(pending|sent|failed|skipped)$"),
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, ge=1, le=MAX_PK),
) -> dict[str, Any]:
    await guardian_access(session, principal, guardian_id, Role.admin, Role.teacher)
    page = await delivery_log(
        session,
        guardian_id=guardian_id,
        status=status,
        limit=limit,
        before=before,
        pupils=await scope.visible_pupils(session, principal, guardian_id),
    )
    return asdict(page)


@router.get("/notifications", summary="The delivery log, newest first")
async def notifications(
    session: SessionDep,
    principal: PrincipalDep,
    guardian_id: str | None = None,
    event_id: str | None = None,
    status: str | None = Query(None, pattern="^(pending|sent|failed|skipped)$"),
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, ge=1, le=MAX_PK),
) -> dict[str, Any]:
    principal.require(Role.admin)
    page = await delivery_log(
        session,
        guardian_id=guardian_id,
        status=status,
        event_id=event_id,
        limit=limit,
        before=before,
        school_id=principal.school_id,
    )
    return asdict(page)
