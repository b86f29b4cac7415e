"""/console: a staff member linked to the bot gets a one-time sign-in link to the web console
in this chat (the chat was linked with a code the school handed them, so it is theirs)."""

from __future__ import annotations

import html
import logging

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bots.handlers.announce import NOT_STAFF
from bots.handlers.family import staff_for_chat
from notifier.console.deps import limits
from notifier.console.pages.signin import link_url
from notifier.runtime import Runtime
from notifier.signin import issue_link

log = logging.getLogger(__name__)

TEXT = {
    "ru": "Ссылка для входа в консоль (действует {minutes} мин., один раз):\n{link}",
    "en": "Your sign-in link to the console (works once, for {minutes} min):\n{link}",
}


def build_router() -> Router:
    router = Router(name="console")

    @router.message(Command("console"))
    async def console(message: Message, session: AsyncSession, runtime: Runtime) -> None:
        staff = await staff_for_chat(session, message.chat.id)
        if staff is None:
            await message.answer(NOT_STAFF)
            return
        ttl = limits(runtime).link
        token = await issue_link(session=session, staff=staff, now=runtime.clock(), ttl=ttl)
        language = "en" if staff.locale.startswith("en") else "ru"
        link = html.escape(link_url(runtime, token))
        text = TEXT[language].format(minutes=round(ttl.total_seconds() / 60), link=link)
        await message.answer(text, disable_web_page_preview=True)
        log.info("bot.console_link", extra={"staff_id": staff.id})

    return router
