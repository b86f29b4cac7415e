"""The audit trail for admins and regulators (002 §1.12): who changed consent, preferences,
the roster and tokens. A school's admin reads the entries about its own school's people."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.api.access import guardian_access
from notifier.api.deps import MAX_PK, PrincipalDep, SessionDep
from notifier.auth import Principal, Role
from notifier.db.models import AuditEntry, SchoolClass, Staff, Student
from notifier.errors import Forbidden, InvalidInput, NotFound

router = APIRouter(prefix="/v1", tags=["audit"])
OWNED: dict[str, type[SchoolClass] | type[Student] | type[Staff]] = {
    "class": SchoolClass,
    "student": Student,
    "staff": Staff,
}


async def _scope(
    session: AsyncSession, principal: Principal, subject_type: str | None, subject_id: str | None
) -> None:
    principal.require(Role.admin)
    if principal.school_id is None:
        return
    if subject_type is None or subject_id is None:
        raise Forbidden("a school's admin names the subject: subject_type and subject_id")
    if subject_type == "guardian":
        await guardian_access(session, principal, subject_id, Role.admin)
    elif subject_type == "school":
        principal.require_school(subject_id)
    elif subject_type in OWNED:
        model = OWNED[subject_type]
        school_id = await session.scalar(select(model.school_id).where(model.id == subject_id))
        if school_id is None:
            raise NotFound(f"no {subject_type} {subject_id!r}")
        principal.require_school(school_id)
    else:
        raise Forbidden(f"entries about {subject_type!r} are for the region's admins")


@router.get("/audit", summary="The audit trail, newest first")
async def audit_trail(
    session: SessionDep,
    principal: PrincipalDep,
    subject_type: Annotated[
        str | None,
        Query(max_length=20, description="guardian, school, class, student, staff, token"),
    ] = None,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=50)] = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_PK, description="entries older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    if subject_id is not None and subject_type is None:
        raise InvalidInput("subject_id needs subject_type", field="subject_type")
    await _scope(session, principal, subject_type, subject_id)
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if subject_type is not None:
        stmt = stmt.where(AuditEntry.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(AuditEntry.subject_id == subject_id)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action)
    if before is not None:
        stmt = stmt.where(AuditEntry.id < before)
    rows = list(await session.scalars(stmt))
    return {
        "items": [
            {
                "id": e.id,
                "at": e.at,
                "actor_role": e.actor_role,
                "actor_token_id": e.actor_token_id,
                "action": e.action,
                "subject_type": e.subject_type,
                "subject_id": e.subject_id,
                "detail": e.detail,
            }
            for e in rows
        ],
        "next_before": rows[-1].id if len(rows) == limit else None,
    }
