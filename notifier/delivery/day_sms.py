"""The day's report and the evening's message by SMS: a section per child, short enough that
each fits one segment where it can ("Маша: алг 5, физ 4 (кр); ДЗ алг, рус"; in English
"Masha: алг 5, физ 4 (test); HW алг, рус": subjects as the journal names them).
Subjects go by their short names (message.short_subject's table); the full text is in the
journal and, for a parent with email or a messenger, in those. The words are
notifier/message_words.py's `sms.*`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from notifier.message_words import SCHEDULE_CHANGES, Language, attendance_status, say

# A comment's first words (the rest is in the journal).
COMMENT = 24

# A school's journal says these in full; an SMS has no room (sms.work.*).
WORK_TYPES = {
    "контрольн": "control",
    "тест": "test",
    "test": "test",
    "самостоятельн": "independent",
}


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


def _work(data: dict[str, Any], language: Language) -> str:
    work = str(data.get("work_type") or "").lower()
    key = next((key for word, key in WORK_TYPES.items() if word in work), "")
    return say(language, f"sms.work.{key}") if key else ""


def part(
    kind: str,
    category: str,
    data: dict[str, Any],
    short: Callable[[str], str],
    language: Language = Language.ru,
) -> Part:
    """`short`: a subject as an SMS names it (message.sms_subject)."""

    def words(key: str, **values: object) -> str:
        return say(language, key, None, **values)

    name = " ".join(str(data.get("subject") or "").split())
    subject = short(name) if name else ""
    value = str(data.get("value") or "")
    if kind == "mark_created":
        work = _work(data, language)
        return Part(category, f"{subject} {value}" + (f" ({work})" if work else ""))
    if kind == "mark_updated":
        old = data.get("old_value")
        if old:
            return Part(category, f"{subject} {old}{words('sms.arrow')}{value}")
        return Part(category, f"{subject} {value} ({words('sms.corrected')})")
    if kind == "mark_deleted":
        return Part(category, words("sms.deleted", what=subject or words("sms.mark")))
    if kind in ("homework_assigned", "homework_updated"):
        return Part(category, subject)  # the task and its date are in the journal
    if kind == "attendance":
        status = attendance_status(str(data.get("status")), language)
        lesson = data.get("lesson_number")
        if lesson:
            status = words("sms.absence.lesson", status=status, number=lesson)
        return Part(category, status + (f" ({subject})" if subject else ""))
    if kind == "schedule_changed":
        change = str(data.get("change"))
        change = words(f"sms.change.{change}") if change in SCHEDULE_CHANGES else ""
        lesson = data.get("lesson_number")
        lesson_text = f" {words('sms.lesson', number=lesson)}" if lesson else ""
        return Part(category, f"{_day(data.get('date'))}{lesson_text} {subject} {change}".strip())
    if kind == "period_mark":
        return Part(category, words("sms.final", subject=subject, value=value))
    if kind == "comment":
        text = " ".join(str(data.get("text") or "").split())
        if len(text) > COMMENT:
            text = text[:COMMENT] + words("sms.ellipsis")
        return Part(category, words("sms.comment", text=text))
    return Part(category, subject or kind)


# A category's label before its items (the others need none).
LABELS = {"homework": "sms.label.homework", "schedule": "sms.label.schedule"}


def section(name: str, parts: Iterable[Part], language: Language = Language.ru) -> str:
    """ "Маша: алг 5, физ 4; ДЗ алг до 5.12, рус" — categories in the order given."""
    by_category: dict[str, list[str]] = {}
    for p in parts:
        by_category.setdefault(p.category, []).append(p.text)
    chunks = []
    for category, texts in by_category.items():
        label = say(language, LABELS[category]) if category in LABELS else ""
        chunks.append((f"{label} " if label else "") + ", ".join(texts))
    return f"{name}: " + "; ".join(chunks)
