"""MAX (max.ru): maxapi's Bot as a client of the MAX Bot API (HTML format), rate-limited in
Redis like Telegram: the bot's requests per second, and at most 2 messages a second to one user."""

from __future__ import annotations

import contextlib
import html
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import ClientConnectorCertificateError, TCPConnector
from maxapi import Bot
from maxapi.client.default import DefaultConnectionProperties
from maxapi.enums.api_path import ApiPath
from maxapi.enums.http_method import HTTPMethod
from maxapi.enums.parse_mode import TextFormat
from maxapi.exceptions.max import InvalidToken, MaxApiError, MaxConnection
from maxapi.types.users import User
from maxapi.utils.deep_linking import create_start_link
from maxapi.utils.params import bool_to_query

from notifier.channels.base import Messenger, Recipient, SendResult
from notifier.channels.ratelimit import Limit, RateLimiter, per_second
from notifier.channels.tls import ssl_context
from notifier.config import Settings
from notifier.errors import PermanentDelivery, TransientDelivery

T = TypeVar("T")

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/max/webhook"  # where the API takes the MAX bot's updates (bots/max)
# maxapi refuses a text of 4,000 characters or more before sending (MAX's limit is 4,000).
TEXT_LIMIT = 3999
# The error codes MAX answers for a user who blocked the bot or a dialog that is gone: the
# address is dead until the parent links again.
DEAD_CHAT = ("chat.denied", "chat.not.found", "dialog.suspended", "user.not.found", "blocked")
UNTRUSTED = (
    "MAX's certificate is not trusted on this machine: it chains to the Russian Trusted Root CA. "
    "Download it (https://www.gosuslugi.ru/crt) and set NOTIFIER_MAX_CA_FILE to the PEM file"
)
_TAG = re.compile(r"<[^>]+>")


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
    """A maxapi Bot for our token and API base. maxapi retries 5xx itself with sleeps; we do
    not let it: a failed send goes back to the outbox, which backs off without holding a
    worker. Its connector (built on first use, in the running loop) trusts what
    `ssl_context` says."""
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
        self.settings = settings
        self.limiter = limiter
        self.bot = make_bot(settings)
        self._connector: TCPConnector | None = None
        self._username: str | None = None

    def client(self) -> Bot:
        """The maxapi Bot, its connector trusting NOTIFIER_MAX_CA_FILE (the bots use it too:
        one session per process)."""
        if self._connector is None or self._connector.closed:
            self._connector = TCPConnector(ssl=ssl_context(self.settings.max_ca_file))
            self.bot.default_connection.kwargs["connector"] = self._connector
        return self.bot

    async def username(self) -> str:
        """The bot's name in its max.ru links (asked once per process)."""
        if self._username is None:
            me = await self._call_me()
            if not me.username:
                raise TransientDelivery("MAX: the bot has no username; set one in MAX for partners")
            self._username = me.username
        return self._username

    async def _call_me(self) -> User:
        try:
            return await self.client().get_me()
        except MaxConnection as exc:
            raise _connection_error(exc) from None

    async def start_link(self, code: str, *, bot_token: str | None = None) -> str:
        """https://max.ru/<bot>?start=<code>: opens the bot, which gets `bot_started` with it."""
        return create_start_link(await self.username(), code)

    def reachable(self, recipient: Recipient) -> bool:
        return bool(recipient.max_user_id)

    async def send(
        self, recipient: Recipient, content: str, *, ref: str, now: datetime
    ) -> SendResult:
        user = self._user(recipient)
        text = fit(content)
        async with self._slots(user) as bucket:
            mid = await self._call(bucket, lambda: self._post(user, text))
        if mid is None:
            raise TransientDelivery("MAX answered without the message sent")
        return SendResult(provider_id=mid)

    async def _post(self, user: int, text: str) -> str | None:
        """The new message's id, from the request maxapi's send_message makes for a text (the
        bot's format, no link preview), its answer read as JSON. Not send_message itself: it
        builds a SendedMessage of the answer and binds the bot into each of its nested models,
        about 30 a message; that was a tenth of our CPU for a MAX message, rate slots
        included (bench/bot_send.py). maxapi's request still sends, and raises its own
        errors."""
        bot = self.client()
        params: dict[str, Any] = {**bot.params, "user_id": user}
        if bot.disable_link_preview is not None:
            params["disable_link_preview"] = bool_to_query(bot.disable_link_preview)
        body: dict[str, Any] = {"attachments": [], "text": text}
        if (text_format := bot.resolve_format(None)) is not None:
            body["format"] = text_format
        answer = await bot.request(
            HTTPMethod.POST, ApiPath.MESSAGES, params=params, json=body, is_return_raw=True
        )
        message = answer.get("message") if isinstance(answer, dict) else None
        message_body = message.get("body") if isinstance(message, dict) else None
        mid = message_body.get("mid") if isinstance(message_body, dict) else None
        return mid if isinstance(mid, str) and mid else None

    async def edit(
        self, recipient: Recipient, message_id: str, content: str, *, now: datetime
    ) -> SendResult:
        """Replace the text of a message the bot sent this user (the day's card), silently."""
        user = self._user(recipient)
        text = fit(content)
        async with self._slots(user) as bucket:
            await self._call(
                bucket,
                lambda: self.client().edit_message(message_id=message_id, text=text, notify=False),
            )
        return SendResult(provider_id=message_id)

    @staticmethod
    def _user(recipient: Recipient) -> int:
        if not recipient.max_user_id:
            raise PermanentDelivery("guardian has no linked MAX chat")
        return int(recipient.max_user_id)

    @contextlib.asynccontextmanager
    async def _slots(self, user: int) -> AsyncIterator[str]:
        """The user's and the bot's rate slots for one call; yields the bot's bucket."""
        bucket = "max:bot"
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
        except MaxApiError as exc:
            raise await self._api_error(bucket, exc) from None
        except MaxConnection as exc:
            raise _connection_error(exc) from None
        except InvalidToken:
            raise TransientDelivery(
                "MAX 401: the token was refused; check NOTIFIER_MAX_TOKEN"
            ) from None
        except TimeoutError:
            raise TransientDelivery("MAX timeout") from None

    async def _api_error(
        self, bucket: str, exc: MaxApiError
    ) -> TransientDelivery | PermanentDelivery:
        code = _error_code(exc)
        if exc.code == 429:
            # MAX slows the whole bot down: every worker waits a second before its next send.
            await self.limiter.pause(bucket, 1.0)
            return TransientDelivery("MAX 429 too many requests", retry_after=1)
        if exc.code >= 500:
            return TransientDelivery(f"MAX {exc.code} {code}")
        dead = exc.code in (403, 404) or any(marker in code.lower() for marker in DEAD_CHAT)
        return PermanentDelivery(f"MAX {exc.code} {code}", unusable=dead)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.bot.close_session()
        if self._connector is not None:
            with contextlib.suppress(Exception):
                await self._connector.close()


def _error_code(exc: MaxApiError) -> str:
    """MAX's error code (`chat.denied`…), never its message: that may quote the request."""
    raw = exc.raw
    code = raw.get("code") if isinstance(raw, dict) else None
    return str(code)[:80] if code else "error"


def _connection_error(exc: MaxConnection) -> TransientDelivery | PermanentDelivery:
    if isinstance(exc.__cause__, ClientConnectorCertificateError):
        # Retrying cannot help until someone installs the CA: the message goes by the next
        # channel, and the log says what to do.
        log.error("max.certificate_untrusted", extra={"hint": UNTRUSTED})
        return PermanentDelivery(UNTRUSTED)
    return TransientDelivery(f"MAX connection failed ({type(exc.__cause__).__name__})")
