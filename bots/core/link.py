"""/start CODE links a chat to a guardian or a staff member (MAX sends the code as the payload
of `bot_started`, which the adapter turns into /start CODE); /start alone greets; /stop
unlinks; /help says what the bot does; anything else is answered with the help."""

from __future__ import annotations

import html
import logging

from bots.core.people import NO_CONSENT, language_of
from bots.core.port import NotTold
from bots.core.turn import Turn
from notifier.roster.chat_link import (
    Linked,
    LinkRefused,
    LinkThrottle,
    Refusal,
    link_chat,
    unlink_chat,
)

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
GREETING = "Здравствуйте!\n\n" + HELP
NOT_ANSWERED = "Я не отвечаю на сообщения. " + HELP
UNKNOWN_COMMAND = "Такой команды нет. " + HELP
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
LINKED_STAFF = (
    "Готово! Вы подключены как классный руководитель: <b>{classes}</b>.\n"
    "/announce — объявление родителям вашего класса."
)
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
UNLINKED = (
    "Чат отключён: сообщения сюда больше не придут. Школа продолжит писать на "
    "почту или SMS, если они указаны. Подключиться снова — по новой ссылке из школы."
)
NOT_LINKED_ANYWAY = "Этот чат и так не подключён."
# MAX takes a start payload of at most 128 characters; a code is 22. Longer is no code.
LONGEST_CODE = 128


def _throttle(turn: Turn) -> LinkThrottle:
    settings = turn.runtime.settings
    return LinkThrottle(
        turn.runtime.redis, limit=settings.link_code_max_failures, messenger=turn.chat.messenger
    )


async def start(turn: Turn, code: str) -> None:
    """/start: with a code, link this chat; without, greet."""
    if not code:
        await turn.say(GREETING)
        return
    address = turn.chat.address
    throttle = _throttle(turn)
    if await throttle.blocked(address):
        await turn.say(THROTTLED)
        return
    try:
        if len(code) > LONGEST_CODE:
            raise LinkRefused(Refusal.unknown, "no such code")
        linked = await link_chat(
            session=turn.session,
            code=code,
            chat_id=address,
            bot_id=turn.chat.bot_id,
            now=turn.runtime.clock(),
            messenger=turn.chat.messenger,
        )
    except LinkRefused as exc:
        await throttle.failed(address)
        log.info(
            "bot.link_refused", extra={"kind": exc.kind.value, "messenger": turn.chat.messenger}
        )
        await turn.say(REFUSED[exc.kind])
        return
    await throttle.reset(address)
    subject = "staff_id" if linked.staff else "guardian_id"
    log.info(
        "bot.linked",
        extra={
            subject: linked.guardian_id,
            "replaced": bool(linked.replaced),
            "messenger": turn.chat.messenger,
        },
    )
    await turn.say(confirmation(linked))
    await _tell_replaced(turn, linked)


def confirmation(linked: Linked) -> str:
    names = ", ".join(html.escape(name) for name in linked.children) or "—"
    if linked.staff:
        return LINKED_STAFF.format(classes=names)
    lang = language_of(linked.locale)
    if not linked.consent:  # no child's name either, until there is consent
        return LINKED_NO_CONSENT[lang] + NO_CONSENT[lang]
    return LINKED[lang].format(children=names)


async def _tell_replaced(turn: Turn, linked: Linked) -> None:
    """Tell the chat this link replaced that it hears nothing more; a failure there (blocked,
    gone) does not undo the new link."""
    if linked.replaced is None:
        return
    try:
        await turn.port.tell(linked.replaced, REPLACED[language_of(linked.locale)])
    except NotTold as exc:
        subject = "staff_id" if linked.staff else "guardian_id"
        log.info("bot.replaced_not_told", extra={subject: linked.guardian_id, "why": exc.why})


async def stop(turn: Turn) -> None:
    count = await unlink_chat(
        session=turn.session, chat_id=turn.chat.address, messenger=turn.chat.messenger
    )
    log.info("bot.unlinked", extra={"guardians": count, "messenger": turn.chat.messenger})
    await turn.say(UNLINKED if count else NOT_LINKED_ANYWAY)


async def help_(turn: Turn) -> None:
    await turn.say(HELP)


async def unknown_command(turn: Turn) -> None:
    await turn.say(UNKNOWN_COMMAND)


async def not_answered(turn: Turn) -> None:
    await turn.say(NOT_ANSWERED)
