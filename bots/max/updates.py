"""A MAX update (the JSON of the webhook's body or of GET /updates) as the core's event, parsed
by maxapi's types: `bot_started` (its payload is the link code: /start CODE),
`message_created` (a command or text), `message_callback` (a button press). Anything else is
`Ignored`, with the reason."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from maxapi.enums.chat_type import ChatType
from maxapi.types.message import Message
from maxapi.types.updates import UpdateUnionAdapter
from maxapi.types.updates.bot_started import BotStarted
from maxapi.types.updates.message_callback import MessageCallback
from maxapi.types.updates.message_created import MessageCreated
from maxapi.types.users import User

from bots.core.model import Chat, Command, Event, Press, written
from notifier.channels.base import Messenger

# The update types the bot acts on (a webhook subscription and polling ask for these only).
TYPES = ("bot_started", "message_created", "message_callback")


class Ignored(StrEnum):
    """Why an update reached no flow."""

    not_an_update = "not_an_update"  # not a JSON object with an update_type
    malformed = "malformed"  # one of TYPES whose fields do not parse
    other_type = "other_type"  # a type the bot does not act on (bot_stopped, a new one...)
    not_a_person = "not_a_person"  # written by a bot, or with no sender


def read(raw: Any) -> Event | Ignored:
    if not isinstance(raw, dict) or not isinstance(raw.get("update_type"), str):
        return Ignored.not_an_update
    if raw["update_type"] not in TYPES:
        return Ignored.other_type
    try:
        update = UpdateUnionAdapter.validate_python(raw)
    except ValueError:  # pydantic's error quotes the input: not logged, not passed on
        return Ignored.malformed
    if isinstance(update, BotStarted):
        return _started(update)
    if isinstance(update, MessageCreated):
        return _written(update)
    if isinstance(update, MessageCallback):
        return _pressed(update)
    return Ignored.other_type


def _chat(chat_id: int | None, user: User, private: bool, locale: str | None) -> Chat:
    return Chat(
        messenger=Messenger.max,
        chat_id=str(chat_id) if chat_id is not None else "",
        user_id=str(user.user_id),
        private=private,
        locale=locale,
    )


def _dialog(message: Message | None) -> bool:
    """A one-to-one dialog with the bot (not a group chat, not a channel). A pressed message
    that is gone meanwhile says nothing of its chat: the answer goes to the user's own
    dialog, so it is treated as one."""
    return message is None or message.recipient.chat_type == ChatType.DIALOG


def _started(update: BotStarted) -> Command | Ignored:
    """The user opened the bot, by a link with ?start=CODE or not: /start CODE, /start."""
    if update.user.is_bot:
        return Ignored.not_a_person
    chat = _chat(update.chat_id, update.user, True, update.user_locale)
    return Command(chat, "start", (update.payload or "").strip())


def _written(update: MessageCreated) -> Event | Ignored:
    message = update.message
    sender = message.sender
    if sender is None or sender.is_bot:
        return Ignored.not_a_person
    chat = _chat(message.recipient.chat_id, sender, _dialog(message), update.user_locale)
    text = message.body.text if message.body is not None else None
    return written(chat, text or "")


def _pressed(update: MessageCallback) -> Press | Ignored:
    callback = update.callback
    if callback.user.is_bot:
        return Ignored.not_a_person
    message = update.message
    chat_id = message.recipient.chat_id if message is not None else None
    chat = _chat(chat_id, callback.user, _dialog(message), update.user_locale)
    return Press(chat, callback.payload or "", callback.callback_id)
