"""MAX (max.ru): delivery through the MAX Bot API (HTML format, channels/max_api.py), rate-limited
in Redis like Telegram: the bot's requests per second, and at most 2 messages a second to one
user. The bots' maxapi Bot is made when a bot asks for it (a process that only delivers never
imports maxapi)."""

from __future__ import annotations

import contextlib
import html
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from notifier.channels.base import Messenger, Recipient, SendResult
from notifier.channels.max_api import MaxApiSession, MaxRefused
from notifier.channels.ratelimit import Limit, RateLimiter, per_second
from notifier.channels.tls import ssl_context, untrusted
from notifier.config import Settings
from notifier.errors import PermanentDelivery, TransientDelivery

if TYPE_CHECKING:
    from aiohttp import TCPConnector
    from maxapi import Bot

T = TypeVar("T")

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/max/webhook"  # where the API takes the MAX bot's updates (bots/max)
# maxapi refuses a text of 4,000 characters or more before sending (MAX's limit is 4,000); the
# bots send through it, and delivery keeps to the same limit.
TEXT_LIMIT = 3999
# The error codes MAX answers for a user who blocked the bot or a dialog that is gone: the
# address is dead until the parent links again.
DEAD_CHAT = ("chat.denied", "chat.not.found", "dialog.suspended", "user.not.found", "blocked")
UNTRUSTED = (
    "MAX's certificate is not trusted on this machine: it chains to the Russian Trusted Root CA. "
    "Download it (https://www.gosuslugi.ru/crt) and set NOTIFIER_MAX_CA_FILE to the PEM file"
)
_TAG = re.compile(r"<[^>]+>")
BOT_BUCKET = "max:bot"  # the bot's rate slots, and its pause when MAX says 429


def fit(text: str) -> str:
    """MAX HTML within MAX's length. A longer text loses its markup and is cut with an
    ellipsis: a cut through a tag would be refused, and the words matter more than the bold."""
    if len(text) <= TEXT_LIMIT:
        return text
    plain = html.unescape(_TAG.sub("", text))
    keep = TEXT_LIMIT - 1
    while len(escaped := html.escape(plain[:keep].rstrip(), quote=False) + "…") > TEXT_LIMIT:
        keep -= len(escaped) - TEXT_LIMIT  # each escape adds characters: take that many off
    return escaped


def make_bot(settings: Settings) -> Bot:
    """maxapi's Bot for the bot's conversations (bots/max/), our token and API base. maxapi
    retries 5xx itself with sleeps; we do not let it: a bot's answer that failed is not worth a
    held handler. Its connector (built on first use, in the running loop) trusts what
    `ssl_context` says."""
    from maxapi import Bot
    from maxapi.client.default import DefaultConnectionProperties
    from maxapi.enums.parse_mode import TextFormat

    assert settings.max_token is not None
    bot = Bot(
        token=settings.max_token.get_secret_value(),
        format=TextFormat.HTML,
        disable_link_preview=True,
        auto_requests=False,
        auto_check_subscriptions=False,
        default_connection=DefaultConnectionProperties(timeout=30, max_retries=0),
    )
    bot.set_api_url(settings.max_api_base)
    return bot


