"""The core's port over maxapi's Bot, for the dialog of one update: messages go to the user
(POST /messages?user_id=), a press is answered by POST /answers, which also replaces the
message the button was on."""

from __future__ import annotations

from maxapi import Bot
from maxapi.enums.attachment import AttachmentType
from maxapi.enums.parse_mode import TextFormat
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection
from maxapi.types.attachments.attachment import ButtonsPayload
from maxapi.types.attachments.buttons.attachment_button import AttachmentButton
from maxapi.types.attachments.buttons.callback_button import CallbackButton
from maxapi.types.updates.message_callback import MessageForCallback

from bots.core.model import Chat, Keyboard, Reply
from bots.core.port import NotTold
from notifier.channels.max import fit
from notifier.roster.chat_link import Replaced

ROW_WIDTH = 7  # MAX's widest row of callback buttons


def keyboard(rows: Keyboard) -> list[AttachmentButton]:
    """The inline_keyboard attachment (none for no buttons); rows wider than MAX takes are
    split."""
    if not rows:
        return []
    buttons = [
        [CallbackButton(text=b.text, payload=b.payload) for b in row[start : start + ROW_WIDTH]]
        for row in rows
        for start in range(0, len(row), ROW_WIDTH)
    ]
    return [
        AttachmentButton(
            type=AttachmentType.INLINE_KEYBOARD,
            payload=ButtonsPayload(buttons=buttons),
        )  # type: ignore[call-arg]  # `bot` is bound by maxapi when it sends
    ]


class MaxConversation:
    def __init__(self, bot: Bot, chat: Chat, callback_id: str | None = None) -> None:
        self.bot = bot
        self.user_id = int(chat.user_id)
        self.callback_id = callback_id

    async def send(self, reply: Reply) -> None:
        await self.bot.send_message(
            user_id=self.user_id,
            text=fit(reply.text),
            attachments=keyboard(reply.keyboard),  # type: ignore[arg-type]
        )

    async def answer(
        self, notice: str | None = None, *, alert: bool = False, replace: Reply | None = None
    ) -> None:
        # MAX shows every notice the same way (no alerts), and refuses an answer with neither
        # a notice nor a message: a bare "seen" is not sent.
        assert self.callback_id is not None, "answer() is for a button press"
        if notice is None and replace is None:
            return
        message = None
        if replace is not None:
            message = MessageForCallback(
                text=fit(replace.text),
                attachments=keyboard(replace.keyboard),
                format=TextFormat.HTML,
            )
        await self.bot.send_callback(
            callback_id=self.callback_id, message=message, notification=notice
        )

    async def tell(self, replaced: Replaced, text: str) -> None:
        if not replaced.chat_id.isdigit():
            raise NotTold("not_a_user_id")
        try:
            await self.bot.send_message(user_id=int(replaced.chat_id), text=fit(text))
        except (MaxApiError, MaxConnection, InvalidToken, TimeoutError) as exc:
            raise NotTold(type(exc).__name__) from None  # the class: MAX's text may quote
