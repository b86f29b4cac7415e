"""Who is writing: the guardian (or staff member) linked to this chat in its messenger, and
the guardian's children (first names). Every flow that shows a child's data asks `served`
first: linked, and with consent in force (the one the planner also requires)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.core.model import Chat
from bots.core.turn import Turn
from notifier.db.models import Guardian, Staff, Student
from notifier.rendering import PupilView
from notifier.roster.chat_link import chat_column
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
    """The language of the bot's answers: English if the person chose it, else Russian."""
    return "en" if (locale or "").lower().startswith("en") else "ru"


async def guardian_for(session: AsyncSession, chat: Chat) -> Guardian | None:
    """The guardian linked to this chat, consent or not."""
    return await session.scalar(
        select(Guardian)
        .where(chat_column(Guardian, chat.messenger) == chat.address)
        .order_by(Guardian.id)
        .limit(1)
    )


async def staff_for(session: AsyncSession, chat: Chat) -> Staff | None:
    """The staff member linked to this chat (a class teacher's /announce and /console)."""
    return await session.scalar(
        select(Staff)
        .where(chat_column(Staff, chat.messenger) == chat.address)
        .order_by(Staff.id)
        .limit(1)
    )


async def served(turn: Turn) -> Guardian | None:
    """The guardian this chat may be shown data of; otherwise say why not (and how to change
    it) and return None."""
    guardian = await guardian_for(turn.session, turn.chat)
    if guardian is None:
        refusal = NOT_LINKED
    elif await active_consent(session=turn.session, guardian_id=guardian.id) is None:
        refusal = NO_CONSENT[language_of(guardian.locale)]
    else:
        return guardian
    await turn.refuse(refusal)
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
