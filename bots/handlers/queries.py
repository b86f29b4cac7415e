"""What parents ask the bot: /marks (this week's marks per subject, with the average and the
weighted average), /homework (due tomorrow and later this week), /absences (this term's
absences and lateness), /summary (last week's marks and attendance). A parent of several
children picks one on an inline keyboard first."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_date
from babel.numbers import format_decimal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.handlers.family import NOT_LINKED, children_of, guardian_for_chat
from notifier.db.models import School, Student
from notifier.rendering import ru_plural
from notifier.reports.homework import homework_due
from notifier.reports.marks import Report, pupil_report, term_of, week_of
from notifier.runtime import Runtime

Answer = Callable[[AsyncSession, Runtime, str, str], Awaitable[str]]


class Ask(CallbackData, prefix="ask"):
    what: str
    child: int


def _day(value: object) -> str:
    return format_date(value, "d MMMM", locale="ru")  # type: ignore[arg-type]


def _number(value: float | None) -> str:
    return format_decimal(value, "0.00", locale="ru") if value is not None else "—"


def _times(n: int) -> str:
    return f"{n} {ru_plural(n, 'раз', 'раза', 'раз')}"


def format_report(report: Report, name: str, title: str) -> str:
    """Telegram HTML: a line per subject with its marks in lesson order, then attendance."""
    lines = [
        f"<b>{title} {_day(report.start)} – {_day(report.end)}</b> · {html.escape(name)}",
        "",
    ]
    if not report.subjects:
        lines.append("Оценок за эти дни нет.")
    for subject in report.subjects:
        marks = ", ".join(
            html.escape(m.value) + (f" (вес {m.weight:g})" if m.weight != 1 else "")
            for m in subject.marks
        )
        lines.append(
            f"{html.escape(subject.name)}: <b>{marks}</b> — средний {_number(subject.average)}, "
            f"взвешенный {_number(subject.weighted)}"
        )
    return "\n".join(lines)


def _attendance(report: Report) -> str:
    return (
        f"Пропуски: {_times(report.absent)}, по уважительной причине: {_times(report.excused)}, "
        f"опоздания: {_times(report.late)}"
    )


async def _zone(session: AsyncSession, student_id: str) -> str:
    zone = await session.scalar(
        select(School.timezone)
        .join(Student, Student.school_id == School.id)
        .where(Student.id == student_id)
    )
    return zone or "Europe/Moscow"


async def marks_answer(session: AsyncSession, runtime: Runtime, student_id: str, name: str) -> str:
    start, end = week_of(runtime.clock(), await _zone(session, student_id))
    report = await pupil_report(session=session, student_id=student_id, start=start, end=end)
    return format_report(report, name, "Оценки за неделю")


async def summary_answer(
    session: AsyncSession, runtime: Runtime, student_id: str, name: str
) -> str:
    start, end = week_of(runtime.clock(), await _zone(session, student_id), previous=True)
    report = await pupil_report(session=session, student_id=student_id, start=start, end=end)
    return format_report(report, name, "Сводка за неделю") + "\n\n" + _attendance(report)


async def absences_answer(
    session: AsyncSession, runtime: Runtime, student_id: str, name: str
) -> str:
    start, end = term_of(runtime.clock(), await _zone(session, student_id))
    report = await pupil_report(session=session, student_id=student_id, start=start, end=end)
    head = f"<b>Посещаемость с {_day(start)} по {_day(end)}</b> · {html.escape(name)}"
    return f"{head}\n\n{_attendance(report)}"


async def homework_answer(
    session: AsyncSession, runtime: Runtime, student_id: str, name: str
) -> str:
    zone = await _zone(session, student_id)
    today = runtime.clock().astimezone(ZoneInfo(zone)).date()
    tomorrow = today + timedelta(days=1)
    _, sunday = week_of(runtime.clock(), zone)
    due = await homework_due(
        session=session, student_id=student_id, start=tomorrow, end=max(sunday, tomorrow)
    )
    lines = [
        f"<b>Домашние задания</b> · {html.escape(name)}",
        "",
        f"<b>На завтра, {_day(tomorrow)}</b>",
    ]
    first = [a for a in due if a.due == tomorrow]
    later = [a for a in due if a.due > tomorrow]
    lines += [f"{html.escape(a.subject)}: {html.escape(a.text)}" for a in first] or [
        "Заданий на завтра нет."
    ]
    if later:
        lines += ["", "<b>Дальше на этой неделе</b>"]
        lines += [f"{_day(a.due)} · {html.escape(a.subject)}: {html.escape(a.text)}" for a in later]
    return "\n".join(lines)


ANSWERS: dict[str, Answer] = {
    "marks": marks_answer,
    "homework": homework_answer,
    "absences": absences_answer,
    "summary": summary_answer,
}


async def ask(
    message: Message, command: CommandObject, session: AsyncSession, runtime: Runtime
) -> None:
    what = command.command.lower()
    guardian = await guardian_for_chat(session, message.chat.id)
    if guardian is None:
        await message.answer(NOT_LINKED)
        return
    children = await children_of(session, guardian.id)
    if not children:
        await message.answer("К этому чату не привязан ни один ученик.")
        return
    if len(children) == 1:
        await message.answer(await ANSWERS[what](session, runtime, *children[0]))
        return
    kb = InlineKeyboardBuilder()
    for i, (_, name) in enumerate(children):
        kb.button(text=name, callback_data=Ask(what=what, child=i))
    await message.answer("О ком из детей?", reply_markup=kb.as_markup())


async def on_ask(
    query: CallbackQuery, callback_data: Ask, session: AsyncSession, runtime: Runtime
) -> None:
    guardian = await guardian_for_chat(session, query.from_user.id)
    children = await children_of(session, guardian.id) if guardian else []
    answer = ANSWERS.get(callback_data.what)
    if guardian is None or answer is None or not (0 <= callback_data.child < len(children)):
        await query.answer(NOT_LINKED if guardian is None else "Устаревшая кнопка", show_alert=True)
        return
    if isinstance(query.message, Message):
        await query.message.answer(await answer(session, runtime, *children[callback_data.child]))
    await query.answer()


def build_router() -> Router:
    router = Router(name="queries")
    router.message.register(ask, Command(*ANSWERS))
    router.callback_query.register(on_ask, Ask.filter())
    return router
