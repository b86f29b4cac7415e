"""What a template sees: pupil, guardian, school and the event, loaded per batch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notifier.db.models import JournalEvent, Student


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
