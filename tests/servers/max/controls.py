"""The test side of the MAX server: programming faults and flood limits, feeding updates as a
user would, inspecting what arrived."""

from __future__ import annotations

import asyncio
import copy
import itertools
import math
import secrets
import time
from typing import Any

from tests.servers.max.records import (
    DEFAULT_FAULTS,
    ApiCall,
    CallbackAnswer,
    Edit,
    Fault,
    SentMessage,
    Subscription,
    WebhookDelivery,
    _FaultSlot,
    _StoredMessage,
)
from tests.servers.max.state import MaxState, now_ms

MAX_START_PAYLOAD = 128


class Controls(MaxState):
    """What a test does to the server (`MaxApiServer`); each takes the lock."""

    # -- programming ---------------------------------------------------------------------------

    def clear(self) -> None:
        """Forget records, the messages and their buttons, faults, flood limits, queued updates
        and subscriptions."""
        with self._lock:
            self._messages.clear()
            self._callbacks.clear()
            self.sent.clear()
            self.calls.clear()
            self.answers.clear()
            self.edits.clear()
            self.deliveries.clear()
            self._faults.clear()
            self._blocked.clear()
            self._missing_users.clear()
            self._missing_chats.clear()
            self._flood_per_second = self._flood_per_chat = None
            self._request_times.clear()
            self._updates.clear()
            self._subscriptions.clear()
            self._undelivered.clear()

    def fail_next(
        self,
        code: int,
        times: int = 1,
        *,
        user_id: int | None = None,
        chat_id: int | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> Fault:
        """The next `times` POST /messages (to `user_id` / `chat_id` only, if given) answer
        `code` with MAX's body for it: 429 too.many.requests, 500 internal.error,
        503 service.unavailable, … (`error` and `message` override the body's code and text).

        `chat_id` matches a user's dialog too: a send by ?user_id=U matches chat_id
        `dialog_chat_id(U)`. Note maxapi retries 502/503/504 itself (3 times, 1-2-4 s apart)
        unless its DefaultConnectionProperties say max_retries=0.
        """
        default_code, default_message = DEFAULT_FAULTS.get(code, ("error", f"Error {code}"))
        fault = Fault(
            status=code,
            code=error or default_code,
            message=message or default_message,
            user_id=user_id,
            chat_id=chat_id,
        )
        with self._lock:
            self._faults.append(_FaultSlot(fault, times))
        return fault

    def block(self, user_id: int) -> None:
        """The user stopped or blocked the bot: every send to them answers 403
        {"code": "chat.denied", "message": "error.dialog.suspended"} until `unblock`."""
        with self._lock:
            self._blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        with self._lock:
            self._blocked.discard(user_id)

    def missing(self, *, user_id: int | None = None, chat_id: int | None = None) -> None:
        """Sends to that user (or chat) answer 404 {"code": "chat.not.found", …} from now on:
        the account was deleted, or the chat never existed."""
        if user_id is None and chat_id is None:
            raise ValueError("missing() needs user_id= or chat_id=")
        with self._lock:
            if user_id is not None:
                self._missing_users.add(user_id)
            if chat_id is not None:
                self._missing_chats.add(chat_id)

    def set_flood_limits(
        self, per_second: int | None = None, per_chat_per_second: int | None = None
    ) -> None:
        """Answer 429 too.many.requests as MAX's rate limits would (off until called).

        `per_second`: requests of any method in a sliding second, bot-wide (MAX: 30).
        `per_chat_per_second`: accepted messages to one dialog or chat in a sliding second
        (MAX: 2). None switches that limit off.
        """
        with self._lock:
            self._flood_per_second = per_second
            self._flood_per_chat = per_chat_per_second
            self._request_times.clear()

    # -- updates, as users cause them ----------------------------------------------------------

    def bot_started(
        self,
        user_id: int,
        payload: str | None = None,
        *,
        name: str = "Мама",
        locale: str = "ru",
    ) -> dict[str, Any]:
        """The user opened the bot (by https://max.ru/<bot>?start=<payload> when `payload`);
        queue bot_started and return it. A user who had blocked the bot is unblocked.

        As MAX does, a deep-link payload over 128 characters is not passed: the update's
        payload is then null (the schema's "Deep linking" section).
        """
        if payload is not None and len(payload) > MAX_START_PAYLOAD:
            payload = None
        with self._lock:
            user = self._user(user_id, name, locale)
            self._blocked.discard(user_id)
            update: dict[str, Any] = {
                "update_type": "bot_started",
                "timestamp": now_ms(),
                "chat_id": self.dialog_chat_id(user_id),
                "user": user.as_json(),
                "payload": payload,
                "user_locale": user.locale,
            }
            return self._queue_update(update)

    def bot_stopped(self, user_id: int) -> dict[str, Any]:
        """The user stopped the bot: queue bot_stopped; sends to them answer 403 from now on."""
        with self._lock:
            user = self._user(user_id)
            self._blocked.add(user_id)
            update: dict[str, Any] = {
                "update_type": "bot_stopped",
                "timestamp": now_ms(),
                "chat_id": self.dialog_chat_id(user_id),
                "user": user.as_json(),
                "user_locale": user.locale,
            }
            return self._queue_update(update)

    def user_message(self, user_id: int, text: str, *, locale: str | None = None) -> dict[str, Any]:
        """The user wrote `text` in their dialog with the bot: queue message_created."""
        with self._lock:
            user = self._user(user_id, locale=locale)
            chat_id = self.dialog_chat_id(user_id)
            mid, seq = self._new_mid(chat_id)
            message = self._message_json(
                mid=mid,
                seq=seq,
                sender=user.as_json(),
                recipient={"chat_id": chat_id, "chat_type": "dialog", "user_id": self.bot_user_id},
                plain=text,
                markup=[],
                attachments=[],
                link=None,
            )
            self._messages[mid] = _StoredMessage(message, from_bot=False, user_id=user_id)
            update: dict[str, Any] = {
                "update_type": "message_created",
                "timestamp": message["timestamp"],
                "message": copy.deepcopy(message),
                "user_locale": user.locale,
            }
            return self._queue_update(update)

    def press(self, user_id: int, message_mid: str, payload: str) -> dict[str, Any]:
        """The user pressed the callback button with `payload` on the bot's message
        `message_mid`: queue message_callback (with a new callback_id) and return it."""
        with self._lock:
            stored = self._messages.get(message_mid)
            if stored is None or stored.deleted or not stored.from_bot:
                raise ValueError(f"No message {message_mid} from the bot to press a button on")
            if stored.user_id != user_id:
                raise ValueError(f"Message {message_mid} is not in user {user_id}'s dialog")
            payloads = [
                button.get("payload")
                for attachment in stored.message["body"].get("attachments") or []
                if attachment.get("type") == "inline_keyboard"
                for row in attachment["payload"]["buttons"]
                for button in row
                if button.get("type") == "callback"
            ]
            if payload not in payloads:
                raise ValueError(
                    f"Message {message_mid} has no callback button with payload {payload!r} "
                    f"(it has {payloads})"
                )
            user = self._user(user_id)
            callback_id = secrets.token_urlsafe(36)
            self._callbacks[callback_id] = (user_id, message_mid)
            update: dict[str, Any] = {
                "update_type": "message_callback",
                "timestamp": now_ms(),
                "callback": {
                    "timestamp": now_ms(),
                    "callback_id": callback_id,
                    "payload": payload,
                    "user": user.as_json(),
                },
                "message": copy.deepcopy(stored.message),
                "user_locale": user.locale,
            }
            return self._queue_update(update)

    def redeliver(self) -> int:
        """POST again every update a webhook did not answer 200 (MAX retries for 8 hours);
        return how many were sent again."""
        with self._lock:
            pending, self._undelivered = self._undelivered, []
            for subscription, update in pending:
                self._schedule_delivery(subscription, update)
        return len(pending)

    # -- inspecting ----------------------------------------------------------------------------

    @property
    def accepted(self) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if m.accepted]

    @property
    def rejected(self) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.sent if not m.accepted]

    @property
    def attempts(self) -> int:
        """POST /messages calls, rejected ones included."""
        with self._lock:
            return len(self.sent)

    @property
    def subscriptions(self) -> list[Subscription]:
        with self._lock:
            return list(self._subscriptions.values())

    @property
    def polls_waiting(self) -> int:
        """GET /updates calls now holding a long poll open."""
        with self._lock:
            return self._polls_waiting

    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued for long polling and not yet committed by a marker."""
        with self._lock:
            return [copy.deepcopy(u) for _, u in self._updates]

    def messages_to(self, user_id: int) -> list[SentMessage]:
        """Accepted messages to `user_id` (by ?user_id= or their dialog's chat_id), oldest
        first."""
        with self._lock:
            return [m for m in self.sent if m.accepted and m.recipient_user_id == user_id]

    def message(self, mid: str) -> dict[str, Any] | None:
        """The message as it is now (after edits and answers), None if unknown or deleted."""
        with self._lock:
            stored = self._messages.get(mid)
            if stored is None or stored.deleted:
                return None
            return copy.deepcopy(stored.message)

    def keyboard(self, mid: str) -> list[list[dict[str, Any]]] | None:
        """The inline keyboard the message shows now, if any."""
        message = self.message(mid)
        for attachment in (message or {}).get("body", {}).get("attachments") or []:
            if attachment.get("type") == "inline_keyboard":
                rows: list[list[dict[str, Any]]] = attachment["payload"]["buttons"]
                return rows
        return None

    def calls_to(self, method: str, path: str | None = None) -> list[ApiCall]:
        """Calls with HTTP `method` (and `path`, if given; "/messages/" matches every mid)."""
        wanted = method.upper()
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == wanted
                and (
                    path is None
                    or c.path == path
                    or (path.endswith("/") and c.path.startswith(path))
                )
            ]

    def answers_to(self, user_id: int) -> list[CallbackAnswer]:
        with self._lock:
            return [a for a in self.answers if a.user_id == user_id and a.status == 200]

    def edits_of(self, mid: str) -> list[Edit]:
        with self._lock:
            return [e for e in self.edits if e.mid == mid and e.status == 200]

    async def wait_for_messages(self, n: int, timeout: float = 10) -> list[SentMessage]:  # noqa: ASYNC109
        """Wait until at least `n` messages were accepted; return the accepted ones."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.accepted
            if len(got) >= n:
                return got
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {n} accepted messages within {timeout}s, got {len(got)} "
                    f"({self.attempts} attempts)"
                )
            await asyncio.sleep(0.02)

    async def wait_for_calls(
        self,
        method: str,
        path: str | None = None,
        n: int = 1,
        timeout: float = 10,  # noqa: ASYNC109
    ) -> list[ApiCall]:
        """Wait until `method` `path` was called at least `n` times."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.calls_to(method, path)
            if len(got) >= n:
                return got
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {n} {method} {path or ''} calls within {timeout}s, got {len(got)}"
                )
            await asyncio.sleep(0.02)

    async def wait_for_poll(self, timeout: float = 10) -> None:  # noqa: ASYNC109
        """Wait until a GET /updates holds a long poll open (the bot is polling). Polls are
        in `calls` only once answered."""
        deadline = time.monotonic() + timeout
        while self.polls_waiting == 0:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no long poll was open within {timeout}s")
            await asyncio.sleep(0.01)

    async def wait_for_deliveries(self, n: int, timeout: float = 10) -> list[WebhookDelivery]:  # noqa: ASYNC109
        """Wait until at least `n` webhook POSTs finished (answered or failed)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                got = list(self.deliveries)
            if len(got) >= n:
                return got
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"expected {n} webhook deliveries within {timeout}s, got {len(got)}"
                )
            await asyncio.sleep(0.02)

    def max_per_second(self) -> int:
        """The most accepted messages in any sliding 1-second window."""
        times = sorted(m.at for m in self.accepted)
        best = start = 0
        for end, t in enumerate(times):
            while t - times[start] >= 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

    def min_gap_per_chat(self) -> float:
        """The shortest time between two accepted messages to one dialog or chat (inf if
        none)."""
        by_chat: dict[int | None, list[float]] = {}
        with self._lock:
            for m in self.sent:
                if m.accepted:
                    by_chat.setdefault(self._chat_of(m), []).append(m.at)
        gap = math.inf
        for times in by_chat.values():
            times.sort()
            for a, b in itertools.pairwise(times):
                gap = min(gap, b - a)
        return gap
