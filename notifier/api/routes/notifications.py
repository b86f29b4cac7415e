"""The delivery log: what was sent to whom, by which channel, and every attempt."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier import scope
from notifier.api.access import guardian_access
from notifier.api.deps import MAX_PK, PrincipalDep, SessionDep
from notifier.api.responses import DocumentedRoute, errors_of
from notifier.auth import Role
from notifier.db.models import DeliveryAttempt, JournalEvent, Notification, Student
from notifier.db.states import RowStatus

router = APIRouter(prefix="/v1", tags=["delivery log"], route_class=DocumentedRoute)


async def _log(
    session: AsyncSession,
    *,
    guardian_id: str | None,
    status: str | None,
    event_id: str | None,
    limit: int,
    before: int | None,
    school_id: str | None = None,
    pupils: list[str] | None = None,
) -> dict[str, Any]:
    stmt = select(Notification, JournalEvent.source, JournalEvent.event_id, JournalEvent.type).join(
        JournalEvent, JournalEvent.pk == Notification.event_pk
    )
    if school_id is not None:  # a school's admin sees their school's pupils' messages only
        stmt = stmt.join(Student, Student.id == Notification.student_id).where(
            Student.school_id == school_id
        )
    if pupils is not None:  # a guardian's log, as far as the caller may see their children
        stmt = stmt.where(Notification.student_id.in_(pupils))
    if guardian_id is not None:
        stmt = stmt.where(Notification.guardian_id == guardian_id)
    if status is not None:
        stmt = stmt.where(Notification.status == status)
    if event_id is not None:
        stmt = stmt.where(JournalEvent.event_id == event_id)
    if before is not None:
        stmt = stmt.where(Notification.id < before)
    rows = (await session.execute(stmt.order_by(Notification.id.desc()).limit(limit))).all()
    ids = [n.id for n, *_ in rows]
    attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for a in await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.notification_id.in_(ids))
            .order_by(DeliveryAttempt.id)
        ):
            attempts[a.notification_id].append(
                {"channel": a.channel, "at": a.at, "outcome": a.outcome, "detail": a.detail}
            )
    items = [
        {
            "id": n.id,
            "guardian_id": n.guardian_id,
            "student_id": n.student_id,
            "event": {"source": source, "id": ev_id, "type": ev_type},
            "category": n.category,
            "status": "scheduled"
            if n.status == RowStatus.pending and n.attempts == 0
            else n.status,
            "state": n.status,
            "reason": n.reason,
            "channel": n.channel,
            "due_at": n.due_at,
            "sent_at": n.sent_at,
            "created_at": n.created_at,
            "segments": n.segments,
            "attempts": attempts[n.id],
        }
        for n, source, ev_id, ev_type in rows
    ]
    return {"items": items, "next_before": ids[-1] if len(ids) == limit else None}


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
    return await _log(
        session,
        guardian_id=guardian_id,
        status=status,
        event_id=None,
        limit=limit,
        before=before,
        pupils=await scope.visible_pupils(session, principal, guardian_id),
    )


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
    return await _log(
        session,
        guardian_id=guardian_id,
        status=status,
        event_id=event_id,
        limit=limit,
        before=before,
        school_id=principal.school_id,
    )
