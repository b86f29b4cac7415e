"""The day's report and the evening's message by SMS: a section per child, short enough that
each fits one segment where it can ("Маша: алг 5, физ 4 (кр); ДЗ алг, рус").
Subjects go by their short names (message.short_subject's table); the full text is in the
journal and, for a parent with email or a messenger, in those."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from notifier.rendering import ATTENDANCE

# A timetable change in a word or two; a comment's first words (the rest is in the journal).
CHANGES = {"cancelled": "отмена", "replaced": "замена", "moved": "перенос", "room_changed": "каб."}
COMMENT = 24

# A school's journal says these in full; an SMS has no room.
WORK_TYPES = {"контрольн": "кр", "тест": "тест", "test": "тест", "самостоятельн": "ср"}


@dataclass(frozen=True)
class Part:
    """One item of a child's section: its category and its short words."""

    category: str
    text: str


def _day(value: object) -> str:
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return ""
    return f"{day.day}.{day.month:02d}"


def _work(data: dict[str, Any]) -> str:
    work = str(data.get("work_type") or "").lower()
    return next((short for word, short in WORK_TYPES.items() if word in work), "")


def part(kind: str, category: str, data: dict[str, Any], short: Callable[[str], str]) -> Part:
    """`short`: a subject as an SMS names it (message.sms_subject)."""
    name = " ".join(str(data.get("subject") or "").split())
    subject = short(name) if name else ""
    value = str(data.get("value") or "")
    if kind == "mark_created":
        work = _work(data)
        return Part(category, f"{subject} {value}" + (f" ({work})" if work else ""))
    if kind == "mark_updated":
        old = data.get("old_value")
        return Part(category, f"{subject} {old}→{value}" if old else f"{subject} {value} (испр.)")
    if kind == "mark_deleted":
        return Part(category, f"{subject or 'оценка'} удалена")
    if kind in ("homework_assigned", "homework_updated"):
        return Part(category, subject)  # the task and its date are in the journal
    if kind == "attendance":
        status = ATTENDANCE.get(str(data.get("status")), str(data.get("status")))
        lesson = data.get("lesson_number")
        lesson_text = f" {lesson}-й урок" if lesson else ""
        return Part(category, status + lesson_text + (f" ({subject})" if subject else ""))
    if kind == "schedule_changed":
        change = CHANGES.get(str(data.get("change")), "")
        lesson = data.get("lesson_number")
        lesson_text = f" {lesson}-й ур." if lesson else ""
        return Part(category, f"{_day(data.get('date'))}{lesson_text} {subject} {change}".strip())
    if kind == "period_mark":
        return Part(category, f"итог {subject} {value}")
    if kind == "comment":
        text = " ".join(str(data.get("text") or "").split())
        return Part(category, f"комм. «{text if len(text) <= COMMENT else text[:COMMENT] + '…'}»")
    return Part(category, subject or kind)


LABELS = {"homework": "ДЗ", "attendance": "", "schedule": "расп.", "comments": ""}


def section(name: str, parts: Iterable[Part]) -> str:
    """ "Маша: алг 5, физ 4; ДЗ алг до 5.12, рус" — categories in the order given."""
    by_category: dict[str, list[str]] = {}
    for p in parts:
        by_category.setdefault(p.category, []).append(p.text)
    chunks = []
    for category, texts in by_category.items():
        label = LABELS.get(category, "")
        chunks.append((f"{label} " if label else "") + ", ".join(texts))
    return f"{name}: " + "; ".join(chunks)
