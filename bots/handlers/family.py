"""Who is writing: the guardian linked to a private chat, with consent in force, and their
children (first names). Every handler that shows a child's data asks `served` first."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.db.models import Guardian, Staff, Student
from notifier.rendering import PupilView
from notifier.roster.service import active_consent, guardian_student_ids

NOT_LINKED = "Этот чат не подключён. Откройте ссылку, которую выдала школа."
# Short enough for a button's alert (Telegram cuts those at 200 characters).
NO_CONSENT = {
    "ru": (
        "Нет согласия на обработку данных: сведений о детях не показываю и не присылаю. "
        "Дать согласие — письменно, через классного руководителя или школу."
    ),
    "en": (
        "No consent to data processing is in force, so I show and send nothing about your "
        "children. Consent is given in writing, through the class teacher or the school."
    ),
}


def language_of(locale: str | None) -> str:
    """The language of the bot's answers: English if the guardian chose it, else Russian."""
    return "en" if (locale or "").lower().startswith("en") else "ru"


def chat_of(event: Message | CallbackQuery) -> int | None:
    """The chat an update came from; a button's is the chat of its message (the dispatcher lets
    only private chats through, so this is the user's own chat, the one that was linked)."""
    if isinstance(event, Message):
        return event.chat.id
    return event.message.chat.id if event.message is not None else None


async def guardian_for_chat(session: AsyncSession, chat_id: int | None) -> Guardian | None:
    """The guardian linked to this chat, consent or not."""
    if chat_id is None:
        return None
    return await session.scalar(
        select(Guardian)
        .where(Guardian.telegram_chat_id == str(chat_id))
        .order_by(Guardian.id)
        .limit(1)
    )


async def staff_for_chat(session: AsyncSession, chat_id: int | None) -> Staff | None:
    """The staff member linked to this chat (a class teacher's /announce and /console)."""
    if chat_id is None:
        return None
    return await session.scalar(
        select(Staff).where(Staff.telegram_chat_id == str(chat_id)).limit(1)
    )


async def served(session: AsyncSession, event: Message | CallbackQuery) -> Guardian | None:
    """The guardian this chat may be shown data of: linked, and with consent in force (the one
    the planner also requires). Otherwise answer why not (and how to change it) and return
    None."""
    guardian = await guardian_for_chat(session, chat_of(event))
    if guardian is None:
        refusal = NOT_LINKED
    elif await active_consent(session=session, guardian_id=guardian.id) is None:
        refusal = NO_CONSENT[language_of(guardian.locale)]
    else:
        return guardian
    if isinstance(event, Message):
        await event.answer(refusal)
    else:
        await event.answer(refusal, show_alert=True)
    return None


async def children_of(session: AsyncSession, guardian_id: str) -> list[tuple[str, str]]:
    """(pupil id, first name) of the guardian's children, in a stable order."""
    ids = await guardian_student_ids(session=session, guardian_id=guardian_id)
    names = dict(
        (
            await session.execute(select(Student.id, Student.full_name).where(Student.id.in_(ids)))
        ).all()
    )
    return [(sid, PupilView(sid, names.get(sid, "")).first_name) for sid in ids]
