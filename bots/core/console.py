"""/console: a staff member linked to the bot gets a one-time sign-in link to the web console
in this chat (the chat was linked with a code the school handed them, so it is theirs)."""

from __future__ import annotations

import html
import logging

from bots.core.announce import NOT_STAFF
from bots.core.people import language_of, staff_for
from bots.core.turn import Turn
from notifier.console.deps import limits
from notifier.console.pages.signin import link_url
from notifier.signin import issue_link

log = logging.getLogger(__name__)

TEXT = {
    "ru": "Ссылка для входа в консоль (действует {minutes} мин., один раз):\n{link}",
    "en": "Your sign-in link to the console (works once, for {minutes} min):\n{link}",
}


async def console(turn: Turn) -> None:
    staff = await staff_for(turn.session, turn.chat)
    if staff is None:
        await turn.say(NOT_STAFF)
        return
    runtime = turn.runtime
    ttl = limits(runtime).link
    token = await issue_link(session=turn.session, staff=staff, now=runtime.clock(), ttl=ttl)
    link = html.escape(link_url(runtime, token))
    minutes = round(ttl.total_seconds() / 60)
    await turn.say(TEXT[language_of(staff.locale)].format(minutes=minutes, link=link))
    log.info("bot.console_link", extra={"staff_id": staff.id})
