"""The MAX Bot API methods the server knows, checked as MAX checks them (paths and bodies of
github.com/max-messenger/api-schema; limits and texts of dev.max.ru/docs-api)."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.servers.max.params import j_list, j_object, j_str, only_fields, q_bool, q_int, q_required
from tests.servers.max.records import (
    ANSWER_EMPTY,
    CALLBACK_INVALID,
    DIALOG_SUSPENDED,
    WEBHOOK_ACTIVE,
    CallbackAnswer,
    Edit,
    SentMessage,
    Subscription,
    UpdateType,
    _ApiError,
    _StoredMessage,
    bad_request,
    chat_not_found,
    not_found,
)
from tests.servers.max.state import Composed, MaxState, now_ms

_SECRET = re.compile(r"[A-Za-z0-9_-]{5,256}")
_MID = re.compile(r"(mid\.)?[A-Za-z0-9_-]+")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
_UPDATE_TYPES = frozenset(UpdateType)


@dataclass
class ApiRequest:
    """A request as the methods see it: query parameters, the parsed JSON body, path parts."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    parts: dict[str, str] = field(default_factory=dict)


Handler = Callable[[ApiRequest], Awaitable[dict[str, Any]] | dict[str, Any]]


class Methods(MaxState):
    """One handler per MAX method (`MaxApiServer` routes to them)."""

    def _routes(self) -> list[tuple[re.Pattern[str], dict[str, Handler]]]:
        return [
            (re.compile(r"/me"), {"GET": self._get_me}),
            (re.compile(r"/me/commands"), {"PATCH": self._set_commands}),
            (re.compile(r"/chats/(?P<chat_id>-?\d+)"), {"GET": self._get_chat}),
            (
                re.compile(r"/messages"),
                {
                    "POST": self._send_message,
                    "PUT": self._edit_message,
                    "DELETE": self._delete_message,
                },
            ),
            (re.compile(r"/messages/(?P<mid>[^/]+)"), {"GET": self._get_message}),
            (re.compile(r"/answers"), {"POST": self._answer}),
            (re.compile(r"/updates"), {"GET": self._get_updates}),
            (
                re.compile(r"/subscriptions"),
                {
                    "GET": self._get_subscriptions,
                    "POST": self._subscribe,
                    "DELETE": self._unsubscribe,
                },
            ),
        ]

    # -- bots and chats ------------------------------------------------------------------------

    def _get_me(self, request: ApiRequest) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "description": None,
            "avatar_url": None,
            "full_avatar_url": None,
            "commands": self.commands or None,
        }

    def _set_commands(self, request: ApiRequest) -> dict[str, Any]:
        """PATCH /me/commands: the bot's menu, {"commands": [{"name", "description"}]}, at most
        32; names of Latin letters, digits and _ (1-64), descriptions up to 128 characters."""
        body = request.body
        if not isinstance(body, dict) or set(body) != {"commands"}:
            raise bad_request('Body must be {"commands": [...]}')
        commands = body["commands"]
        if not isinstance(commands, list) or len(commands) > 32:
            raise bad_request("commands: a list of at most 32 commands")
        for n, command in enumerate(commands):
            if not isinstance(command, dict) or not set(command) <= {"name", "description"}:
                raise bad_request(f"commands[{n}]: only name and description are allowed")
            name, description = command.get("name"), command.get("description")
            if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", name):
                raise bad_request(f"commands[{n}].name: 1-64 Latin letters, digits or _")
            if description is not None and (
                not isinstance(description, str) or len(description) > 128
            ):
                raise bad_request(f"commands[{n}].description: a text of at most 128 characters")
        with self._lock:
            self.commands = [dict(c) for c in commands]
        return {**self._get_me(request), "commands": self.commands}

    def _get_chat(self, request: ApiRequest) -> dict[str, Any]:
        chat_id = int(request.parts["chat_id"])
        user_id = self.dialog_user(chat_id)
        with self._lock:
            user = self._users.get(user_id) if user_id is not None else None
            if user is None or user_id in self._missing_users or chat_id in self._missing_chats:
                raise chat_not_found(chat_id)
            return {
                "chat_id": chat_id,
                "type": "dialog",
                "status": "suspended" if user.user_id in self._blocked else "active",
                "title": None,
                "icon": None,
                "last_event_time": now_ms(),
                "participants_count": 2,
                "is_public": False,
                "link": None,
                "description": None,
                "dialog_with_user": user.as_json(),
            }

    # -- messages ------------------------------------------------------------------------------

    def _record_send(
        self,
        request: ApiRequest,
        at: float,
        status: int,
        *,
        composed: Composed | None = None,
        recipient_user_id: int | None = None,
        mid: str | None = None,
        err: _ApiError | None = None,
    ) -> None:
        """Add the POST /messages to `sent` (the caller holds the lock)."""
        body = request.body if isinstance(request.body, dict) else {}
        text = body.get("text") if isinstance(body.get("text"), str) else None
        fmt = body.get("format") if isinstance(body.get("format"), str) else None
        attachments = body.get("attachments")

        def as_int(name: str) -> int | None:
            try:
                return int(request.query[name])
            except (KeyError, ValueError):
                return None

        def as_bool(name: str) -> bool | None:
            raw = request.query.get(name)
            return None if raw is None else raw.lower() == "true"

        self.sent.append(
            SentMessage(
                user_id=as_int("user_id"),
                chat_id=as_int("chat_id"),
                text=text,
                format=fmt,
                plain=composed.plain if composed is not None and status == 200 else "",
                attachments=copy.deepcopy(attachments) if isinstance(attachments, list) else [],
                keyboard=composed.keyboard if composed is not None else None,
                status=status,
                at=at,
                mid=mid,
                recipient_user_id=recipient_user_id,
                error=err.code if err else None,
                description=err.message if err else None,
                notify=body.get("notify") if isinstance(body.get("notify"), bool) else None,
                disable_link_preview=as_bool("disable_link_preview"),
                body=copy.deepcopy(body),
            )
        )

    def _send_message(self, request: ApiRequest) -> dict[str, Any]:
        at = time.monotonic()
        composed: Composed | None = None
        target_user: int | None = None
        with self._lock:
            try:
                user_id = q_int(request.query, "user_id")
                chat_id = q_int(request.query, "chat_id")
                if user_id is None and chat_id is None:
                    raise bad_request("Missing required parameter: user_id or chat_id")
                if user_id is not None and chat_id is not None:
                    raise bad_request("Pass either user_id or chat_id, not both")
                q_bool(request.query, "disable_link_preview")
                target_user = user_id if user_id is not None else self.dialog_user(chat_id or 0)
                target_chat = chat_id if chat_id is not None else self.dialog_chat_id(user_id or 0)
                fault = self._take_fault(target_user, target_chat)
                if fault is not None:
                    raise fault
                self._flood_chat(target_chat, at)
                composed = self._compose(request.body)
                if composed.link is None or composed.link["type"] != "forward":
                    self._require_content(composed.plain, composed.attachments)
                if target_chat in self._missing_chats or target_user in self._missing_users:
                    raise chat_not_found(target_chat)
                if target_user in self._blocked:
                    raise _ApiError(403, "chat.denied", DIALOG_SUSPENDED)
            except _ApiError as err:
                self._record_send(
                    request,
                    at,
                    err.status,
                    composed=composed,
                    recipient_user_id=target_user,
                    err=err,
                )
                raise
            mid, seq = self._new_mid(target_chat)
            message = self._message_json(
                mid=mid,
                seq=seq,
                sender=self._bot_user(),
                recipient=self._recipient(target_user, target_chat),
                plain=composed.plain,
                markup=composed.markup,
                attachments=composed.attachments or [],
                link=composed.link,
            )
            self._messages[mid] = _StoredMessage(message, from_bot=True, user_id=target_user)
            self._record_send(
                request, at, 200, composed=composed, recipient_user_id=target_user, mid=mid
            )
            return {"message": copy.deepcopy(message)}

    def _bot_message(self, mid: str) -> _StoredMessage:
        """The stored message `mid` the bot sent, or MAX's error (the caller holds the lock)."""
        if not _MID.fullmatch(mid):
            raise bad_request(f"Invalid message_id: {mid}")
        stored = self._messages.get(mid)
        if stored is None or stored.deleted:
            raise not_found(f"Message {mid} not found")
        if not stored.from_bot:
            raise _ApiError(403, "access.denied", "The bot can change only its own messages")
        return stored

    def _apply(self, stored: _StoredMessage, composed: Composed) -> str:
        """Change a stored message as an edit with `composed` does; return its plain text.
        Absent text or attachments stay as they were; an empty attachments list removes
        them all (the docs of PUT /messages)."""
        body = stored.message["body"]
        plain = body.get("text") or ""
        if composed.text is not None:
            plain = composed.plain
        attachments = body.get("attachments") or []
        if composed.attachments is not None:
            attachments = [self._attachment_json(a, n) for n, a in enumerate(composed.attachments)]
        self._require_content(plain, attachments)
        if composed.text is not None:
            body["text"] = composed.plain
            body["markup"] = [m.as_json() for m in composed.markup]
        body["attachments"] = attachments
        return plain

    def _edit_message(self, request: ApiRequest) -> dict[str, Any]:
        at = time.monotonic()
        mid = request.query.get("message_id", "")
        with self._lock:
            try:
                q_required(request.query, "message_id")
                stored = self._bot_message(mid)
                composed = self._compose(request.body)
                if composed.text is None and composed.attachments is None:
                    raise bad_request("Nothing to change: give text or attachments")
                plain = self._apply(stored, composed)
            except _ApiError as err:
                self.edits.append(
                    Edit(mid, _dict(request.body), err.status, "put", at, "", err.code, err.message)
                )
                raise
            self.edits.append(Edit(mid, _dict(request.body), 200, "put", at, plain))
        return {"success": True}

    def _delete_message(self, request: ApiRequest) -> dict[str, Any]:
        mid = q_required(request.query, "message_id")
        with self._lock:
            stored = self._bot_message(mid)
            stored.deleted = True
        return {"success": True}

    def _get_message(self, request: ApiRequest) -> dict[str, Any]:
        mid = request.parts["mid"]
        with self._lock:
            stored = self._messages.get(mid)
            if stored is None or stored.deleted:
                raise not_found(f"Message {mid} not found")
            return copy.deepcopy(stored.message)

    # -- callbacks -----------------------------------------------------------------------------

    def _answer(self, request: ApiRequest) -> dict[str, Any]:
        at = time.monotonic()
        callback_id = request.query.get("callback_id", "")
        notification: str | None = None
        message: Any = None
        with self._lock:
            known = self._callbacks.get(callback_id)
            try:
                q_required(request.query, "callback_id")
                q_bool(request.query, "disable_link_preview")
                body = j_object(request.body if request.body is not None else {}, "CallbackAnswer")
                only_fields(body, frozenset({"message", "notification"}), "CallbackAnswer")
                notification = j_str(body, "notification", "CallbackAnswer")
                message = body.get("message")
                if message is None and not notification:
                    raise bad_request(ANSWER_EMPTY)
                if known is None:
                    raise bad_request(CALLBACK_INVALID)
                if message is not None:
                    composed = self._compose(message, "CallbackAnswer.message")
                    stored = self._messages.get(known[1])
                    if stored is not None and not stored.deleted:
                        plain = self._apply(stored, composed)
                        self.edits.append(Edit(known[1], _dict(message), 200, "answer", at, plain))
            except _ApiError as err:
                self.answers.append(
                    CallbackAnswer(
                        callback_id,
                        known[0] if known else None,
                        known[1] if known else None,
                        notification,
                        _dict(message) or None,
                        err.status,
                        at,
                        err.code,
                        err.message,
                    )
                )
                raise
            self.answers.append(
                CallbackAnswer(
                    callback_id, known[0], known[1], notification, _dict(message) or None, 200, at
                )
            )
        return {"success": True}

    # -- updates -------------------------------------------------------------------------------

    async def _get_updates(self, request: ApiRequest) -> dict[str, Any]:
        limit = q_int(request.query, "limit", default=100, low=1, high=1000) or 100
        timeout = q_int(request.query, "timeout", default=30, low=0, high=90) or 0
        marker = q_int(request.query, "marker")
        types = self._types(request.query.get("types"))
        with self._lock:
            if self._subscriptions:
                raise _ApiError(405, "method.not.allowed", WEBHOOK_ACTIVE)
            if marker is not None:
                # Every update before the marker is committed: MAX forgets it.
                while self._updates and self._updates[0][0] < marker:
                    self._updates.popleft()
            batch, next_marker = self._take(limit, types, marker)
        if batch or timeout == 0:
            return {"updates": batch, "marker": next_marker}
        event = self._updates_event
        assert event is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        with self._lock:
            self._polls_waiting += 1
        try:
            while True:
                event.clear()
                with self._lock:
                    batch, next_marker = self._take(limit, types, marker)
                    if batch or self._closing or self._subscriptions:
                        return {"updates": batch, "marker": next_marker}
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return {"updates": [], "marker": next_marker}
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    pass
        finally:
            with self._lock:
                self._polls_waiting -= 1

    @staticmethod
    def _types(raw: str | None) -> frozenset[str] | None:
        if not raw:
            return None
        types = frozenset(t.strip() for t in raw.split(",") if t.strip())
        unknown = sorted(types - _UPDATE_TYPES)
        if unknown:
            raise bad_request(f"Unknown update type '{unknown[0]}' in types")
        return types or None

    def _take(
        self, limit: int, types: frozenset[str] | None, marker: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        """Up to `limit` uncommitted updates of `types`, and the marker that commits every
        update looked at (those of other types included)."""
        batch: list[dict[str, Any]] = []
        last: int | None = None
        for seq, update in self._updates:
            if marker is not None and seq < marker:
                continue
            if len(batch) >= limit:
                break
            last = seq
            if types is None or update["update_type"] in types:
                batch.append(copy.deepcopy(update))
        if last is not None:
            return batch, last + 1
        return batch, self._next_marker if marker is None else max(marker, self._next_marker)

    # -- webhook subscriptions -----------------------------------------------------------------

    def _get_subscriptions(self, request: ApiRequest) -> dict[str, Any]:
        with self._lock:
            return {"subscriptions": [s.as_json() for s in self._subscriptions.values()]}

    def _subscribe(self, request: ApiRequest) -> dict[str, Any]:
        body = j_object(request.body, "SubscriptionRequestBody")
        only_fields(body, frozenset({"url", "update_types", "secret"}), "SubscriptionRequestBody")
        url = j_str(body, "url", "SubscriptionRequestBody")
        if not url:
            raise bad_request("Missing required parameter: url")
        parts = urlsplit(url)
        local = parts.scheme == "http" and parts.hostname in _LOOPBACK
        if (parts.scheme != "https" and not local) or not parts.hostname:
            raise bad_request(
                f"Webhook URL {url!r} must be https://… (MAX delivers no webhooks over plain "
                "HTTP; this server allows http:// to 127.0.0.1 and localhost for tests)"
            )
        secret = j_str(body, "secret", "SubscriptionRequestBody")
        if secret is not None and not _SECRET.fullmatch(secret):
            raise bad_request(
                "Field 'secret' must be 5 to 256 characters of A-Z, a-z, 0-9, _ and -"
            )
        raw_types = body.get("update_types")
        update_types: list[str] | None = None
        if raw_types is not None:
            update_types = [str(t) for t in j_list(raw_types, "Field 'update_types'")]
            unknown = sorted(set(update_types) - _UPDATE_TYPES)
            if unknown:
                raise bad_request(f"Unknown update type '{unknown[0]}' in update_types")
            update_types = update_types or None
        with self._lock:
            # The same URL again replaces its subscription; another URL is one more (MAX keeps
            # every subscription until it is deleted).
            self._subscriptions[url] = Subscription(url, now_ms(), update_types, secret)
        self._call_soon(self._wake_pollers)
        return {"success": True}

    def _unsubscribe(self, request: ApiRequest) -> dict[str, Any]:
        url = q_required(request.query, "url")
        with self._lock:
            if self._subscriptions.pop(url, None) is None:
                return {"success": False, "message": f"No subscription for {url}"}
            self._undelivered = [(s, u) for s, u in self._undelivered if s.url != url]
        return {"success": True}


def _dict(value: Any) -> dict[str, Any]:
    return copy.deepcopy(value) if isinstance(value, dict) else {}
