"""Who may touch which guardian: admins within their school, class teachers for the pupils
of their own classes, integrations for the roster only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.auth import Principal, Role
from notifier.db.models import SchoolClass, Student
from notifier.errors import Forbidden
from notifier.roster import service


async def pupils_scope(session: AsyncSession, principal: Principal, student_ids: list[str]) -> None:
    """A school-bound principal may act only through pupils of its own school."""
    if principal.school_id is None:
        return
    schools = set(
        await session.scalars(select(Student.school_id).where(Student.id.in_(student_ids)))
    )
    for school_id in schools or {""}:
        principal.require_school(school_id)


async def guardian_access(
    session: AsyncSession, principal: Principal, guardian_id: str, *roles: Role
) -> None:
    """Raise NotFound / Forbidden unless `principal` (of one of `roles`) may see this guardian."""
    principal.require(*roles)
    await service.get_guardian(session=session, guardian_id=guardian_id)
    students = await service.guardian_student_ids(session=session, guardian_id=guardian_id)
    if principal.role is Role.teacher:
        own = await session.scalar(
            select(Student.id)
            .join(SchoolClass, SchoolClass.id == Student.class_id)
            .where(Student.id.in_(students), SchoolClass.class_teacher_id == principal.staff_id)
            .limit(1)
        )
        if own is None:
            raise Forbidden("a teacher sees only guardians of pupils in their own classes")
        return
    await pupils_scope(session, principal, students)
