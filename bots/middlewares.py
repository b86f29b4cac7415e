"""Resources per update: one database session, opened and closed around each handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from notifier.runtime import Runtime


class SessionMiddleware(BaseMiddleware):
    """Gives each handler `session` (an AsyncSession) from the injected `runtime`."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        runtime: Runtime = data["runtime"]
        async with runtime.sessions() as session:
            data["session"] = session
            return await handler(event, data)
