"""build_dispatcher(settings): the bot's routers and middlewares, no I/O at build time."""

from __future__ import annotations

from aiogram import Dispatcher

from bots.handlers import link
from bots.handlers import settings as settings_handlers
from bots.middlewares import SessionMiddleware
from notifier.config import Settings


def build_dispatcher(settings: Settings) -> Dispatcher:
    """The dispatcher; feed it updates with `runtime=` as workflow data."""
    dp = Dispatcher(name="notifier")
    dp.update.outer_middleware(SessionMiddleware())
    dp.include_router(settings_handlers.build_router())
    dp.include_router(link.build_router())
    return dp
