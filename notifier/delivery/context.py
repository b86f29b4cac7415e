"""What a template sees: pupil, guardian, school and the event, loaded per batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import JournalEvent, School, SchoolClass, Student

MARK_TYPES = ("journal.mark.created", "journal.mark.updated")


@dataclass(frozen=True)
class PupilView:
    id: str
    full_name: str

    @property
    def first_name(self) -> str:
        # Russian rosters write «Фамилия Имя Отчество»; the given name is the second word.
        parts = self.full_name.split()
        return parts[1] if len(parts) >= 2 else (parts[0] if parts else "")


@dataclass(frozen=True)
class PersonView:
    id: str
    full_name: str


@dataclass(frozen=True)
class SchoolView:
    id: str
    name: str | None
    timezone: str


async def previous_mark(*, session: AsyncSession, event: JournalEvent) -> dict[str, Any] | None:
    """The last known state of the mark a `mark.deleted` event refers to."""
    mark_id = event.data.get("mark_id")
    if not mark_id:
        return None
    row = await session.scalar(
        select(JournalEvent.data)
        .where(
            JournalEvent.source == event.source,
            JournalEvent.type.in_(MARK_TYPES),
            JournalEvent.data["mark_id"].as_string() == str(mark_id),
            JournalEvent.pk < event.pk,
        )
        .order_by(JournalEvent.pk.desc())
        .limit(1)
    )
    return dict(row) if row else None


async def load_places(
    *, session: AsyncSession, students: list[Student]
) -> tuple[dict[str, SchoolView], dict[str, str]]:
    """Schools and class names for these pupils."""
    school_ids = {s.school_id for s in students}
    class_ids = {s.class_id for s in students if s.class_id}
    schools = {
        s.id: SchoolView(s.id, s.name, s.timezone)
        for s in await session.scalars(select(School).where(School.id.in_(school_ids)))
    }
    rows = await session.execute(
        select(SchoolClass.id, SchoolClass.name).where(SchoolClass.id.in_(class_ids))
    )
    classes = {class_id: name for class_id, name in rows.all()}
    return schools, classes


def template_context(
    *,
    event: JournalEvent,
    student: Student | None,
    guardian: PersonView,
    school: SchoolView | None,
    class_name: str | None,
    previous: dict[str, Any] | None,
) -> dict[str, Any]:
    event_time: datetime | None = event.time
    if event_time is not None and school is not None:
        # Dates in messages are the school's calendar dates, not UTC ones.
        event_time = event_time.astimezone(ZoneInfo(school.timezone))
    return {
        "student": PupilView(student.id, student.full_name) if student else PupilView("", ""),
        "guardian": guardian,
        "school": school,
        "class_name": class_name,
        "data": dict(event.data),
        "event_time": event_time,
        "previous": previous,
    }
