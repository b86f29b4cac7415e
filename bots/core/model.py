"""What the core sees of an update and what it answers: a chat, an event (a command, plain
text, a button press) and replies in the HTML subset both messengers take (b, i, s, code,
a href, blockquote), with an optional keyboard of buttons that carry payloads."""

from __future__ import annotations

import re
from dataclasses import dataclass

from notifier.channels.base import Messenger


@dataclass(frozen=True)
class Chat:
    """Where an update came from. `private`: a one-to-one dialog with the bot (the only place
    the bot answers: what it says may name a child). `bot_id`: the Telegram bot the update
    came through (a school may have its own); None in MAX."""

    messenger: Messenger
    chat_id: str
    user_id: str
    private: bool
    bot_id: str | None = None
    locale: str | None = None

    @property
    def address(self) -> str:
        """The id a link stores for this chat (roster/chat_link.py): the Telegram chat, the
        MAX user (a MAX dialog is reached by its user)."""
        return self.user_id if self.messenger is Messenger.max else self.chat_id


@dataclass(frozen=True)
class Command:
    """`/name args`: `name` in lower case, without the slash and a `@bot` suffix."""

    chat: Chat
    name: str
    args: str = ""


@dataclass(frozen=True)
class Text:
    """Anything written that is not a command (empty for a photo, a sticker, a file)."""

    chat: Chat
    text: str


@dataclass(frozen=True)
class Press:
    """A press on an inline button: `payload` as the button carried it (unchecked: it may be
    forged, stale or another bot's); `press_id` names the press in the answer."""

    chat: Chat
    payload: str
    press_id: str


Event = Command | Text | Press

_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@[A-Za-z0-9_]{1,64})?(?:\s+(.*))?", re.S)


def written(chat: Chat, text: str) -> Command | Text:
    """A message's text as a command when it is one (`/start CODE`, `/marks@school_bot`)."""
    match = _COMMAND.fullmatch(text.strip())
    if match is None:
        return Text(chat, text)
    return Command(chat, match.group(1).lower(), (match.group(2) or "").strip())


@dataclass(frozen=True)
class Button:
    text: str
    payload: str


Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Reply:
    text: str
    keyboard: Keyboard = ()


ROW_WIDTH = 8  # Telegram's widest inline row (aiogram's builder fills rows up to it)


def layout(buttons: list[Button], *sizes: int) -> Keyboard:
    """Buttons in rows of these sizes, the last size for the rest (aiogram's `adjust`, so the
    Telegram keyboards keep their shape); without sizes, rows as wide as Telegram allows."""
    widths = list(sizes) or [ROW_WIDTH]
    rows: list[tuple[Button, ...]] = []
    rest = list(buttons)
    while rest:
        width = widths.pop(0) if len(widths) > 1 else widths[0]
        rows.append(tuple(rest[:width]))
        rest = rest[width:]
    return tuple(rows)
