"""/announce: a class teacher linked to the bot picks one of their classes, types the text,
sees a preview with the number of recipients, and confirms or cancels."""

from __future__ import annotations

import html
import logging

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.handlers.family import chat_of, staff_for_chat
from notifier import announcements
from notifier.auth import Principal, Role
from notifier.db.models import SchoolClass
from notifier.errors import NotifierError
from notifier.runtime import Runtime

log = logging.getLogger(__name__)
NOT_STAFF = "Команда для классных руководителей: подключите бот по ссылке из школы."


class Flow(StatesGroup):
    choosing = State()
    typing = State()
    confirming = State()


class PickClass(CallbackData, prefix="ac"):
    index: int


class Decide(CallbackData, prefix="ad"):
    send: bool


async def _classes(session: AsyncSession, staff_id: str) -> list[SchoolClass]:
    return list(
        await session.scalars(
            select(SchoolClass)
            .where(SchoolClass.class_teacher_id == staff_id)
            .order_by(SchoolClass.name)
        )
    )


async def start(message: Message, session: AsyncSession, state: FSMContext) -> None:
    staff = await staff_for_chat(session, message.chat.id)
    if staff is None:
        await message.answer(NOT_STAFF)
        return
    classes = await _classes(session, staff.id)
    if not classes:
        await message.answer("У вас нет классов, где вы классный руководитель.")
        return
    kb = InlineKeyboardBuilder()
    for i, klass in enumerate(classes):
        kb.button(text=klass.name, callback_data=PickClass(index=i))
    kb.button(text="Отмена", callback_data=Decide(send=False))
    kb.adjust(3)
    await state.set_state(Flow.choosing)
    await message.answer(
        "Родителям какого класса отправить объявление?", reply_markup=kb.as_markup()
    )


async def pick_class(
    query: CallbackQuery, callback_data: PickClass, session: AsyncSession, state: FSMContext
) -> None:
    staff = await staff_for_chat(session, chat_of(query))
    classes = await _classes(session, staff.id) if staff else []
    if not (0 <= callback_data.index < len(classes)):
        await query.answer("Устаревшая кнопка", show_alert=True)
        return
    klass = classes[callback_data.index]
    await state.update_data(class_id=klass.id, class_name=klass.name)
    await state.set_state(Flow.typing)
    if isinstance(query.message, Message):
        await query.message.edit_text(
            f"Напишите текст объявления для родителей {html.escape(klass.name)} одним "
            "сообщением. /cancel — отменить."
        )
    await query.answer()


async def text_typed(message: Message, session: AsyncSession, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if not text or len(text) > 4000:
        await message.answer("Нужен текст до 4000 символов. Попробуйте ещё раз или /cancel.")
        return
    data = await state.get_data()
    count = await announcements.audience_size(session=session, class_ids=[data["class_id"]])
    await state.update_data(text=text)
    await state.set_state(Flow.confirming)
    kb = InlineKeyboardBuilder()
    kb.button(text="Отправить", callback_data=Decide(send=True))
    kb.button(text="Отмена", callback_data=Decide(send=False))
    await message.answer(
        f"<b>Предпросмотр</b> ({html.escape(data['class_name'])}):\n\n{html.escape(text)}\n\n"
        f"Получат: <b>{count}</b> родителей (с согласием на уведомления).",
        reply_markup=kb.as_markup(),
    )


async def decide(
    query: CallbackQuery,
    callback_data: Decide,
    session: AsyncSession,
    state: FSMContext,
    runtime: Runtime,
) -> None:
    data = await state.get_data()
    await state.clear()
    message = query.message if isinstance(query.message, Message) else None
    if not callback_data.send or "text" not in data:
        if message:
            await message.edit_text("Объявление отменено.")
        await query.answer()
        return
    staff = await staff_for_chat(session, chat_of(query))
    if staff is None:
        await query.answer(NOT_STAFF, show_alert=True)
        return
    principal = Principal(
        role=Role.teacher, token_id=None, school_id=staff.school_id, staff_id=staff.id
    )
    try:
        created = await announcements.create(
            session=session,
            principal=principal,
            body=announcements.AnnouncementIn(
                audience=announcements.Audience(class_ids=[data["class_id"]]), text=data["text"]
            ),
            idempotency_key=f"bot:{query.id}",
            now=runtime.clock(),
            public_url=runtime.settings.public_url,
            summary_chat_id=staff.telegram_chat_id,
        )
    except NotifierError as exc:
        await query.answer(exc.reason[:200], show_alert=True)
        return
    log.info(
        "bot.announced", extra={"announcement_id": created.announcement.id, "staff_id": staff.id}
    )
    if message:
        await message.edit_text("Отправляю. Когда всё будет доставлено, пришлю итог.")
    await query.answer("Отправлено")


async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is not None:
        await state.clear()
        await message.answer("Объявление отменено.")


def build_router() -> Router:
    router = Router(name="announce")
    router.message.register(start, Command("announce"))
    router.message.register(cancel, Command("cancel"))
    router.callback_query.register(pick_class, PickClass.filter(), Flow.choosing)
    router.callback_query.register(decide, Decide.filter())
    router.message.register(text_typed, Flow.typing, F.text)
    return router
