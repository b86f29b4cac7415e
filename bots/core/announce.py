"""/announce: a class teacher linked to the bot picks one of their classes, types the text,
sees a preview with the number of recipients, and confirms or cancels. The steps are kept in
Redis (state.py), so any process may take the next update."""

from __future__ import annotations

import html
import logging

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.core.model import Button, Reply, layout
from bots.core.payloads import Decide, PickClass
from bots.core.people import staff_for
from bots.core.state import Draft, Drafts, Step
from bots.core.turn import Turn
from notifier import announcements
from notifier.auth import Principal, Role
from notifier.db.models import SchoolClass
from notifier.errors import NotifierError

log = logging.getLogger(__name__)

NOT_STAFF = "Команда для классных руководителей: подключите бот по ссылке из школы."
NO_CLASSES = "У вас нет классов, где вы классный руководитель."
WHICH_CLASS = "Родителям какого класса отправить объявление?"
TYPE_TEXT = "Напишите текст объявления для родителей {klass} одним сообщением. /cancel — отменить."
TEXT_LIMIT = 4000
BAD_TEXT = f"Нужен текст до {TEXT_LIMIT} символов. Попробуйте ещё раз или /cancel."
PREVIEW = (
    "<b>Предпросмотр</b> ({klass}):\n\n{text}\n\n"
    "Получат: <b>{count}</b> родителей (с согласием на уведомления)."
)
CANCELLED = "Объявление отменено."
NOTHING_TO_CANCEL = "Отменять нечего: объявление не начато. /announce — начать."
SENDING = "Отправляю. Когда всё будет доставлено, пришлю итог."
SENT = "Отправлено"
STALE = "Устаревшая кнопка"
SEND, CANCEL = "Отправить", "Отмена"


def _drafts(turn: Turn) -> Drafts:
    return Drafts(turn.runtime.redis)


async def _classes(session: AsyncSession, staff_id: str) -> list[SchoolClass]:
    return list(
        await session.scalars(
            select(SchoolClass)
            .where(SchoolClass.class_teacher_id == staff_id)
            .order_by(SchoolClass.name)
        )
    )


async def start(turn: Turn) -> None:
    staff = await staff_for(turn.session, turn.chat)
    if staff is None:
        await turn.say(NOT_STAFF)
        return
    classes = await _classes(turn.session, staff.id)
    if not classes:
        await turn.say(NO_CLASSES)
        return
    buttons = [Button(k.name, PickClass(index=i).pack()) for i, k in enumerate(classes)]
    buttons.append(Button(CANCEL, Decide(send=False).pack()))
    await _drafts(turn).put(turn.chat, Draft(Step.choosing))
    await turn.say(WHICH_CLASS, layout(buttons, 3))


async def pick_class(turn: Turn, pressed: PickClass) -> None:
    drafts = _drafts(turn)
    draft = await drafts.get(turn.chat)
    staff = await staff_for(turn.session, turn.chat)
    classes = await _classes(turn.session, staff.id) if staff else []
    if draft is None or draft.step is not Step.choosing or not (0 <= pressed.index < len(classes)):
        await turn.answer(STALE, alert=True)
        return
    klass = classes[pressed.index]
    await drafts.put(turn.chat, draft.to(Step.typing, class_id=klass.id, class_name=klass.name))
    await turn.answer(replace=Reply(TYPE_TEXT.format(klass=html.escape(klass.name))))


async def typed(turn: Turn, text: str, draft: Draft) -> None:
    """The announcement's text, while the draft waits for it."""
    text = text.strip()
    if not text or len(text) > TEXT_LIMIT or draft.class_id is None:
        await turn.say(BAD_TEXT)
        return
    count = await announcements.audience_size(session=turn.session, class_ids=[draft.class_id])
    await _drafts(turn).put(turn.chat, draft.to(Step.confirming, text=text))
    buttons = [Button(SEND, Decide(send=True).pack()), Button(CANCEL, Decide(send=False).pack())]
    preview = PREVIEW.format(
        klass=html.escape(draft.class_name or ""), text=html.escape(text), count=count
    )
    await turn.say(preview, layout(buttons))


async def decide(turn: Turn, pressed: Decide) -> None:
    drafts = _drafts(turn)
    draft = await drafts.get(turn.chat)
    await drafts.drop(turn.chat)
    if not pressed.send or draft is None or draft.text is None or draft.class_id is None:
        await turn.answer(replace=Reply(CANCELLED))
        return
    staff = await staff_for(turn.session, turn.chat)
    if staff is None:
        await turn.answer(NOT_STAFF, alert=True)
        return
    principal = Principal(
        role=Role.teacher, token_id=None, school_id=staff.school_id, staff_id=staff.id
    )
    try:
        created = await announcements.create(
            session=turn.session,
            principal=principal,
            body=announcements.AnnouncementIn(
                audience=announcements.Audience(class_ids=[draft.class_id]), text=draft.text
            ),
            # A press delivered twice (a webhook retried) makes one announcement.
            idempotency_key=f"bot:{turn.press_id}",
            now=turn.runtime.clock(),
            public_url=turn.runtime.settings.public_url,
            summary_chat_id=turn.chat.address,
            summary_messenger=turn.chat.messenger,
        )
    except NotifierError as exc:
        await turn.answer(exc.reason[:200], alert=True)
        return
    log.info(
        "bot.announced",
        extra={"announcement_id": created.announcement.id, "staff_id": staff.id},
    )
    await turn.answer(SENT, replace=Reply(SENDING))


async def cancel(turn: Turn) -> None:
    await turn.say(CANCELLED if await _drafts(turn).drop(turn.chat) else NOTHING_TO_CANCEL)
