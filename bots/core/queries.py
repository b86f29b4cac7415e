"""/marks, /homework, /absences, /summary: a parent asks about a child (which one, on buttons,
when there are several) and gets the answer from the stored journal."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.core.model import Button, layout
from bots.core.payloads import Ask
from bots.core.people import children_of, language_of, served
from bots.core.turn import Turn
from notifier.db.models import School, Student
from notifier.reports.homework import homework_due
from notifier.reports.marks import Report, pupil_report, term_of, week_of
from notifier.runtime import Runtime

Answer = Callable[[AsyncSession, Runtime, str, str, str], Awaitable[str]]

# What the answers say, per guardian locale (Russian unless the guardian chose English).
TEXTS: dict[str, dict[str, str]] = {
    "ru": {
        "marks": "Оценки за неделю",
        "summary": "Сводка за неделю",
        "no_marks": "Оценок за эти дни нет.",
        "subject": "{subject}: <b>{marks}</b> — средний {average}, взвешенный {weighted}",
        "weight": "вес",
        "attendance": "Пропуски: {absent}, по уважительной причине: {excused}, опоздания: {late}",
        "attendance_head": "Посещаемость с {start} по {end}",
        "homework": "Домашние задания",
        "tomorrow": "На завтра, {day}",
        "none_tomorrow": "Заданий на завтра нет.",
        "later": "Дальше на этой неделе",
        "which": "О ком из детей?",
        "no_children": "К этому чату не привязан ни один ученик.",
        "stale": "Устаревшая кнопка",
    },
    "en": {
        "marks": "Marks for the week",
        "summary": "Summary for the week",
        "no_marks": "No marks for these days.",
        "subject": "{subject}: <b>{marks}</b> — average {average}, weighted {weighted}",
        "weight": "weight",
        "attendance": "Absences: {absent}, excused: {excused}, late: {late}",
        "attendance_head": "Attendance from {start} to {end}",
        "homework": "Homework",
        "tomorrow": "For tomorrow, {day}",
        "none_tomorrow": "No homework for tomorrow.",
        "later": "Later this week",
        "which": "Which child?",
        "no_children": "No pupil is linked to this chat.",
        "stale": "This button is out of date",
    },
}
TIMES = {
    "ru": {"one": "раз", "few": "раза", "many": "раз"},
    "en": {"one": "time", "other": "times"},
}


def _day(value: date, lang: str) -> str:
    return format_date(value, "d MMMM", locale=lang)


def _number(value: float | None, lang: str) -> str:
    return format_decimal(value, "0.00", locale=lang) if value is not None else "—"


def _times(n: int, lang: str) -> str:
    """«2 раза», «5 раз», "1 time": plural forms by CLDR rules (Babel)."""
    forms = TIMES[lang]
    form = Locale.parse(lang).plural_form(n)
    return f"{n} {forms.get(form, forms.get('other', forms.get('many', '')))}"


def format_report(report: Report, name: str, title: str, lang: str = "ru") -> str:
    """HTML (the subset both messengers take): a line per subject with its marks in lesson
    order."""
    t = TEXTS[lang]
    period = f"{_day(report.start, lang)} – {_day(report.end, lang)}"
    lines = [f"<b>{title} {period}</b> · {html.escape(name)}", ""]
    if not report.subjects:
        lines.append(t["no_marks"])
    for subject in report.subjects:
        marks = ", ".join(
            html.escape(m.value) + (f" ({t['weight']} {m.weight:g})" if m.weight != 1 else "")
            for m in subject.marks
        )
        lines.append(
            t["subject"].format(
                subject=html.escape(subject.name),
                marks=marks,
                average=_number(subject.average, lang),
                weighted=_number(subject.weighted, lang),
            )
        )
    return "\n".join(lines)


def _attendance(report: Report, lang: str) -> str:
    return TEXTS[lang]["attendance"].format(
        absent=_times(report.absent, lang),
        excused=_times(report.excused, lang),
        late=_times(report.late, lang),
    )


async def _zone(session: AsyncSession, student_id: str) -> str:
    zone = await session.scalar(
        select(School.timezone)
        .join(Student, Student.school_id == School.id)
        .where(Student.id == student_id)
    )
    return zone or "Europe/Moscow"


async def marks_answer(
    session: AsyncSession, runtime: Runtime, student_id: str, name: str, lang: str
) -> str:
    start, end = week_of(runtime.clock(), await _zone(session, student_id))
    report = await pupil_report(session=session, student_id=student_id, start=start, end=end)
    return format_report(report, name, TEXTS[lang]["marks"], lang)


async def summary_answer(
    session: AsyncSession, runtime: Runtime, student_id: str, name: str, lang: str
) -> str:
    start, end = week_of(runtime.clock(), await _zone(session, student_id), previous=True)
    report = await pupil_report(session=session, student_id=student_id, start=start, end=end)
    text = format_report(report, name, TEXTS[lang]["summary"], lang)
    return f"{text}\n\n{_attendance(report, lang)}"


async def absences_answer(
    session: AsyncSession, runtime: Runtime, student_id: str, name: str, lang: str
) -> str:
    start, end = term_of(runtime.clock(), await _zone(session, student_id))
    report = await pupil_report(session=session, student_id=student_id, start=start, end=end)
    head = TEXTS[lang]["attendance_head"].format(start=_day(start, lang), end=_day(end, lang))
    return f"<b>{head}</b> · {html.escape(name)}\n\n{_attendance(report, lang)}"


async def homework_answer(
    session: AsyncSession, runtime: Runtime, student_id: str, name: str, lang: str
) -> str:
    t = TEXTS[lang]
    zone = await _zone(session, student_id)
    today = runtime.clock().astimezone(ZoneInfo(zone)).date()
    tomorrow = today + timedelta(days=1)
    _, sunday = week_of(runtime.clock(), zone)
    due = await homework_due(
        session=session, student_id=student_id, start=tomorrow, end=max(sunday, tomorrow)
    )
    lines = [
        f"<b>{t['homework']}</b> · {html.escape(name)}",
        "",
        f"<b>{t['tomorrow'].format(day=_day(tomorrow, lang))}</b>",
    ]
    first = [a for a in due if a.due == tomorrow]
    later = [a for a in due if a.due > tomorrow]
    lines += [f"{html.escape(a.subject)}: {html.escape(a.text)}" for a in first] or [
        t["none_tomorrow"]
    ]
    if later:
        lines += ["", f"<b>{t['later']}</b>"]
        lines += [
            f"{_day(a.due, lang)} · {html.escape(a.subject)}: {html.escape(a.text)}" for a in later
        ]
    return "\n".join(lines)


ANSWERS: dict[str, Answer] = {
    "marks": marks_answer,
    "homework": homework_answer,
    "absences": absences_answer,
    "summary": summary_answer,
}


async def ask(turn: Turn, what: str) -> None:
    """A query command: the answer, or first the question which child."""
    guardian = await served(turn)
    if guardian is None:
        return
    lang = language_of(guardian.locale)
    children = await children_of(turn.session, guardian.id)
    if not children:
        await turn.say(TEXTS[lang]["no_children"])
        return
    if len(children) == 1:
        await turn.say(await ANSWERS[what](turn.session, turn.runtime, *children[0], lang))
        return
    buttons = [Button(name, Ask(what=what, child=i).pack()) for i, (_, name) in enumerate(children)]
    await turn.say(TEXTS[lang]["which"], layout(buttons))


async def on_ask(turn: Turn, pressed: Ask) -> None:
    """The child picked: the answer as a new message (the question stays, to ask again)."""
    guardian = await served(turn)
    if guardian is None:
        return
    lang = language_of(guardian.locale)
    children = await children_of(turn.session, guardian.id)
    answer = ANSWERS.get(pressed.what)
    if answer is None or not (0 <= pressed.child < len(children)):
        await turn.answer(TEXTS[lang]["stale"], alert=True)
        return
    await turn.say(await answer(turn.session, turn.runtime, *children[pressed.child], lang))
    await turn.answer()
