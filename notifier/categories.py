"""What a guardian can hear about, and how: the categories of messages, their modes, and their
titles as parents read them. One module, so the API, the bots, planning and rendering agree."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    marks = "marks"
    homework = "homework"
    attendance = "attendance"
    schedule = "schedule"
    period_marks = "period_marks"
    comments = "comments"
    announcements = "announcements"
    # The weekly summary (сводная ведомость) is not an event's category: it goes once a week,
    # on Saturday at the school's digest time, unless the guardian turns it off.
    summary = "summary"


class Mode(StrEnum):
    """How a category reaches a guardian (and how an outbox row waits: instant or digest)."""

    instant = "instant"
    digest = "digest"
    weekly = "weekly"
    off = "off"


# The categories of journal events and announcements, in the order parents see them.
EVENT_CATEGORIES = tuple(c for c in Category if c is not Category.summary)
ALL_CATEGORIES = tuple(Category)
MODES = (Mode.instant, Mode.digest, Mode.off)
SUMMARY_MODES = (Mode.weekly, Mode.off)

TITLES: dict[str, str] = {
    Category.marks: "Оценки",
    Category.homework: "Домашние задания",
    Category.attendance: "Посещаемость",
    Category.schedule: "Расписание",
    Category.period_marks: "Итоговые оценки",
    Category.comments: "Комментарии учителей",
    Category.announcements: "Объявления",
    Category.summary: "Итоги недели",
}


def modes_of(category: str) -> tuple[Mode, ...]:
    """The modes a guardian may choose for a category; the first is the default."""
    return SUMMARY_MODES if category == Category.summary else MODES