class MaxChannel:
    name = "max"
    messenger = Messenger.max

    def __init__(self, settings: Settings, limiter: RateLimiter) -> None:
        assert settings.max_token is not None
        self.settings = settings
        self.limiter = limiter
        self.api = MaxApiSession(
            settings.max_api_base, settings.max_token.get_secret_value(), settings.max_ca_file
        )
        self._bot: Bot | None = None
        self._connector: TCPConnector | None = None
        self._username: str | None = None

    def client(self) -> Bot:
        """maxapi's Bot for the bots (one per process, made on first use), its connector
        trusting NOTIFIER_MAX_CA_FILE."""
        from aiohttp import TCPConnector

        if self._bot is None:
            self._bot = make_bot(self.settings)
        if self._connector is None or self._connector.closed:
            self._connector = TCPConnector(ssl=ssl_context(self.settings.max_ca_file))
            self._bot.default_connection.kwargs["connector"] = self._connector
        return self._bot

    async def username(self) -> str:
        """The bot's name in its max.ru links (asked once per process)."""
        if self._username is None:
            name = await self._call(BOT_BUCKET, self.api.username)
            if name is None:
                raise TransientDelivery("MAX: the bot has no username; set one in MAX for partners")
            self._username = name
        return self._username

    async def start_link(self, code: str, *, bot_token: str | None = None) -> str:
        """https://max.ru/<bot>?start=<code>: opens the bot, which gets `bot_started` with it."""
        from maxapi.utils.deep_linking import create_start_link

        return create_start_link(await self.username(), code)

    def reachable(self, recipient: Recipient) -> bool:
        return bool(recipient.max_user_id)

    async def send(
        self, recipient: Recipient, content: str, *, ref: str, now: datetime
    ) -> SendResult:
        user = self._user(recipient)
        text = fit(content)
        async with self._slots(user) as bucket:
            mid = await self._call(bucket, lambda: self.api.send_text(user, text))
        if mid is None:
            raise TransientDelivery("MAX answered without the message sent")
        return SendResult(provider_id=mid)

    async def edit(
        self, recipient: Recipient, message_id: str, content: str, *, now: datetime
    ) -> SendResult:
        """Replace the text of a message the bot sent this user (the day's card), silently."""
        user = self._user(recipient)
        text = fit(content)
        async with self._slots(user) as bucket:
            await self._call(bucket, lambda: self.api.edit_text(message_id, text))
        return SendResult(provider_id=message_id)

    @staticmethod
    def _user(recipient: Recipient) -> int:
        if not recipient.max_user_id:
            raise PermanentDelivery("guardian has no linked MAX chat")
        return int(recipient.max_user_id)

    @contextlib.asynccontextmanager
    async def _slots(self, user: int) -> AsyncIterator[str]:
        """The user's and the bot's rate slots for one call; yields the bot's bucket."""
        bucket = BOT_BUCKET
        # A slot of interval or rate 0 is no limit (RateLimiter.slots).
        interval = self.settings.max_chat_interval_seconds
        async with self.limiter.slots(
            Limit(f"max:chat:{user}", 1, interval),
            Limit(bucket, *per_second(self.settings.max_rate_per_second)),
        ):
            yield bucket

    async def _call(self, bucket: str, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except MaxRefused as exc:
            raise await self._refused(bucket, exc) from None
        except TimeoutError:
            raise TransientDelivery("MAX timeout") from None
        except OSError as exc:  # before ValueError: ssl's certificate error is both
            if untrusted(exc):
                # Retrying cannot help until someone installs the CA: the message goes by the
                # next channel, and the log says what to do.
                log.error("max.certificate_untrusted", extra={"hint": UNTRUSTED})
                raise PermanentDelivery(UNTRUSTED) from None
            raise TransientDelivery(f"MAX connection failed ({type(exc).__name__})") from None
        except ValueError:
            # A proxy's page, or a cut answer: later.
            raise TransientDelivery("MAX answered something else than its API's JSON") from None

    async def _refused(self, bucket: str, exc: MaxRefused) -> TransientDelivery | PermanentDelivery:
        if exc.status == 401:
            return TransientDelivery("MAX 401: the token was refused; check NOTIFIER_MAX_TOKEN")
        if exc.status == 429:
            # MAX slows the whole bot down: every worker waits a second before its next send.
            await self.limiter.pause(bucket, 1.0)
            return TransientDelivery("MAX 429 too many requests", retry_after=1)
        if exc.status >= 500:
            return TransientDelivery(f"MAX {exc.status} {exc.code}")
        dead = exc.status in (403, 404) or any(marker in exc.code.lower() for marker in DEAD_CHAT)
        return PermanentDelivery(f"MAX {exc.status} {exc.code}", unusable=dead)

    async def close(self) -> None:
        await self.api.close()
        if self._bot is not None:
            with contextlib.suppress(Exception):
                await self._bot.close_session()
        if self._connector is not None:
            with contextlib.suppress(Exception):
                await self._connector.close()
