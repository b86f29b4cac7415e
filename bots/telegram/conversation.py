"""The core's port over aiogram's Bot, for the chat of one update."""

from __future__ import annotations

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bots.core.model import Keyboard, Reply
from bots.core.port import NotTold
from notifier.roster.chat_link import Replaced
from notifier.runtime import Runtime


def markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.text, callback_data=b.payload) for b in row]
            for row in keyboard
        ]
    )


class TelegramConversation:
    def __init__(
        self, bot: Bot, chat_id: int, runtime: Runtime, query: CallbackQuery | None = None
    ) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.runtime = runtime
        self.query = query

    async def send(self, reply: Reply) -> None:
        await self.bot.send_message(
            chat_id=self.chat_id, text=reply.text, reply_markup=markup(reply.keyboard)
        )

    async def answer(
        self, notice: str | None = None, *, alert: bool = False, replace: Reply | None = None
    ) -> None:
        assert self.query is not None, "answer() is for a button press"
        if replace is not None:
            await self._replace(replace)
        await self.query.answer(text=notice, show_alert=alert or None)

    async def _replace(self, reply: Reply) -> None:
        message = self.query.message if self.query else None
        if not isinstance(message, Message):  # too old for Telegram to show: a new one
            await self.send(reply)
            return
        try:
            await self.bot.edit_message_text(
                chat_id=self.chat_id,
                message_id=message.message_id,
                text=reply.text,
                reply_markup=markup(reply.keyboard),
            )
        except TelegramBadRequest as exc:
            # A press that changes nothing (the choice already made) leaves the same text.
            if "message is not modified" not in exc.message:
                raise

    async def tell(self, replaced: Replaced, text: str) -> None:
        """Through the bot the old chat was linked with (a school's own, or the service's)."""
        telegram = self.runtime.telegram
        bot = (
            telegram.bots.get(replaced.bot_id or telegram.default_bot_id)
            if telegram is not None
            else self.bot
        )
        if bot is None:
            raise NotTold("no_bot")
        try:
            await bot.send_message(chat_id=int(replaced.chat_id), text=text)
        except TelegramAPIError as exc:
            raise NotTold(type(exc).__name__) from None  # the class: Telegram's text quotes
