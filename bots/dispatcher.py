"""build_dispatcher(settings): the bot's routers and middlewares, no I/O at build time."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseStorage

from bots.handlers import announce, link, queries
from bots.handlers import settings as settings_handlers
from bots.middlewares import SessionMiddleware
from notifier.config import Settings


def build_dispatcher(settings: Settings, *, storage: BaseStorage | None = None) -> Dispatcher:
    """The dispatcher; feed it updates with `runtime=` as workflow data."""
    # Conversation state (the /announce steps): in Redis when several processes serve the bot.
    dp = Dispatcher(name="notifier", storage=storage) if storage else Dispatcher(name="notifier")
    dp.update.outer_middleware(SessionMiddleware())
    dp.include_router(announce.build_router())
    dp.include_router(settings_handlers.build_router())
    dp.include_router(queries.build_router())
    dp.include_router(link.build_router())
    return dp
