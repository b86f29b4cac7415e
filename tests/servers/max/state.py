"""The MAX server's state, and the helpers on it that the test side and the methods share (the
caller holds the lock unless a helper says otherwise)."""

from __future__ import annotations

import asyncio
import copy
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.servers.max.markup import MarkupElement, MarkupError, parse, utf16_len
from tests.servers.max.params import j_bool, j_list, j_object, j_str, only_fields
from tests.servers.max.records import (
    FORWARD_WITH_TEXT,
    LINK_BUTTON_URL,
    TOO_MANY_REQUESTS,
    ApiCall,
    ButtonType,
    CallbackAnswer,
    Edit,
    SentMessage,
    Subscription,
    TextFormat,
    WebhookDelivery,
    _ApiError,
    _FaultSlot,
    _StoredMessage,
    bad_request,
)
from tests.servers.threaded import HOST, ThreadedAiohttpServer

# dev.max.ru/docs-api/objects/NewMessageBody: "до 4000 символов" (the schema: maxLength 4000).
MAX_TEXT_LENGTH = 4000
# dev.max.ru "Клавиатура в сообщениях": up to 210 buttons in 30 rows, 7 in a row, 3 in a row
# that holds a link, open_app, request_geo_location or request_contact button.
MAX_ROWS = 30
MAX_BUTTONS = 210
MAX_PER_ROW = 7
MAX_PER_WIDE_ROW = 3
WIDE_BUTTONS = frozenset(
    {ButtonType.LINK, ButtonType.OPEN_APP, ButtonType.REQUEST_GEO_LOCATION,
     ButtonType.REQUEST_CONTACT}
)  # fmt: skip
MAX_BUTTON_TEXT = 128
MAX_PAYLOAD = 1024  # callback and clipboard payloads
MAX_URL = 2048
MAX_OPEN_APP_PAYLOAD = 512
MAX_ATTACHMENTS = 12  # "общее ограничение — 12" (NewMessageBody)
# A user's dialog with the bot has a chat id of its own: stable per user, never equal to it.
DIALOG_BASE = 1_000_000_000_000

_BODY_FIELDS = frozenset({"text", "attachments", "link", "notify", "format"})
_ATTACHMENT_TYPES = frozenset(
    {"image", "video", "audio", "file", "sticker", "contact", "inline_keyboard", "location",
     "share"}
)  # fmt: skip
_BUTTON_FIELDS: dict[str, frozenset[str]] = {
    ButtonType.CALLBACK: frozenset({"type", "text", "payload", "intent"}),
    ButtonType.LINK: frozenset({"type", "text", "url"}),
    ButtonType.REQUEST_GEO_LOCATION: frozenset({"type", "text", "quick"}),
    ButtonType.REQUEST_CONTACT: frozenset({"type", "text"}),
    ButtonType.MESSAGE: frozenset({"type", "text"}),
    ButtonType.OPEN_APP: frozenset({"type", "text", "web_app", "contact_id", "payload"}),
    ButtonType.CLIPBOARD: frozenset({"type", "text", "payload"}),
}
_INTENTS = frozenset({"default", "positive", "negative"})


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _User:
    user_id: int
    name: str
    locale: str

    def as_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "first_name": self.name,
            "last_name": None,
            "name": self.name,
            "username": None,
            "is_bot": False,
            "last_activity_time": now_ms(),
        }


@dataclass
class Composed:
    """A NewMessageBody, checked: what the methods need of it."""

    text: str | None
    format: str | None
    plain: str
    markup: list[MarkupElement]
    attachments: list[dict[str, Any]] | None  # None: the field was absent or null
    keyboard: list[list[dict[str, Any]]] | None
    notify: bool | None
    link: dict[str, Any] | None


