"""aiogram's Message and CallbackQuery as the core's events."""

from __future__ import annotations

from aiogram import Bot
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message, User
from aiogram.types import Chat as TelegramChat

from bots.core.model import Chat, Command, Press, Text, written
from notifier.channels.base import Messenger


def _chat(bot: Bot, chat: TelegramChat, user: User | None) -> Chat:
    return Chat(
        messenger=Messenger.telegram,
        chat_id=str(chat.id),
        user_id=str(user.id) if user else str(chat.id),
        private=chat.type == ChatType.PRIVATE,
        bot_id=str(bot.id),
        locale=user.language_code if user else None,
    )


def of_message(bot: Bot, message: Message) -> Command | Text:
    """A command, or text (empty for a photo, a sticker, a file...)."""
    return written(_chat(bot, message.chat, message.from_user), message.text or "")


def of_query(bot: Bot, query: CallbackQuery) -> Press | None:
    """A button press; None for one without a chat (an inline-mode message: not ours)."""
    if query.message is None:
        return None
    return Press(_chat(bot, query.message.chat, query.from_user), query.data or "", query.id)
