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
    """How a category reaches a guardian (and how an outbox row waits)."""

    instant = "instant"  # now (outside quiet hours)
    report = "report"  # the day's report at the school's day_report_time; important marks now
    digest = "digest"  # the evening message at the school's digest_time
    weekly = "weekly"
    off = "off"


# The categories of journal events and announcements, in the order parents see them.
EVENT_CATEGORIES = tuple(c for c in Category if c is not Category.summary)
ALL_CATEGORIES = tuple(Category)
MODES = (Mode.instant, Mode.report, Mode.digest, Mode.off)
SUMMARY_MODES = (Mode.weekly, Mode.off)

# The default policy (SPEC §8 "Quiet defaults"; docs/quiet-defaults.md): what needs a parent
# now goes now, the day's marks wait for one report, homework for one evening message. A
# school's subscriptions override it, a guardian's own choices override both.
DEFAULTS: dict[Category, Mode] = {
    Category.marks: Mode.report,  # an important mark (a 2, a test) goes now: delivery/policy
    Category.homework: Mode.digest,
    Category.attendance: Mode.instant,  # a child's safety
    Category.schedule: Mode.instant,  # a change for a later day waits for the evening
    Category.period_marks: Mode.instant,
    Category.comments: Mode.instant,
    Category.announcements: Mode.instant,  # a teacher sent it on purpose, now
    Category.summary: Mode.weekly,
}

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
    """The modes a guardian may choose for a category."""
    return SUMMARY_MODES if category == Category.summary else MODES


def default_mode(category: str) -> Mode:
    """The mode of a category nobody chose (DEFAULTS)."""
    try:
        return DEFAULTS[Category(category)]
    except ValueError:
        return Mode.instant
