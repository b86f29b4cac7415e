"""/start <code> links a chat to a guardian; /stop unlinks; /help says what the bot does."""

from __future__ import annotations

import html
import logging

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from notifier.roster.telegram_link import LinkRefused, LinkThrottle, link_chat, unlink_chat
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
    "unknown": "Код не подошёл. Проверьте его или попросите в школе новый.",
    "used": "Этот код уже использован. Если это были не вы, попросите в школе новый код.",
    "expired": "Срок действия кода истёк. Попросите в школе новый код.",
}
THROTTLED = "Слишком много неверных кодов. Попробуйте ещё раз через час."


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
        log.info("bot.link_refused", extra={"chat_id": chat_id, "kind": exc.kind})
        await message.answer(REFUSED[exc.kind])
        return
    await throttle.reset(chat_id)
    log.info("bot.linked", extra={"chat_id": chat_id, "guardian_id": linked.guardian_id})
    children = ", ".join(html.escape(name) for name in linked.children) or "—"
    if linked.staff:
        await message.answer(
            f"Готово! Вы подключены как классный руководитель: <b>{children}</b>.\n"
            "/announce — объявление родителям вашего класса."
        )
        return
    await message.answer(
        f"Готово! Этот чат подключён. Я буду присылать сообщения о: <b>{children}</b>.\n"
        "Отключиться можно командой /stop."
    )


async def start_plain(message: Message) -> None:
    await message.answer("Здравствуйте!\n\n" + HELP)


async def stop(message: Message, session: AsyncSession) -> None:
    count = await unlink_chat(session=session, chat_id=str(message.chat.id))
    log.info("bot.unlinked", extra={"chat_id": message.chat.id, "guardians": count})
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
