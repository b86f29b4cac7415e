"""The command menu MAX shows (PATCH /me/commands): the core's list, in Russian (MAX keeps one
list per bot, not one per language)."""

from __future__ import annotations

import logging

from maxapi import Bot
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection
from maxapi.types.command import BotCommand

from bots.core.commands import menu

log = logging.getLogger(__name__)


async def register_commands(bot: Bot) -> bool:
    """Set the menu; False (logged) when MAX refused it: the bot works without one."""
    commands = [BotCommand(name=name, description=text) for name, text in menu("ru")]
    try:
        await bot.set_commands(*commands)
    except (MaxApiError, MaxConnection, InvalidToken, TimeoutError) as exc:
        log.warning(
            "max.commands_not_set",
            extra={"error": type(exc).__name__, "code": getattr(exc, "code", None)},
        )
        return False
    return True
