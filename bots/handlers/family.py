"""Who is writing: the guardian linked to a chat, and their children (first names)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import Guardian, Student
from notifier.delivery.context import PupilView
from notifier.roster.service import guardian_student_ids

NOT_LINKED = "Этот чат не подключён. Откройте ссылку, которую выдала школа."


async def guardian_for_chat(session: AsyncSession, chat_id: int) -> Guardian | None:
    return await session.scalar(
        select(Guardian).where(Guardian.telegram_chat_id == str(chat_id)).limit(1)
    )


async def children_of(session: AsyncSession, guardian_id: str) -> list[tuple[str, str]]:
    """(pupil id, first name) of the guardian's children, in a stable order."""
    ids = await guardian_student_ids(session=session, guardian_id=guardian_id)
    names = dict(
        (
            await session.execute(select(Student.id, Student.full_name).where(Student.id.in_(ids)))
        ).all()
    )
    return [(sid, PupilView(sid, names.get(sid, "")).first_name) for sid in ids]