class MaxState(ThreadedAiohttpServer):
    """The state of one bot's MAX Bot API (see `MaxApiServer`); every field behind `_lock`."""

    def __init__(
        self,
        token: str = "max-test-token-f9LHodD0cOLW7qZQo5Yp4sWNbFSb7DnBL1K2N5O5vMYCShXQ",
        *,
        bot_user_id: int = 590_001,
        username: str = "notifier_test_bot",
        first_name: str = "Школа: уведомления",
        strict_markup: bool = True,
        host: str = HOST,
    ) -> None:
        super().__init__(host)
        self.token = token
        self.bot_user_id = bot_user_id
        self.username = username
        self.first_name = first_name
        self.strict_markup = strict_markup
        self.commands: list[dict[str, Any]] = []  # the menu PATCH /me/commands set
        # Set to trust a test CA when webhooks are https:// (e.g. trustme's); None: the system's.
        self.webhook_ssl_context: ssl.SSLContext | None = None
        self.sent: list[SentMessage] = []
        self.calls: list[ApiCall] = []
        self.answers: list[CallbackAnswer] = []
        self.edits: list[Edit] = []
        self.deliveries: list[WebhookDelivery] = []
        self._lock = threading.Lock()
        self._subscriptions: dict[str, Subscription] = {}
        self._faults: list[_FaultSlot] = []
        self._blocked: set[int] = set()
        self._missing_users: set[int] = set()
        self._missing_chats: set[int] = set()
        self._flood_per_second: int | None = None
        self._flood_per_chat: int | None = None
        self._request_times: deque[float] = deque()
        self._updates: deque[tuple[int, dict[str, Any]]] = deque()
        self._next_marker = 1_000_001
        self._users: dict[int, _User] = {}
        self._messages: dict[str, _StoredMessage] = {}
        self._callbacks: dict[str, tuple[int, str]] = {}
        self._next_message = 1
        self._next_seq = 115_400_000_000_000_001
        self._undelivered: list[tuple[Subscription, dict[str, Any]]] = []
        self._polls_waiting = 0
        self._closing = False
        self._updates_event: asyncio.Event | None = None
        # Made on the server loop (server.py).
        self._route_table: list[Any] = []
        self._deliveries_queue: asyncio.Queue[tuple[Subscription, dict[str, Any]]] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._deliverer: asyncio.Task[None] | None = None

    # -- people and chats ----------------------------------------------------------------------

    @staticmethod
    def dialog_chat_id(user_id: int) -> int:
        """The chat id of `user_id`'s dialog with the bot (what updates carry as chat_id)."""
        return DIALOG_BASE + user_id

    @staticmethod
    def dialog_user(chat_id: int) -> int | None:
        """The user whose dialog `chat_id` is, or None for a group chat's id."""
        return chat_id - DIALOG_BASE if chat_id > DIALOG_BASE else None

    def _bot_user(self) -> dict[str, Any]:
        return {
            "user_id": self.bot_user_id,
            "first_name": self.first_name,
            "last_name": None,
            "name": self.first_name,
            "username": self.username,
            "is_bot": True,
            "last_activity_time": now_ms(),
        }

    def _user(self, user_id: int, name: str | None = None, locale: str | None = None) -> _User:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = _User(user_id, name or "Мама", locale or "ru")
        if name is not None:
            user.name = name
        if locale is not None:
            user.locale = locale
        return user

    def _recipient(self, user_id: int | None, chat_id: int) -> dict[str, Any]:
        if user_id is not None:
            return {"chat_id": chat_id, "chat_type": "dialog", "user_id": user_id}
        return {"chat_id": chat_id, "chat_type": "chat", "user_id": None}

    def _new_mid(self, chat_id: int) -> tuple[str, int]:
        number = self._next_message
        self._next_message += 1
        seq = self._next_seq
        self._next_seq += 1
        return f"mid.{chat_id & 0xFFFFFFFFFFFFFFFF:016x}{number:016x}", seq

    # -- faults and flood control --------------------------------------------------------------

    def _take_fault(self, user_id: int | None, chat_id: int | None) -> _ApiError | None:
        for slot in self._faults:
            fault = slot.fault
            if fault.user_id is not None and fault.user_id != user_id:
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            slot.times -= 1
            if slot.times <= 0:
                self._faults.remove(slot)
            return _ApiError(fault.status, fault.code, fault.message)
        return None

    def _flood_gate(self, now: float) -> None:
        """The bot-wide limit: requests of any method in the last second."""
        limit = self._flood_per_second
        while self._request_times and now - self._request_times[0] >= 1.0:
            self._request_times.popleft()
        if limit is not None and len(self._request_times) >= limit:
            raise _ApiError(429, "too.many.requests", TOO_MANY_REQUESTS)
        self._request_times.append(now)

    def _flood_chat(self, chat_id: int, now: float) -> None:
        """MAX: "не более двух сообщений в секунду в один диалог, групповой чат или канал"."""
        limit = self._flood_per_chat
        if limit is None:
            return
        recent = sum(
            1 for m in self.sent if m.accepted and now - m.at < 1.0 and self._chat_of(m) == chat_id
        )
        if recent >= limit:
            raise _ApiError(429, "too.many.requests", TOO_MANY_REQUESTS)

    def _chat_of(self, message: SentMessage) -> int | None:
        if message.chat_id is not None:
            return message.chat_id
        if message.user_id is not None:
            return self.dialog_chat_id(message.user_id)
        return None

    # -- updates -------------------------------------------------------------------------------

    def _queue_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Hand `update` to the webhook subscriptions, or queue it for long polling."""
        kind = update["update_type"]
        if self._subscriptions:
            for subscription in self._subscriptions.values():
                wanted = subscription.update_types
                if wanted is None or kind in wanted:
                    self._schedule_delivery(subscription, copy.deepcopy(update))
            return update
        self._updates.append((self._next_marker, update))
        self._next_marker += 1
        self._call_soon(self._wake_pollers)
        return update

    def _wake_pollers(self) -> None:
        if self._updates_event is not None:
            self._updates_event.set()

    def _schedule_delivery(self, subscription: Subscription, update: dict[str, Any]) -> None:
        """POST `update` to the subscription's URL from the server loop (server.py)."""
        raise NotImplementedError

    # -- NewMessageBody ------------------------------------------------------------------------

    def _compose(self, body: Any, what: str = "NewMessageBody") -> Composed:
        """Check a NewMessageBody as MAX does; 400 with its error body when it would refuse."""
        body = j_object(body, what)
        only_fields(body, _BODY_FIELDS, what)
        text = j_str(body, "text", what)
        if text is not None and utf16_len(text) > MAX_TEXT_LENGTH:
            raise bad_request(
                f"Field 'text' size ({utf16_len(text)}) must be at most {MAX_TEXT_LENGTH}"
            )
        fmt = body.get("format")
        if fmt is not None and fmt not in (TextFormat.MARKDOWN, TextFormat.HTML):
            raise bad_request(f"Field 'format' value ({fmt}) must be one of: markdown, html")
        notify = j_bool(body, "notify", what)
        attachments, keyboard = self._attachments(body.get("attachments"))
        link = self._link(body.get("link"))
        try:
            plain, markup = parse(text or "", fmt, strict=self.strict_markup)
        except MarkupError as exc:
            raise bad_request(f"Text can't be parsed as {fmt}: {exc}") from None
        if link is not None and link["type"] == "forward" and text:
            raise bad_request(FORWARD_WITH_TEXT)
        return Composed(text, fmt, plain, markup, attachments, keyboard, notify, link)

    @staticmethod
    def _require_content(plain: str, attachments: list[dict[str, Any]] | None) -> None:
        if not plain.strip() and not attachments:
            raise bad_request(
                "Message is empty: give it text (up to 4000 characters) or attachments"
            )

    def _link(self, value: Any) -> dict[str, Any] | None:
        if value is None:
            return None
        link = j_object(value, "link")
        only_fields(link, frozenset({"type", "mid"}), "link")
        if link.get("type") not in ("forward", "reply"):
            raise bad_request("Field 'link.type' must be forward or reply")
        mid = link.get("mid")
        if not isinstance(mid, str) or mid not in self._messages:
            raise bad_request(f"Invalid message_id: {mid}")
        return {"type": link["type"], "mid": mid}

    def _attachments(
        self, value: Any
    ) -> tuple[list[dict[str, Any]] | None, list[list[dict[str, Any]]] | None]:
        if value is None:
            return None, None
        items = j_list(value, "Field 'attachments'")
        keyboard: list[list[dict[str, Any]]] | None = None
        files = 0
        for n, raw in enumerate(items):
            item = j_object(raw, f"attachments[{n}]")
            kind = item.get("type")
            if kind not in _ATTACHMENT_TYPES:
                raise bad_request(
                    f"Unknown attachment type {kind!r} in attachments[{n}]; MAX takes "
                    f"{', '.join(sorted(_ATTACHMENT_TYPES))}"
                )
            if kind == "location":
                only_fields(item, frozenset({"type", "latitude", "longitude"}), f"attachments[{n}]")
                if not all(isinstance(item.get(k), int | float) for k in ("latitude", "longitude")):
                    raise bad_request(f"attachments[{n}] needs numeric latitude and longitude")
                continue
            only_fields(item, frozenset({"type", "payload"}), f"attachments[{n}]")
            payload = j_object(item.get("payload"), f"attachments[{n}].payload")
            if kind == "inline_keyboard":
                if keyboard is not None:
                    raise bad_request("A message takes one inline_keyboard attachment")
                keyboard = self._keyboard(payload)
            files += kind == "file"
        media = [a for a in items if a.get("type") != "inline_keyboard"]
        if files and (files > 1 or len(media) > 1):
            raise bad_request("Must be only one file attachment in message")
        if len(media) > MAX_ATTACHMENTS:
            raise bad_request(f"A message takes at most {MAX_ATTACHMENTS} attachments")
        return [copy.deepcopy(a) for a in items], keyboard

    def _keyboard(self, payload: dict[str, Any]) -> list[list[dict[str, Any]]]:
        only_fields(payload, frozenset({"buttons"}), "inline_keyboard payload")
        rows = j_list(payload.get("buttons"), "Field 'buttons'")
        if not rows:
            raise bad_request("Field 'buttons' must have at least 1 row")
        if len(rows) > MAX_ROWS:
            raise bad_request(f"Keyboard has {len(rows)} rows; MAX allows at most {MAX_ROWS}")
        total = 0
        checked: list[list[dict[str, Any]]] = []
        for r, raw_row in enumerate(rows):
            row = j_list(raw_row, f"buttons[{r}]")
            if not row:
                raise bad_request(f"Keyboard row {r} is empty")
            kinds = [b.get("type") if isinstance(b, dict) else None for b in row]
            wide = any(k in WIDE_BUTTONS for k in kinds)
            limit = MAX_PER_WIDE_ROW if wide else MAX_PER_ROW
            if len(row) > limit:
                raise bad_request(
                    f"Keyboard row {r} has {len(row)} buttons; MAX allows at most {limit} in a "
                    f"row{' with link, open_app or request_* buttons' if wide else ''}"
                )
            total += len(row)
            checked.append([self._button(b, f"buttons[{r}][{c}]") for c, b in enumerate(row)])
        if total > MAX_BUTTONS:
            raise bad_request(f"Keyboard has {total} buttons; MAX allows at most {MAX_BUTTONS}")
        return checked

    @staticmethod
    def _button(raw: Any, where: str) -> dict[str, Any]:
        button = j_object(raw, where)
        kind = button.get("type")
        if kind not in _BUTTON_FIELDS:
            raise bad_request(
                f"Unknown button type {kind!r} at {where}; MAX takes "
                f"{', '.join(sorted(_BUTTON_FIELDS))}"
            )
        only_fields(button, _BUTTON_FIELDS[kind], f"{kind} button {where}")
        text = button.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_BUTTON_TEXT:
            raise bad_request(f"Button text at {where} must be 1 to {MAX_BUTTON_TEXT} characters")
        payload = button.get("payload")
        if kind in (ButtonType.CALLBACK, ButtonType.CLIPBOARD):
            if not isinstance(payload, str) or not 1 <= len(payload) <= MAX_PAYLOAD:
                raise bad_request(
                    f"Button payload at {where} must be 1 to {MAX_PAYLOAD} characters"
                )
            intent = button.get("intent")
            if intent is not None and intent not in _INTENTS:
                raise bad_request(f"Button intent at {where} must be default, positive or negative")
        elif kind == ButtonType.LINK:
            url = button.get("url")
            if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
                raise bad_request(LINK_BUTTON_URL)
            if len(url) > MAX_URL:
                raise bad_request(f"Button url at {where} is longer than {MAX_URL} characters")
        elif kind == ButtonType.REQUEST_GEO_LOCATION:
            if button.get("quick") is not None and not isinstance(button.get("quick"), bool):
                raise bad_request(f"Field 'quick' at {where} must be true or false")
        elif kind == ButtonType.OPEN_APP:
            if not button.get("web_app") and button.get("contact_id") is None:
                raise bad_request(f"open_app button at {where} needs web_app or contact_id")
            if payload is not None and (
                not isinstance(payload, str) or len(payload) > MAX_OPEN_APP_PAYLOAD
            ):
                raise bad_request(
                    f"open_app payload at {where} must be up to {MAX_OPEN_APP_PAYLOAD} characters"
                )
        return {k: v for k, v in button.items() if v is not None}

    # -- messages ------------------------------------------------------------------------------

    def _message_json(
        self,
        *,
        mid: str,
        seq: int,
        sender: dict[str, Any],
        recipient: dict[str, Any],
        plain: str,
        markup: list[MarkupElement],
        attachments: list[dict[str, Any]],
        link: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "mid": mid,
            "seq": seq,
            "text": plain,
            "attachments": [self._attachment_json(a, n) for n, a in enumerate(attachments)],
            "markup": [m.as_json() for m in markup],
        }
        message: dict[str, Any] = {
            "sender": sender,
            "recipient": recipient,
            "timestamp": now_ms(),
            "body": body,
        }
        if link is not None:
            linked = self._messages[link["mid"]].message
            message["link"] = {
                "type": link["type"],
                "sender": linked.get("sender"),
                "chat_id": linked["recipient"].get("chat_id"),
                "message": copy.deepcopy(linked["body"]),
            }
        return message

    @staticmethod
    def _attachment_json(attachment: dict[str, Any], n: int) -> dict[str, Any]:
        """The attachment as a Message carries it (an upload token becomes a media object)."""
        kind = attachment["type"]
        payload = attachment.get("payload") or {}
        token = payload.get("token") or f"tok{n:04d}"
        url = payload.get("url") or f"https://i.oneme.ru/i?r={token}"
        if kind == "inline_keyboard":
            return copy.deepcopy(attachment)
        if kind == "image":
            return {"type": "image", "payload": {"photo_id": 1000 + n, "token": token, "url": url}}
        if kind in ("video", "audio", "file"):
            out: dict[str, Any] = {"type": kind, "payload": {"url": url, "token": token}}
            if kind == "file":
                out.update(filename="file.pdf", size=1024)
            return out
        if kind == "sticker":
            sticker = {"url": url, "code": payload.get("code", "")}
            return {"type": "sticker", "payload": sticker, "width": 128, "height": 128}
        return copy.deepcopy(attachment)
