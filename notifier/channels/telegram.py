"""Telegram: delivery through the Bot API (HTML parse mode, channels/bot_api.py), rate-limited in
Redis; the bots' aiogram Bot objects, made when a bot is asked for (a process that only
delivers never imports aiogram)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from notifier.channels.base import Messenger, Recipient, SendResult
from notifier.channels.bot_api import BotApiError, BotApiSession
from notifier.channels.ratelimit import Limit, RateLimiter, per_second
from notifier.config import Settings
from notifier.errors import PermanentDelivery, TransientDelivery

if TYPE_CHECKING:
    from aiogram import Bot

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
# What every message of ours asks of Telegram: our HTML, and no preview of its links.
SEND_OPTIONS = {"parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}
_RESPONSE_TYPES: tuple[Any, ...] = ()


def bot_id(token: str) -> str:
    """The public numeric part of a bot token."""
    return token.split(":", 1)[0]


WEBHOOK_PATH = "/telegram/webhook"  # where the API takes the bots' updates (bots/webhook.py)


def deep_link(username: str | None, code: str) -> str:
    """The t.me link that opens the bot with /start <code> (a link code in its alphabet)."""
    return f"https://t.me/{username}?start={code}"


def make_bot(token: str, api_base: str) -> Bot:
    """aiogram's Bot for a bot's conversations (bots/telegram/) and the console's bot setup."""
    global _RESPONSE_TYPES
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.enums import ParseMode
    from aiogram.methods.base import Response
    from aiogram.types import Message

    # aiogram parses every answer with `Response[<the method's result type>]`, and pydantic
    # keeps such parametrised classes only weakly: without a reference of ours, each call
    # rebuilt the class (a third of sendMessage's client-side cost, once measured).
    _RESPONSE_TYPES = (Response[Message], Response[bool])
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    return Bot(
        token=token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


class TelegramChannel:
    name = "telegram"
    messenger = Messenger.telegram

    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        assert settings.telegram_token is not None
        self.settings = settings
        self.limiter = limiter
        token = settings.telegram_token.get_secret_value()
        self.default_bot_id = bot_id(token)
        # bot id → token: the service's bot and the schools' own
        self.tokens: dict[str, str] = {self.default_bot_id: token}
        self.api = BotApiSession(settings.telegram_api_base)
        self._bots: dict[str, Bot] = {}
        self._usernames: dict[str, str] = {}

    @property
    def bots(self) -> dict[str, Bot]:
        """aiogram's Bot of each bot, for its conversations (made on first use)."""
        for key, token in self.tokens.items():
            if key not in self._bots:
                self._bots[key] = make_bot(token, self.settings.telegram_api_base)
        return self._bots

    @property
    def default_bot(self) -> Bot:
        return self.bots[self.default_bot_id]

    def add_bot(self, token: str) -> Bot:
        """A school's own bot (a larger region is served by several, each with its own rate)."""
        self.use_bots([token])
        return self.bots[bot_id(token)]

    def use_bots(self, tokens: Iterable[str]) -> None:
        """Add the bots schools configured (the dispatcher reads them from the roster)."""
        for token in tokens:
            self.tokens.setdefault(bot_id(token), token)

    async def start_link(self, code: str, *, bot_token: str | None = None) -> str:
        """The t.me link that opens the bot (a school's own, by its token) with this code."""
        token = bot_token or self.tokens[self.default_bot_id]
        self.use_bots([token])
        key = bot_id(token)
        if key not in self._usernames:
            try:
                me = await self.api.call(token, "getMe", {})
            except (BotApiError, OSError, TimeoutError, ValueError) as exc:
                raise TransientDelivery(f"telegram getMe failed ({type(exc).__name__})") from None
            self._usernames[key] = str(me.get("username") or "")
        return deep_link(self._usernames[key], code)

    def reachable(self, recipient: Recipient) -> bool:
        return bool(recipient.telegram_chat_id) and (
            (recipient.telegram_bot_id or self.default_bot_id) in self.tokens
        )

    async def send(
        self, recipient: Recipient, content: str, *, ref: str, now: datetime
    ) -> SendResult:
        key, token, chat_id = self._bot_and_chat(recipient)
        params = {"chat_id": chat_id, "text": content, **SEND_OPTIONS}
        async with self._slots(key, chat_id) as bucket:
            message = await self._call(bucket, lambda: self.api.call(token, "sendMessage", params))
        if not isinstance(message, dict) or "message_id" not in message:
            raise TransientDelivery("telegram answered without the message sent")
        return SendResult(provider_id=str(message["message_id"]))

    async def edit(
        self, recipient: Recipient, message_id: str, content: str, *, now: datetime
    ) -> SendResult:
        """Replace the text of a message the bot sent this chat (the day's card)."""
        key, token, chat_id = self._bot_and_chat(recipient)
        params = {
            "chat_id": chat_id,
            "message_id": int(message_id),
            "text": content,
            **SEND_OPTIONS,
        }
        try:
            async with self._slots(key, chat_id) as bucket:
                await self._call(bucket, lambda: self.api.call(token, "editMessageText", params))
        except PermanentDelivery as exc:
            # The card already says this (a mark changed and changed back): nothing to do.
            if NOT_MODIFIED not in exc.reason:
                raise
        return SendResult(provider_id=message_id)

    def _bot_and_chat(self, recipient: Recipient) -> tuple[str, str, int]:
        """The bot's id and token, and the chat id, of a guardian's linked chat."""
        if not recipient.telegram_chat_id:
            raise PermanentDelivery("guardian has no linked Telegram chat")
        key = recipient.telegram_bot_id or self.default_bot_id
        token = self.tokens.get(key)
        if token is None:
            raise PermanentDelivery("the bot this chat was linked through is not configured")
        return key, token, int(recipient.telegram_chat_id)

    @contextlib.asynccontextmanager
    async def _slots(self, key: str, chat_id: int) -> AsyncIterator[str]:
        """The chat's and the bot's rate slots for one call; yields the bot's bucket."""
        bucket = f"tg:bot:{key}"
        # A slot of interval or rate 0 is no limit (RateLimiter.slots).
        interval = self.settings.telegram_chat_interval_seconds
        async with self.limiter.slots(
            Limit(f"tg:chat:{key}:{chat_id}", 1, interval),
            Limit(bucket, *per_second(self.settings.telegram_rate_per_second)),
        ):
            yield bucket

    async def _call(self, bucket: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except BotApiError as exc:
            raise await self._refused(bucket, exc) from None
        except (OSError, TimeoutError, ValueError) as exc:
            # A dropped connection, a timeout, a proxy's HTML error page: later.
            raise TransientDelivery(f"telegram {type(exc).__name__}") from None

    async def _refused(
        self, bucket: str, exc: BotApiError
    ) -> TransientDelivery | PermanentDelivery:
        text = _short(exc.description)
        if exc.code == 429:
            # Telegram slows the whole bot down, not one chat: every worker waits.
            wait = float(exc.retry_after or 1)
            await self.limiter.pause(bucket, wait)
            return TransientDelivery("telegram 429 flood control", retry_after=wait)
        if exc.code == 403:
            return PermanentDelivery(f"telegram 403 {text}", unusable=True)
        if exc.code == 400:
            dead = any(marker in text.lower() for marker in DEAD_CHAT)
            return PermanentDelivery(f"telegram 400 {text}", unusable=dead)
        # Telegram's own 5xx, a refused token (401), anything else: later.
        return TransientDelivery(f"telegram {exc.code} {text}")

    async def close(self) -> None:
        await self.api.close()
        for bot in self._bots.values():
            with contextlib.suppress(Exception):
                await bot.session.close()


def _short(text: str) -> str:
    return " ".join(text.split())[:200]
