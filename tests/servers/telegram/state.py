"""The Bot API server's state, and the helpers on it that the test side and the methods share
(the caller holds the lock)."""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from tests.servers.telegram.markup import HtmlParseError, _strip_text, parse_html
from tests.servers.telegram.params import _p_str
from tests.servers.telegram.records import (
    ApiCall,
    SentMessage,
    Webhook,
    _ApiError,
    _Fault,
    _StoredMessage,
)
from tests.servers.threaded import HOST, ThreadedAiohttpServer

if TYPE_CHECKING:
    from tests.servers.telegram.server import BotApiServer

MAX_TEXT_LENGTH = 4096


class BotState(ThreadedAiohttpServer):
    """The state of one bot's Bot API (see `BotApiServer`); every field behind `_lock`."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        username: str = "notifier_test_bot",
        *,
        first_name: str = "Школа: уведомления",
        strict_entities: bool = False,
        host: str = HOST,
    ) -> None:
        super().__init__(host)
        self.token = token
        self.username = username
        self.first_name = first_name
        self.strict_entities = strict_entities
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123456
        self.sent: list[SentMessage] = []
        self.calls: list[ApiCall] = []
        self.webhook: Webhook | None = None
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []
        self._blocked: dict[str, str] = {}
        self._missing: set[str] = set()
        self._flood_per_second: int | None = None
        self._flood_chat_interval: float | None = None
        self._flood_retry_after = 1
        self._updates: deque[dict[str, Any]] = deque()
        self._next_update_id = 100_000_001
        self._allowed_updates: list[str] | None = None
        self._next_message_id: dict[str, int] = {}
        self._messages: dict[tuple[str, int], _StoredMessage] = {}
        self._chats: dict[str, dict[str, Any]] = {}
        self._queries: set[str] = set()
        self._next_query = 4_611_686_018_427_387_905
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._poll_generation = 0
        self._polls_waiting = 0
        self._closing = False
        self._delegates: dict[str, BotApiServer] = {}
        self._updates_event: asyncio.Event | None = None
        self._methods = self._method_table()

    def serve_also(self, other: BotApiServer) -> None:
        """Answer `other`'s token here too (a second bot on the same API base), recording
        its calls in `other` (which need not be started; long polling is not delegated)."""
        self._delegates[other.token] = other

    # -- helpers on shared state (caller holds the lock) ---------------------------------

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def _remember_chat(self, chat_id: int, first_name: str, username: str | None) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "first_name": first_name, "type": "private"}
        if username:
            chat["username"] = username
        self._chats[str(chat_id)] = chat
        return chat

    def _chat(self, chat_id: int) -> dict[str, Any]:
        known = self._chats.get(str(chat_id))
        if known is not None:
            return dict(known)
        if chat_id < 0:
            kind = "supergroup" if str(chat_id).startswith("-100") else "group"
            return {"id": chat_id, "title": "Родители 5А", "type": kind}
        return {"id": chat_id, "first_name": "Мама", "type": "private"}

    def _new_message_id(self, chat_key: str) -> int:
        self._next_message_id[chat_key] = self._next_message_id.get(chat_key, 0) + 1
        return self._next_message_id[chat_key]

    def _queue_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, **payload}
        self._next_update_id += 1
        self._updates.append(update)
        self._call_soon(self._wake_pollers)
        return update

    def _wake_pollers(self) -> None:
        if self._updates_event is not None:
            self._updates_event.set()

    def _take_fault(self, chat_key: str) -> _Fault | None:
        for fault in self._faults:
            if fault.times > 0 and fault.chat_id in (None, chat_key):
                fault.times -= 1
                if fault.times == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _flood_check(self, chat_key: str, now: float) -> None:
        # Without flood limits nothing is read: a bench sends tens of thousands of messages
        # between clears, and a scan of them all at each send would make the server the bound.
        if self._flood_per_second is None and self._flood_chat_interval is None:
            return
        accepted = [m for m in self.sent if m.accepted]
        if self._flood_per_second is not None:
            recent = sum(1 for m in accepted if now - m.at < 1.0)
            if recent >= self._flood_per_second:
                retry = self._flood_retry_after
                raise _ApiError(429, f"Too Many Requests: retry after {retry}", retry)
        if self._flood_chat_interval is not None:
            last = max((m.at for m in accepted if m.chat_id == chat_key), default=None)
            if last is not None and now - last < self._flood_chat_interval:
                retry = self._flood_retry_after
                raise _ApiError(429, f"Too Many Requests: retry after {retry}", retry)

    def _chat_id(self, params: dict[str, Any]) -> int:
        raw = (_p_str(params, "chat_id") or "").strip()
        if not raw:
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if raw in self._missing:
            raise _ApiError(400, "Bad Request: chat not found")
        try:
            return int(raw)
        except ValueError:
            # "@username" works for public channels only; none exist here.
            raise _ApiError(400, "Bad Request: chat not found") from None

    def _formatted(
        self, params: dict[str, Any]
    ) -> tuple[str, str | None, str, list[dict[str, Any]]]:
        """(raw text, parse_mode, plain text, entities), validated as Telegram does."""
        text = _p_str(params, "text") or ""
        parse_mode = _p_str(params, "parse_mode") or None
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                plain, entities = parse_html(text, strict_entities=self.strict_entities)
            except HtmlParseError as exc:
                raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        elif mode in ("", "markdown", "markdownv2"):
            # Markdown is not checked; the text is taken as it is.
            plain, entities = text, []
        else:
            raise _ApiError(400, "Bad Request: unsupported parse_mode")
        plain, entities = _strip_text(plain, entities)
        if not plain:
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(plain) > MAX_TEXT_LENGTH:
            raise _ApiError(400, "Bad Request: message is too long")
        return text, parse_mode, plain, entities

    def _method_table(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[Any] | Any]]:
        """The Bot API methods by lower-case name (methods.py)."""
        raise NotImplementedError
