"""Telegram: aiogram's Bot as a client of the Bot API (HTML parse mode), rate-limited in Redis."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import TypeVar

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods.base import Response
from aiogram.types import Message

from notifier.channels.base import Messenger, Recipient, SendResult
from notifier.channels.ratelimit import RateLimiter, per_second
from notifier.config import Settings
from notifier.errors import PermanentDelivery, TransientDelivery

# Telegram's answers that mean the chat is gone for us, whatever we send.
DEAD_CHAT = (
    "chat not found",
    "user is deactivated",
    "bot was blocked",
    "bot was kicked",
    "have no rights to send",
    "user not found",
    "chat_id is empty",
)
# Telegram's answer to an edit that changes nothing.
NOT_MODIFIED = "message is not modified"
T = TypeVar("T")


# aiogram parses every answer with `Response[<the method's result type>]`, and pydantic keeps
# such parametrised classes only weakly: without a reference of ours, sendMessage rebuilt the
# class on every call (a third of its client-side cost in the region benchmark's profile).
_RESPONSE_TYPES = (Response[Message], Response[bool])


def bot_id(token: str) -> str:
    """The public numeric part of a bot token."""
    return token.split(":", 1)[0]


WEBHOOK_PATH = "/telegram/webhook"  # where the API takes the bots' updates (bots/webhook.py)


def deep_link(username: str | None, code: str) -> str:
    """The t.me link that opens the bot with /start <code> (a link code in its alphabet)."""
    return f"https://t.me/{username}?start={code}"


def make_bot(token: str, api_base: str) -> Bot:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    return Bot(
        token=token,
        session=session,
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML,
            link_preview_is_disabled=True,
        ),
    )


class TelegramChannel:
    name = "telegram"
    messenger = Messenger.telegram

    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        assert settings.telegram_token is not None
        self.settings = settings
        self.limiter = limiter
        default = make_bot(settings.telegram_token.get_secret_value(), settings.telegram_api_base)
        self.default_bot_id = str(default.id)
        self.bots: dict[str, Bot] = {self.default_bot_id: default}

    @property
    def default_bot(self) -> Bot:
        return self.bots[self.default_bot_id]

    def add_bot(self, token: str) -> Bot:
        """A school's own bot (a larger region is served by several, each with its own rate)."""
        key = bot_id(token)
        if key not in self.bots:
            self.bots[key] = make_bot(token, self.settings.telegram_api_base)
        return self.bots[key]

    def use_bots(self, tokens: Iterable[str]) -> None:
        """Add the bots schools configured (the dispatcher reads them from the roster)."""
        for token in tokens:
            self.add_bot(token)

    async def start_link(self, code: str, *, bot_token: str | None = None) -> str:
        """The t.me link that opens the bot (a school's own, by its token) with this code."""
        bot = self.add_bot(bot_token) if bot_token else self.default_bot
        me = await bot.me()
        return deep_link(me.username, code)

    def reachable(self, recipient: Recipient) -> bool:
        return bool(recipient.telegram_chat_id) and (
            (recipient.telegram_bot_id or self.default_bot_id) in self.bots
        )

    async def send(
        self, recipient: Recipient, content: str, *, ref: str, now: datetime
    ) -> SendResult:
        bot, chat_id = self._bot_and_chat(recipient)
        async with self._slots(bot, chat_id) as bucket:
            message = await self._call(
                bucket, lambda: bot.send_message(chat_id=chat_id, text=content)
            )
        assert isinstance(message, Message)
        return SendResult(provider_id=str(message.message_id))

    async def edit(
        self, recipient: Recipient, message_id: str, content: str, *, now: datetime
    ) -> SendResult:
        """Replace the text of a message the bot sent this chat (the day's card)."""
        bot, chat_id = self._bot_and_chat(recipient)
        try:
            async with self._slots(bot, chat_id) as bucket:
                await self._call(
                    bucket,
                    lambda: bot.edit_message_text(
                        chat_id=chat_id, message_id=int(message_id), text=content
                    ),
                )
        except PermanentDelivery as exc:
            # The card already says this (a mark changed and changed back): nothing to do.
            if NOT_MODIFIED not in exc.reason:
                raise
        return SendResult(provider_id=message_id)

    def _bot_and_chat(self, recipient: Recipient) -> tuple[Bot, int]:
        if not recipient.telegram_chat_id:
            raise PermanentDelivery("guardian has no linked Telegram chat")
        bot = self.bots.get(recipient.telegram_bot_id or self.default_bot_id)
        if bot is None:
            raise PermanentDelivery("the bot this chat was linked through is not configured")
        return bot, int(recipient.telegram_chat_id)

    @contextlib.asynccontextmanager
    async def _slots(self, bot: Bot, chat_id: int) -> AsyncIterator[str]:
        """The chat's and the bot's rate slots for one call; yields the bot's bucket."""
        bucket = f"tg:bot:{bot.id}"
        chat_interval = self.settings.telegram_chat_interval_seconds
        async with contextlib.AsyncExitStack() as slots:
            if chat_interval > 0:
                chat = f"tg:chat:{bot.id}:{chat_id}"
                await slots.enter_async_context(self.limiter.slot(chat, 1, chat_interval))
            limit, window = per_second(self.settings.telegram_rate_per_second)
            await slots.enter_async_context(self.limiter.slot(bucket, limit, window))
            yield bucket

    async def _call(self, bucket: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except TelegramRetryAfter as exc:
            # Telegram slows the whole bot down, not one chat: every worker waits.
            await self.limiter.pause(bucket, exc.retry_after)
            raise TransientDelivery(
                "telegram 429 flood control", retry_after=exc.retry_after
            ) from None
        except TelegramForbiddenError as exc:
            raise PermanentDelivery(f"telegram 403 {_short(exc)}", unusable=True) from None
        except TelegramBadRequest as exc:
            text_ = _short(exc)
            dead = any(marker in text_.lower() for marker in DEAD_CHAT)
            raise PermanentDelivery(f"telegram 400 {text_}", unusable=dead) from None
        except (ClientDecodeError, TimeoutError, TelegramServerError, TelegramNetworkError) as exc:
            # A proxy's HTML error page, a dropped connection, Telegram's own 5xx: later.
            raise TransientDelivery(f"telegram {type(exc).__name__}: {_short(exc)}") from None
        except TelegramAPIError as exc:
            raise TransientDelivery(f"telegram {type(exc).__name__}: {_short(exc)}") from None

    async def close(self) -> None:
        for bot in self.bots.values():
            with contextlib.suppress(Exception):
                await bot.session.close()


def _short(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:200]
