"""The core's one entry: an event from any messenger, answered through that messenger's port.
Private dialogs only: whatever the bot says may name a child, and in a group or a channel the
other members would read it; an update from anywhere else gets no answer at all."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bots.core import announce, console, link, queries, settings
from bots.core.model import Command, Event, Press, Text
from bots.core.payloads import Ask, Child, Decide, Pick, PickClass, Quiet, unpack
from bots.core.port import Conversation
from bots.core.state import Drafts, Step
from bots.core.turn import Turn
from notifier.runtime import Runtime

log = logging.getLogger(__name__)

STALE = "Устаревшая кнопка"


async def handle(
    event: Event, port: Conversation, *, session: AsyncSession, runtime: Runtime
) -> None:
    """Answer one update (a press is answered exactly once, whatever happens in between)."""
    if not event.chat.private:
        log.debug("bot.not_private", extra={"messenger": event.chat.messenger})
        return
    turn = Turn(event, port, session, runtime)
    if isinstance(event, Command):
        await _command(turn, event)
    elif isinstance(event, Text):
        await _text(turn, event)
    else:
        try:
            await _press(turn, event)
        finally:
            await turn.answer()  # the button stops spinning even when nothing was to say


async def _command(turn: Turn, command: Command) -> None:
    name = command.name
    if name == "start":
        await link.start(turn, command.args)
    elif name == "stop":
        await link.stop(turn)
    elif name == "help":
        await link.help_(turn)
    elif name == "settings":
        await settings.show(turn)
    elif name in queries.ANSWERS:
        await queries.ask(turn, name)
    elif name == "announce":
        await announce.start(turn)
    elif name == "cancel":
        await announce.cancel(turn)
    elif name == "console":
        await console.console(turn)
    else:
        await link.unknown_command(turn)


async def _text(turn: Turn, text: Text) -> None:
    draft = await Drafts(turn.runtime.redis).get(turn.chat)
    if draft is not None and draft.step is Step.typing:
        await announce.typed(turn, text.text, draft)
    else:
        await link.not_answered(turn)


async def _press(turn: Turn, press: Press) -> None:
    payload = unpack(press.payload)
    if isinstance(payload, Ask):
        await queries.on_ask(turn, payload)
    elif isinstance(payload, Pick):
        await settings.on_pick(turn, payload)
    elif isinstance(payload, Child):
        await settings.on_child(turn, payload)
    elif isinstance(payload, Quiet):
        await settings.on_quiet(turn, payload)
    elif isinstance(payload, PickClass):
        await announce.pick_class(turn, payload)
    elif isinstance(payload, Decide):
        await announce.decide(turn, payload)
    else:  # forged, another bot's, or of a format we no longer make
        log.info("bot.press_unknown", extra={"messenger": turn.chat.messenger})
        await turn.answer(STALE, alert=True)
