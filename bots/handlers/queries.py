"""What parents ask: /marks (this week's marks per subject, with the average and the weighted
average). A parent of several children picks one on an inline keyboard first."""

from __future__ import annotations

import html

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_date
from babel.numbers import format_decimal
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.handlers.family import NOT_LINKED, children_of, guardian_for_chat
from notifier.db.models import School, Student
from notifier.reports.marks import Report, pupil_report, week_of
from notifier.runtime import Runtime


class MarksFor(CallbackData, prefix="mk"):
    child: int


def _number(value: float | None) -> str:
    return format_decimal(value, "0.00", locale="ru") if value is not None else "—"


def format_marks(report: Report, name: str) -> str:
    """Telegram HTML: one line per subject, the marks in lesson order (weights shown)."""
    period = (
        f"{format_date(report.start, 'd MMMM', locale='ru')} – "
        f"{format_date(report.end, 'd MMMM', locale='ru')}"
    )
    lines = [f"<b>Оценки за неделю {period}</b> · {html.escape(name)}", ""]
    if not report.subjects:
        lines.append("На этой неделе оценок нет.")
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


async def _answer_marks(
    message: Message, session: AsyncSession, runtime: Runtime, student_id: str, name: str
) -> None:
    zone = await session.scalar(
        select(School.timezone)
        .join(Student, Student.school_id == School.id)
        .where(Student.id == student_id)
    )
    start, end = week_of(runtime.clock(), zone or "Europe/Moscow")
    report = await pupil_report(session=session, student_id=student_id, start=start, end=end)
    await message.answer(format_marks(report, name))


async def marks(message: Message, session: AsyncSession, runtime: Runtime) -> None:
    guardian = await guardian_for_chat(session, message.chat.id)
    if guardian is None:
        await message.answer(NOT_LINKED)
        return
    children = await children_of(session, guardian.id)
    if len(children) == 1:
        await _answer_marks(message, session, runtime, *children[0])
        return
    if not children:
        await message.answer("К этому чату не привязан ни один ученик.")
        return
    kb = InlineKeyboardBuilder()
    for i, (_, name) in enumerate(children):
        kb.button(text=name, callback_data=MarksFor(child=i))
    await message.answer("Чьи оценки показать?", reply_markup=kb.as_markup())


async def on_marks_for(
    query: CallbackQuery, callback_data: MarksFor, session: AsyncSession, runtime: Runtime
) -> None:
    guardian = await guardian_for_chat(session, query.from_user.id)
    children = await children_of(session, guardian.id) if guardian else []
    if guardian is None or not (0 <= callback_data.child < len(children)):
        await query.answer(NOT_LINKED if guardian is None else "Устаревшая кнопка", show_alert=True)
        return
    if isinstance(query.message, Message):
        await _answer_marks(query.message, session, runtime, *children[callback_data.child])
    await query.answer()


def build_router() -> Router:
    router = Router(name="queries")
    router.message.register(marks, Command("marks"))
    router.callback_query.register(on_marks_for, MarksFor.filter())
    return router
