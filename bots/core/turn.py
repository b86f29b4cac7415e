"""One update being handled: its event and chat, the port to answer through, the database
session and the runtime. Flows answer through it, so that a refusal lands where the user
looks (a message for a command, an alert for a button) and a press is answered once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bots.core.model import Chat, Event, Keyboard, Press, Reply
from bots.core.port import Conversation
from notifier.runtime import Runtime


@dataclass
class Turn:
    event: Event
    port: Conversation
    session: AsyncSession
    runtime: Runtime
    answered: bool = field(default=False, init=False)

    @property
    def chat(self) -> Chat:
        return self.event.chat

    @property
    def pressed(self) -> bool:
        return isinstance(self.event, Press)

    @property
    def press_id(self) -> str | None:
        return self.event.press_id if isinstance(self.event, Press) else None

    async def say(self, text: str, keyboard: Keyboard = ()) -> None:
        """A new message in this chat."""
        await self.port.send(Reply(text, keyboard))

    async def answer(
        self, notice: str | None = None, *, alert: bool = False, replace: Reply | None = None
    ) -> None:
        """Answer the press (a no-op for a message, or once it is answered)."""
        if not self.pressed or self.answered:
            return
        self.answered = True
        await self.port.answer(notice, alert=alert, replace=replace)

    async def refuse(self, text: str) -> None:
        """Say why not: an alert on a button, else a message."""
        if self.pressed:
            await self.answer(text, alert=True)
        else:
            await self.say(text)
