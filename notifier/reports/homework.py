"""A pupil's homework due in a period, from the stored journal: each assignment in its latest
version (an update replaces it), for the pupil's class or for the pupil by name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import JournalEvent, Student
from notifier.db.states import EventStatus

HOMEWORK_TYPES = ("journal.homework.assigned", "journal.homework.updated")


@dataclass(frozen=True)
class Assignment:
    subject: str
    text: str
    due: date


async def homework_due(
    *, session: AsyncSession, student_id: str, start: date, end: date
) -> list[Assignment]:
    """Assignments due in [start, end], by due date then subject."""
    class_id = await session.scalar(select(Student.class_id).where(Student.id == student_id))
    matches = [
        JournalEvent.data["student_ids"].as_string().contains(f'"{student_id}"', autoescape=True)
    ]
    if class_id:
        matches.append(JournalEvent.data["class_id"].as_string() == class_id)
    rows = await session.execute(
        select(JournalEvent.data)
        .where(
            JournalEvent.type.in_(HOMEWORK_TYPES),
            or_(*matches),
            JournalEvent.status != EventStatus.refused,
        )
        .order_by(JournalEvent.pk)
    )
    latest: dict[str, Assignment | None] = {}
    for (data,) in rows:
        chosen = data.get("student_ids")
        if chosen and student_id not in chosen:
            latest[str(data.get("homework_id"))] = None  # now for other pupils only
            continue
        try:
            due = date.fromisoformat(str(data.get("due_date"))[:10])
        except ValueError:
            continue
        latest[str(data.get("homework_id"))] = Assignment(
            str(data.get("subject") or ""), str(data.get("text") or ""), due
        )
    found = [a for a in latest.values() if a is not None and start <= a.due <= end]
    return sorted(found, key=lambda a: (a.due, a.subject))
