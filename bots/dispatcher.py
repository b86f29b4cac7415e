"""build_dispatcher(settings): aiogram's Dispatcher feeding the core (bots/core), no I/O at
build time. Every message and every button press goes to the core, which decides (private
chats only, the commands, the flows)."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import BotCommand, CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bots.core.bot import handle
from bots.core.commands import menu
from bots.middlewares import SessionMiddleware
from bots.telegram.conversation import TelegramConversation
from bots.telegram.events import of_message, of_query
from notifier.config import Settings
from notifier.runtime import Runtime


async def on_message(message: Message, bot: Bot, session: AsyncSession, runtime: Runtime) -> None:
    port = TelegramConversation(bot, message.chat.id, runtime)
    await handle(of_message(bot, message), port, session=session, runtime=runtime)


async def on_query(query: CallbackQuery, bot: Bot, session: AsyncSession, runtime: Runtime) -> None:
    press = of_query(bot, query)
    if press is None:
        return
    port = TelegramConversation(bot, int(press.chat.chat_id), runtime, query)
    await handle(press, port, session=session, runtime=runtime)


def build_dispatcher(settings: Settings, *, storage: BaseStorage | None = None) -> Dispatcher:
    """The dispatcher; feed it updates with `runtime=` as workflow data. Conversation state is
    the core's (in Redis, bots/core/state.py): `storage` is aiogram's FSM storage, which no
    handler uses any more; it is taken so that callers may keep passing one."""
    dp = Dispatcher(name="notifier", storage=storage) if storage else Dispatcher(name="notifier")
    dp.update.outer_middleware(SessionMiddleware())
    dp.message.register(on_message)
    dp.callback_query.register(on_query)
    return dp


# language_code None: every user whose language has no list of its own (Russian first).
COMMANDS: dict[str | None, list[tuple[str, str]]] = {None: menu("ru"), "en": menu("en")}


async def register_commands(bot: Bot) -> None:
    """The command menu Telegram shows, in Russian and in English."""
    for language, commands in COMMANDS.items():
        await bot.set_my_commands(
            [BotCommand(command=c, description=d) for c, d in commands], language_code=language
        )
