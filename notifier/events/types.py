"""The journal event types we know (SPEC §3), their data schemas and message categories."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from notifier.categories import Category

MAX_TEXT = 10_000


def _journal_id(value: Any) -> Any:
    # Journal ids are strings; a bare integer is unambiguous, anything else is a sender's bug.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date as YYYY-MM-DD")
    if isinstance(value, str):
        date.fromisoformat(value)
    return value


JournalId = Annotated[str, BeforeValidator(_journal_id), Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
ShortText = Annotated[str, Field(min_length=1, max_length=300)]
MarkValue = Annotated[str, BeforeValidator(_journal_id), Field(min_length=1, max_length=20)]
IsoDate = Annotated[str, BeforeValidator(_iso_date)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow", strict=False, str_strip_whitespace=True)


class MarkCreated(_Data):
    mark_id: JournalId
    student_id: JournalId
    subject: ShortText
    value: MarkValue
    weight: float | None = Field(default=None, gt=0, le=100)
    work_type: ShortText | None = None
    lesson_date: IsoDate | None = None
    teacher: ShortText | None = None
    comment: Text | None = None


class MarkUpdated(_Data):
    mark_id: JournalId
    student_id: JournalId
    subject: ShortText
    value: MarkValue
    old_value: MarkValue | None = None
    changed_by: ShortText | None = None
    reason: Text | None = None


class MarkDeleted(_Data):
    mark_id: JournalId
    student_id: JournalId


class Homework(_Data):
    homework_id: JournalId
    class_id: JournalId
    subject: ShortText
    text: Text
    due_date: IsoDate | None = None
    student_ids: list[JournalId] | None = None
    lesson_date: IsoDate | None = None


class Attendance(_Data):
    student_id: JournalId
    lesson_date: IsoDate
    status: Literal["absent", "late", "excused", "present"]
    lesson_number: int | None = Field(default=None, ge=0, le=20)
    subject: ShortText | None = None
    minutes_late: int | None = Field(default=None, ge=0, le=1000)


class ScheduleChanged(_Data):
    class_id: JournalId
    date: IsoDate
    change: Literal["cancelled", "replaced", "moved", "room_changed"]
    lesson_number: int | None = Field(default=None, ge=0, le=20)
    subject: ShortText | None = None
    substitute_teacher: ShortText | None = None
    room: ShortText | None = None
    new_time: ShortText | None = None


class PeriodMark(_Data):
    student_id: JournalId
    subject: ShortText
    period: ShortText
    value: MarkValue


class Comment(_Data):
    student_id: JournalId
    text: Text
    teacher: ShortText | None = None
    subject: ShortText | None = None


@dataclass(frozen=True)
class EventKind:
    """How one CloudEvent type becomes messages: its data schema, category and template."""

    type: str
    schema: builtins.type[_Data]
    category: Category
    template: str


KINDS: dict[str, EventKind] = {
    k.type: k
    for k in (
        EventKind("journal.mark.created", MarkCreated, Category.marks, "mark_created"),
        EventKind("journal.mark.updated", MarkUpdated, Category.marks, "mark_updated"),
        EventKind("journal.mark.deleted", MarkDeleted, Category.marks, "mark_deleted"),
        EventKind("journal.homework.assigned", Homework, Category.homework, "homework_assigned"),
        EventKind("journal.homework.updated", Homework, Category.homework, "homework_updated"),
        EventKind("journal.attendance.recorded", Attendance, Category.attendance, "attendance"),
        EventKind(
            "journal.schedule.changed", ScheduleChanged, Category.schedule, "schedule_changed"
        ),
        EventKind("journal.period_mark.created", PeriodMark, Category.period_marks, "period_mark"),
        EventKind("journal.comment.created", Comment, Category.comments, "comment"),
    )
}


def event_type_label(event_type: str | None) -> str:
    """The event type if it is one we know, else `other` (a metric's label set stays bounded)."""
    return event_type if event_type in KINDS else "other"
