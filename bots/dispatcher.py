"""build_dispatcher(settings): the bot's routers and middlewares, no I/O at build time."""

from __future__ import annotations

from aiogram import Bot, Dispatcher, F
from aiogram.enums import ChatType
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import BotCommand

from bots.handlers import announce, console, link, queries
from bots.handlers import settings as settings_handlers
from bots.middlewares import SessionMiddleware
from notifier.config import Settings


def build_dispatcher(settings: Settings, *, storage: BaseStorage | None = None) -> Dispatcher:
    """The dispatcher; feed it updates with `runtime=` as workflow data."""
    # Conversation state (the /announce steps): in Redis when several processes serve the bot.
    dp = Dispatcher(name="notifier", storage=storage) if storage else Dispatcher(name="notifier")
    dp.update.outer_middleware(SessionMiddleware())
    # Private chats only: whatever a bot says may name a child, and in a group or channel the
    # other members would read it. Updates from anywhere else reach no handler (no answer).
    dp.message.filter(F.chat.type == ChatType.PRIVATE)
    dp.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    dp.include_router(announce.build_router())
    dp.include_router(console.build_router())
    dp.include_router(settings_handlers.build_router())
    dp.include_router(queries.build_router())
    dp.include_router(link.build_router())
    return dp


COMMANDS = {
    # language_code None: every user whose language has no list of its own (Russian first).
    None: [
        ("marks", "Оценки за эту неделю"),
        ("homework", "Домашнее задание на завтра и на неделю"),
        ("absences", "Пропуски и опоздания за четверть"),
        ("summary", "Сводка за прошлую неделю"),
        ("settings", "Что и когда присылать"),
        ("stop", "Больше не присылать сообщения"),
        ("help", "Справка"),
    ],
    "en": [
        ("marks", "This week's marks"),
        ("homework", "Homework for tomorrow and this week"),
        ("absences", "Absences and lateness this term"),
        ("summary", "Last week's summary"),
        ("settings", "What to send and when"),
        ("stop", "Stop sending messages"),
        ("help", "Help"),
    ],
}


async def register_commands(bot: Bot) -> None:
    """The command menu Telegram shows, in Russian and in English."""
    for language, commands in COMMANDS.items():
        await bot.set_my_commands(
            [BotCommand(command=c, description=d) for c, d in commands], language_code=language
        )
