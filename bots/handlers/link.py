"""/start <code> links a chat to a guardian; /stop unlinks; /help says what the bot does."""

from __future__ import annotations

import html
import logging

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bots.handlers.family import NO_CONSENT, language_of
from notifier.roster.chat_link import (
    Linked,
    LinkRefused,
    LinkThrottle,
    Refusal,
    link_chat,
    unlink_chat,
)
from notifier.runtime import Runtime

log = logging.getLogger(__name__)

HELP = (
    "Я присылаю сообщения из электронного журнала: оценки и их исправления, домашние "
    "задания, пропуски и опоздания, замены в расписании, итоговые оценки и комментарии "
    "учителей.\n\n"
    "Чтобы подключиться, откройте ссылку, которую выдала школа (или отправьте "
    "<code>/start КОД</code>).\n"
    "/marks — оценки за эту неделю со средним и взвешенным средним баллом\n"
    "/homework — домашнее задание на завтра и на неделю\n"
    "/absences — пропуски и опоздания за четверть\n"
    "/summary — сводка за прошлую неделю\n"
    "/settings — что и когда присылать (по каждому ребёнку), тихие часы\n"
    "/stop — больше не присылать сообщения в этот чат\n"
    "/help — эта справка"
)
REFUSED = {
    Refusal.unknown: "Код не подошёл. Проверьте его или попросите в школе новый.",
    Refusal.used: "Этот код уже использован. Если это были не вы, попросите в школе новый код.",
    Refusal.expired: "Срок действия кода истёк. Попросите в школе новый код.",
    Refusal.replaced: "Этот код заменён более новым. Откройте последнюю ссылку из школы.",
}
THROTTLED = "Слишком много неверных кодов. Попробуйте ещё раз через час."
LINKED = {
    "ru": (
        "Готово! Этот чат подключён. Я буду присылать сообщения о: <b>{children}</b>.\n"
        "Отключиться можно командой /stop."
    ),
    "en": (
        "Done! This chat is linked. I will send messages about: <b>{children}</b>.\n"
        "To stop them, send /stop."
    ),
}
LINKED_NO_CONSENT = {
    "ru": "Этот чат подключён, но сообщений пока не будет. ",
    "en": "This chat is linked, but no messages will come yet. ",
}
# Told to the chat a new link replaced: a code used by someone else does not go unnoticed.
REPLACED = {
    "ru": (
        "Этот чат отключён от уведомлений школы: подключён другой чат. "
        "Если это были не вы, обратитесь в школу."
    ),
    "en": (
        "This chat no longer gets the school's notifications: another chat was linked. "
        "If that was not you, contact the school."
    ),
}


def _throttle(runtime: Runtime) -> LinkThrottle:
    return LinkThrottle(runtime.redis, limit=runtime.settings.link_code_max_failures)


async def start_with_code(
    message: Message, command: CommandObject, session: AsyncSession, runtime: Runtime
) -> None:
    chat_id = str(message.chat.id)
    throttle = _throttle(runtime)
    if await throttle.blocked(chat_id):
        await message.answer(THROTTLED)
        return
    try:
        linked = await link_chat(
            session=session,
            code=command.args or "",
            chat_id=chat_id,
            bot_id=str(message.bot.id) if message.bot else "",
            now=runtime.clock(),
        )
    except LinkRefused as exc:
        await throttle.failed(chat_id)
        log.info("bot.link_refused", extra={"kind": exc.kind.value})
        await message.answer(REFUSED[exc.kind])
        return
    await throttle.reset(chat_id)
    subject = "staff_id" if linked.staff else "guardian_id"
    log.info("bot.linked", extra={subject: linked.guardian_id, "replaced": bool(linked.replaced)})
    await message.answer(_confirmation(linked))
    await _tell_replaced(message, runtime, linked)


def _confirmation(linked: Linked) -> str:
    children = ", ".join(html.escape(name) for name in linked.children) or "—"
    if linked.staff:
        return (
            f"Готово! Вы подключены как классный руководитель: <b>{children}</b>.\n"
            "/announce — объявление родителям вашего класса."
        )
    lang = language_of(linked.locale)
    if not linked.consent:  # no child's name either, until there is consent
        return LINKED_NO_CONSENT[lang] + NO_CONSENT[lang]
    return LINKED[lang].format(children=children)


async def _tell_replaced(message: Message, runtime: Runtime, linked: Linked) -> None:
    """Tell the chat this link replaced that it hears nothing more, through the bot it was
    linked with; a failure there (blocked, gone) does not undo the new link."""
    if linked.replaced is None:
        return
    telegram = runtime.telegram
    bot = (
        telegram.bots.get(linked.replaced.bot_id or telegram.default_bot_id)
        if telegram is not None
        else message.bot
    )
    subject = "staff_id" if linked.staff else "guardian_id"
    if bot is None:
        log.info("bot.replaced_not_told", extra={subject: linked.guardian_id, "why": "no_bot"})
        return
    text = REPLACED[language_of(linked.locale)]
    try:
        await bot.send_message(chat_id=int(linked.replaced.chat_id), text=text)
    except TelegramAPIError as exc:
        why = type(exc).__name__  # the class only: Telegram's text is not ours to vet
        log.info("bot.replaced_not_told", extra={subject: linked.guardian_id, "why": why})


async def start_plain(message: Message) -> None:
    await message.answer("Здравствуйте!\n\n" + HELP)


async def stop(message: Message, session: AsyncSession) -> None:
    count = await unlink_chat(session=session, chat_id=str(message.chat.id))
    log.info("bot.unlinked", extra={"guardians": count})
    if count:
        await message.answer(
            "Чат отключён: сообщения сюда больше не придут. Школа продолжит писать на "
            "почту или SMS, если они указаны. Подключиться снова — по новой ссылке из школы."
        )
    else:
        await message.answer("Этот чат и так не подключён.")


async def help_(message: Message) -> None:
    await message.answer(HELP)


async def anything_else(message: Message) -> None:
    await message.answer("Я не отвечаю на сообщения. " + HELP)


def build_router() -> Router:
    """A fresh router (an aiogram router belongs to one dispatcher)."""
    router = Router(name="link")
    router.message.register(start_with_code, CommandStart(deep_link=True))
    router.message.register(start_plain, CommandStart())
    router.message.register(stop, Command("stop"))
    router.message.register(help_, Command("help"))
    router.message.register(anything_else, F.text)
    return router
