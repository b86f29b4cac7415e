"""What the core asks of a messenger: the port each adapter implements over its own client
(aiogram's Bot, maxapi's Bot), for the chat of one update."""

from __future__ import annotations

from typing import Protocol

from bots.core.model import Reply
from notifier.roster.chat_link import Replaced


class NotTold(Exception):
    """Another chat could not be told (blocked the bot, gone, no bot to write with); `why` is
    a class name or a word, never the messenger's text (it may quote the chat)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class Conversation(Protocol):
    async def send(self, reply: Reply) -> None:
        """A new message to this chat."""

    async def answer(
        self, notice: str | None = None, *, alert: bool = False, replace: Reply | None = None
    ) -> None:
        """Answer the button press being handled (once per press): a short notice (an alert
        the user must close when `alert`), and/or the message the button was on replaced by
        `replace`. One call, because MAX answers a press once, with both."""

    async def tell(self, replaced: Replaced, text: str) -> None:
        """A message to another chat of this messenger: the one a new link replaced, through
        the bot it was linked with. Raises NotTold when it cannot."""
